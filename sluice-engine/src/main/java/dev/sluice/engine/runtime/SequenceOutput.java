package dev.sluice.engine.runtime;

import dev.sluice.engine.sampling.Sampler;
import dev.sluice.engine.sampling.SamplingParams;
import dev.sluice.engine.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * The output side of one sequence: samples each next token from its logits and turns the tokens
 * into the listener's stream, deciding when the sequence stops. Shared by {@link Generator} (one
 * sequence) and the continuous-batching scheduler (many), so both stop and stream identically.
 *
 * <p>After each sampled token, in order: stop token ids (the request's and, unless
 * {@link SamplingParams#ignoreEos()}, the tokenizer's end-of-generation ids; the stop token is neither kept nor emitted), stop strings on the decoded
 * text (see {@link Generator.TextStream}), then {@code maxTokens}. Context limits and cancellation
 * are the caller's. Not thread-safe: one sequence, one thread at a time.
 */
public final class SequenceOutput {
    private final SamplingParams params;
    private final Sampler sampler;
    /** Stop token ids, sorted and distinct (an int array: no boxing per token). */
    private final int[] stopIds;
    private final Generator.TextStream text;
    private final Generator.Listener out;
    private int[] generated;
    private int nGen;
    private Generator.FinishReason finished;

    /**
     * @param tokenizer for text and stop strings; null for token-level output
     * @param prompt    read by the sampler's repetition penalty
     * @param listener  receives tokens and text; null to receive nothing
     */
    public SequenceOutput(Tokenizer tokenizer, SamplingParams params, int vocabSize, int[] prompt, Generator.Listener listener) {
        this.params = params;
        this.sampler = new Sampler(params, vocabSize, prompt);
        Set<Integer> stops = new HashSet<>(params.stopTokenIds());
        if (tokenizer != null && !params.ignoreEos()) stops.addAll(tokenizer.endOfGenerationIds());
        this.stopIds = stops.stream().mapToInt(Integer::intValue).sorted().toArray();
        this.text = tokenizer != null ? new Generator.TextStream(tokenizer, params) : null;
        this.out = listener != null ? listener : new Generator.Listener() {};
        this.generated = new int[Math.min(params.maxTokens(), 1024)];
    }

    /**
     * Samples the next token from {@code logits} and emits it.
     *
     * @return null to go on (the token is {@link #lastToken()}), or why the sequence stopped
     *         ({@link Generator.FinishReason#STOP} or {@link Generator.FinishReason#LENGTH} for {@code maxTokens})
     */
    public Generator.FinishReason accept(float[] logits) {
        if (finished != null) throw new IllegalStateException("sequence already finished: " + finished);
        Sampler.Sampled s = sampler.sample(logits);
        int token = s.token();
        if (Arrays.binarySearch(stopIds, token) >= 0) return finished = Generator.FinishReason.STOP;
        if (nGen == generated.length) generated = Arrays.copyOf(generated, Math.min(params.maxTokens(), nGen * 2));
        generated[nGen++] = token;
        out.onToken(token, s.logprob());
        if (text != null && text.append(token, out)) return finished = Generator.FinishReason.STOP;
        if (nGen >= params.maxTokens()) return finished = Generator.FinishReason.LENGTH;
        return null;
    }

    /** Ends the stream for {@code reason}: flushes held-back text unless a stop string ended it. Idempotent for the text. */
    public void finish(Generator.FinishReason reason) {
        finished = reason;
        if (text != null && !text.stopped()) text.flush(out);
    }

    /** The last token kept (the next one to run through the model). */
    public int lastToken() {
        return generated[nGen - 1];
    }

    /** Tokens kept so far. */
    public int count() {
        return nGen;
    }

    /** Copy of the tokens kept so far (stop token excluded). */
    public int[] tokens() {
        return Arrays.copyOf(generated, nGen);
    }

    /** Token {@code i} of those kept. */
    public int token(int i) {
        return generated[i];
    }

    /** Generated text without any stop string, or null without a tokenizer. */
    public String text() {
        return text != null ? text.text() : null;
    }
}
