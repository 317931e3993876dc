package dev.sluice.engine.runtime;

import dev.sluice.engine.kernels.Kernels;
import dev.sluice.engine.model.ModelLoader;
import dev.sluice.engine.model.ModelWeights;
import dev.sluice.engine.sampling.SamplingParams;
import dev.sluice.engine.sampling.TokenLogprob;
import dev.sluice.engine.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Generation loop on the tiny reference Llama (whose greedy continuation is known from
 * transformers) with a fake tokenizer that spells token {@code i} as {@code "<i>"}, plus
 * stop-string and UTF-8 streaming cases on the text stream directly.
 */
class GeneratorTest {
    /** Greedy continuation of the reference prompt, from expected.json. */
    private static final int[] GREEDY = {116, 116, 116, 116, 50, 82, 282, 279, 137, 8};
    private static final int[] PROMPT = {0, 72, 101, 258, 300, 44, 17, 319, 150, 2, 263, 99};
    private static ModelWeights weights;
    private static Transformer model;

    @BeforeAll
    static void load() throws Exception {
        weights = ModelLoader.load(ReferenceLogitsTest.referenceDir("llama"));
        model = new Transformer(weights, Kernels.create(), 128);
    }

    @AfterAll
    static void close() {
        weights.close();
    }

    /** Token i is the text "<i>"; tokens 400.. are raw bytes for UTF-8 tests; eos is 1. */
    static final class FakeTokenizer implements Tokenizer {
        @Override public int[] encode(String text, boolean addSpecial, boolean parseSpecial) { throw new UnsupportedOperationException(); }
        @Override public String decode(int[] ids) {
            StringBuilder sb = new StringBuilder();
            for (int id : ids) sb.append(new String(tokenBytes(id), StandardCharsets.UTF_8));
            return sb.toString();
        }
        @Override public byte[] tokenBytes(int id) {
            return id >= 400 ? new byte[] {(byte) (id - 400)} : ("<" + id + ">").getBytes(StandardCharsets.UTF_8);
        }
        @Override public String tokenText(int id) { return new String(tokenBytes(id), StandardCharsets.UTF_8); }
        @Override public int vocabSize() { return 320; }
        @Override public int bosId() { return 0; }
        @Override public int eosId() { return 1; }
        @Override public Set<Integer> endOfGenerationIds() { return Set.of(1); }
        @Override public boolean isSpecial(int id) { return id < 2; }
    }

    private static final class Collect implements Generator.Listener {
        final List<Integer> tokens = new ArrayList<>();
        final StringBuilder text = new StringBuilder();
        final List<TokenLogprob> logprobs = new ArrayList<>();

        @Override public void onToken(int token, TokenLogprob lp) {
            tokens.add(token);
            if (lp != null) logprobs.add(lp);
        }

        @Override public void onText(String delta) {
            assertThat(delta).isNotEmpty();
            text.append(delta);
        }
    }

    @Test
    void greedyGenerationStreamsTokensTextAndStats() {
        Collect c = new Collect();
        Generator.Result r = new Generator(model, new FakeTokenizer())
                .generate(PROMPT, SamplingParams.builder().temperature(0).maxTokens(10).logprobs(true).topLogprobs(3).build(), c, null);
        assertThat(r.tokens()).containsExactly(GREEDY);
        assertThat(c.tokens).containsExactly(java.util.Arrays.stream(GREEDY).boxed().toArray(Integer[]::new));
        assertThat(r.text()).isEqualTo("<116><116><116><116><50><82><282><279><137><8>");
        assertThat(c.text.toString()).isEqualTo(r.text());
        assertThat(r.finishReason()).isEqualTo(Generator.FinishReason.LENGTH);
        assertThat(c.logprobs).hasSize(10);
        assertThat(c.logprobs.get(0).top().get(0).token()).isEqualTo(116); // greedy picks the most likely
        GenerationStats s = r.stats();
        assertThat(s.prefillTokens()).isEqualTo(PROMPT.length);
        assertThat(s.decodeTokens()).isEqualTo(10);
        assertThat(s.summary()).matches("prefill: 12 tok, [0-9.]+ tok/s; decode: 10 tok, [0-9.]+ tok/s");
    }

    @Test
    void stopStringAcrossTokenBoundariesIsNotEmitted() {
        Collect c = new Collect();
        // "<116><50>" spans tokens 4 and 5; the held-back "<116>" must never reach the listener
        Generator.Result r = new Generator(model, new FakeTokenizer()).generate(PROMPT,
                SamplingParams.builder().temperature(0).maxTokens(20).stopStrings(List.of("6><50", "never")).build(), c, null);
        assertThat(r.finishReason()).isEqualTo(Generator.FinishReason.STOP);
        assertThat(r.text()).isEqualTo("<116><116><116><11");
        assertThat(c.text.toString()).isEqualTo(r.text());
        assertThat(r.tokens()).containsExactly(116, 116, 116, 116, 50);
    }

    @Test
    void stopTokenEndsGenerationAndIsNotReturned() {
        Generator.Result r = new Generator(model, new FakeTokenizer()).generate(PROMPT,
                SamplingParams.builder().temperature(0).maxTokens(20).stopTokenIds(Set.of(82)).build(), null, null);
        assertThat(r.finishReason()).isEqualTo(Generator.FinishReason.STOP);
        assertThat(r.tokens()).containsExactly(116, 116, 116, 116, 50);
        assertThat(r.text()).isEqualTo("<116><116><116><116><50>");
    }

    @Test
    void cancellationStopsBetweenSteps() {
        AtomicInteger polls = new AtomicInteger();
        Generator.Result r = new Generator(model, null).generate(PROMPT, SamplingParams.greedy(20), null, () -> polls.incrementAndGet() > 3);
        assertThat(r.finishReason()).isEqualTo(Generator.FinishReason.CANCELLED);
        assertThat(r.tokens()).hasSize(3);
        assertThat(r.text()).isNull();
    }

    @Test
    void cancelledBeforePrefillRunsNothing() {
        KVCache cache = model.newCache();
        Generator.Result r = new Generator(model, new FakeTokenizer()).generate(PROMPT, SamplingParams.greedy(5), null, () -> true, cache);
        assertThat(r.finishReason()).isEqualTo(Generator.FinishReason.CANCELLED);
        assertThat(r.tokens()).isEmpty();
        assertThat(r.text()).isEmpty();
        assertThat(cache.length()).isZero();
    }

    @Test
    void cachedPromptPrefixIsReused() {
        KVCache cache = model.newCache();
        Generator g = new Generator(model, null);
        g.generate(java.util.Arrays.copyOf(PROMPT, 8), SamplingParams.greedy(1), null, null, cache);
        assertThat(cache.length()).isEqualTo(8);
        Generator.Result r = g.generate(PROMPT, SamplingParams.greedy(10), null, null, cache);
        assertThat(r.stats().prefillTokens()).isEqualTo(PROMPT.length - 8);
        assertThat(r.tokens()).containsExactly(GREEDY);
    }

    @Test
    void contextLimitEndsWithLength() {
        Transformer small = new Transformer(weights, Kernels.create(), 15);
        Generator.Result r = new Generator(small, null).generate(PROMPT, SamplingParams.greedy(20), null, null);
        assertThat(r.finishReason()).isEqualTo(Generator.FinishReason.LENGTH);
        assertThat(r.tokens()).containsExactly(116, 116, 116, 116);
        assertThatThrownBy(() -> new Generator(new Transformer(weights, Kernels.create(), 12), null).generate(PROMPT, SamplingParams.greedy(1), null, null))
                .isInstanceOf(ContextOverflowException.class);
    }

    @Test
    void utf8SplitAcrossTokensIsEmittedWhole() {
        // "é" is C3 A9, "€" is E2 82 AC: fed one byte per token
        FakeTokenizer tok = new FakeTokenizer();
        Generator.TextStream ts = new Generator.TextStream(tok, SamplingParams.defaults());
        List<String> deltas = new ArrayList<>();
        Generator.Listener l = new Generator.Listener() {
            @Override public void onText(String d) { deltas.add(d); }
        };
        for (int b : new int[] {0xC3, 0xA9, 0xE2, 0x82, 0xAC, 'a'}) ts.append(400 + b, l);
        assertThat(deltas).containsExactly("é", "€", "a");
        ts.append(400 + 0xE2, l);
        ts.flush(l);
        assertThat(deltas.getLast()).isEqualTo("\uFFFD");
    }

    @Test
    void partialStopStringIsReleasedWhenItDoesNotMatch() {
        Generator.TextStream ts = new Generator.TextStream(new FakeTokenizer(), SamplingParams.builder().stopStrings(List.of("<9><9>")).build());
        StringBuilder out = new StringBuilder();
        Generator.Listener l = new Generator.Listener() {
            @Override public void onText(String d) { out.append(d); }
        };
        assertThat(ts.append(9, l)).isFalse();
        assertThat(out.toString()).isEmpty(); // "<9>" could start the stop string
        assertThat(ts.append(8, l)).isFalse();
        assertThat(out.toString()).isEqualTo("<9><8>");
        assertThat(ts.append(9, l)).isFalse();
        assertThat(ts.append(9, l)).isTrue();
        assertThat(out.toString()).isEqualTo("<9><8>");
        assertThat(ts.text()).isEqualTo("<9><8>");
    }
}
