package dev.sluice.server.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.inference.GenerationListener;
import dev.sluice.server.inference.GenerationOptions;
import dev.sluice.server.inference.InferenceModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The load generator against a fake-model server whose timing and token counts are known. */
class ServeBenchmarkTest {
    /** One token per word; replies {@code max_tokens} tokens, one every {@link #STEP_MS} ms, after a prefill of {@link #PREFILL_MS}. */
    static final class WordModel implements InferenceModel {
        final String id;
        final boolean flaky;
        final AtomicInteger generations = new AtomicInteger();
        final AtomicInteger maxConcurrent = new AtomicInteger();
        final AtomicInteger running = new AtomicInteger();
        final List<Integer> promptLengths = java.util.Collections.synchronizedList(new ArrayList<>());
        /** {@code ignore_eos} of each request, as the server parsed it. */
        final List<Boolean> ignoreEos = java.util.Collections.synchronizedList(new ArrayList<>());

        WordModel(String id, boolean flaky) {
            this.id = id;
            this.flaky = flaky;
        }

        @Override public String id() { return id; }
        @Override public long created() { return 0; }
        @Override public int contextLength() { return 4096; }

        @Override
        public ChatPrompt encodeChat(List<Map<String, Object>> messages, List<Map<String, Object>> tools, Map<String, Object> templateVars) {
            String text = "user: " + messages.getLast().get("content");
            return new ChatPrompt(text, tokenize(text, false, false));
        }

        @Override
        public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
            return text.isBlank() ? new int[0] : new int[text.trim().split("\\s+").length];
        }

        @Override
        public String detokenize(int[] ids) {
            return "";
        }

        @Override
        public Generation generate(int[] prompt, GenerationOptions options, GenerationListener listener) {
            if (!flaky) promptLengths.add(prompt.length);
            ignoreEos.add(options.ignoreEos());
            boolean fail = flaky && generations.incrementAndGet() % 2 == 0;
            AtomicBoolean cancelled = new AtomicBoolean();
            Thread.ofVirtual().start(() -> {
                maxConcurrent.accumulateAndGet(running.incrementAndGet(), Math::max);
                try {
                    Thread.sleep(PREFILL_MS);
                    for (int i = 0; i < options.maxTokens(); i++) {
                        if (cancelled.get()) {
                            listener.onComplete("cancelled", prompt.length, i);
                            return;
                        }
                        if (i > 0) Thread.sleep(STEP_MS);
                        listener.onToken(1, "t", Float.NaN, List.of());
                        listener.onText("t ");
                        if (fail) {
                            listener.onError(new IllegalStateException("boom"));
                            return;
                        }
                    }
                    listener.onComplete("length", prompt.length, options.maxTokens());
                } catch (InterruptedException e) {
                    listener.onError(e);
                } finally {
                    running.decrementAndGet();
                }
            });
            return () -> cancelled.set(true);
        }
    }

    static final int PREFILL_MS = 20, STEP_MS = 3;
    static final WordModel MODEL = new WordModel("words", false);
    static final WordModel FLAKY = new WordModel("flaky", true);
    static SluiceServer server;

    @BeforeAll
    static void start() {
        server = new SluiceServer(ServerConfig.defaults().withPort(0), List.of(MODEL, FLAKY), () -> true).start();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    ServeBenchConfig config(List<Integer> conc, int requests, String model, boolean chat) {
        return new ServeBenchConfig(URI.create("http://127.0.0.1:" + server.port() + "/v1"), model, conc, 50, 10, requests, chat,
                Duration.ofSeconds(20), 1);
    }

    @Test
    void countsPercentilesAndThroughputAreSane() {
        List<ServeBenchResult> levels = new ArrayList<>();
        int before = MODEL.promptLengths.size();
        List<ServeBenchResult> results = new ServeBenchmark(config(List.of(1, 4), 8, null, true)).run(levels::add);
        assertThat(levels).isEqualTo(results);
        assertThat(results).extracting(ServeBenchResult::concurrency).containsExactly(1, 4);
        for (ServeBenchResult r : results) {
            assertThat(r.model()).isEqualTo("words");
            assertThat(r.requests()).isEqualTo(8);
            assertThat(r.completed()).isEqualTo(8);
            assertThat(r.failed()).isZero();
            assertThat(r.errors()).isEmpty();
            assertThat(r.totalOutputTokens()).isEqualTo(80);
            assertThat(r.totalInputTokens()).isEqualTo(8 * 50); // calibrated through /tokenize
            for (ServeBenchResult.Stats s : List.of(r.ttft(), r.tpot(), r.itl(), r.e2el())) {
                assertThat(s.p50()).isLessThanOrEqualTo(s.p90());
                assertThat(s.p90()).isLessThanOrEqualTo(s.p99());
                assertThat(s.mean()).isPositive();
            }
            assertThat(r.ttft().count()).isEqualTo(8);
            assertThat(r.itl().count()).isLessThanOrEqualTo(8 * 9);
            assertThat(r.ttft().p50()).isGreaterThanOrEqualTo(PREFILL_MS).isLessThan(r.e2el().p50());
            assertThat(r.tpot().p50()).isGreaterThanOrEqualTo(STEP_MS * 0.9);
            assertThat(r.e2el().mean()).isGreaterThanOrEqualTo(PREFILL_MS + 9 * STEP_MS);
            assertThat(r.outputThroughput()).isCloseTo(r.totalOutputTokens() / r.durationSeconds(), within(1e-9));
            assertThat(r.requestThroughput()).isPositive();
        }
        assertThat(MODEL.maxConcurrent.get()).isEqualTo(4);
        assertThat(MODEL.promptLengths.size() - before).isEqualTo(1 + 8 + 8); // warm-up, then the two levels
        // four slots on a model that runs requests side by side: clearly more throughput than one
        assertThat(results.get(1).outputThroughput()).isGreaterThan(results.get(0).outputThroughput() * 1.5);
        assertThat(MODEL.promptLengths).allMatch(n -> n == 50);
    }

    @Test
    void sendsIgnoreEosUnlessTurnedOff() {
        ServeBenchConfig on = config(List.of(2), 2, "words", true);
        MODEL.ignoreEos.clear();
        new ServeBenchmark(on).run(r -> {});
        assertThat(MODEL.ignoreEos).hasSize(3).containsOnly(true); // warm-up and the level's two requests

        ServeBenchConfig off = new ServeBenchConfig(on.url(), "words", List.of(2), 50, 10, 2, false, Duration.ofSeconds(20), 1, false);
        MODEL.ignoreEos.clear();
        new ServeBenchmark(off).run(r -> {});
        assertThat(MODEL.ignoreEos).hasSize(3).containsOnly(false);
    }

    @Test
    void jsonHasVllmKeysAndTheTableOneRowPerLevel() {
        List<ServeBenchResult> results = new ServeBenchmark(config(List.of(2), 4, "words", false)).run(null);
        JsonNode j = results.getFirst().toJson();
        for (String k : List.of("model", "concurrency", "requests", "completed", "failed", "duration_s", "total_input_tokens", "total_output_tokens",
                "request_throughput", "output_throughput", "total_token_throughput")) {
            assertThat(j.has(k)).as(k).isTrue();
        }
        for (String m : List.of("ttft", "tpot", "itl", "e2el")) {
            for (String s : List.of("mean", "median", "p90", "p99")) assertThat(j.get(s + "_" + m + "_ms").isNumber()).as(s + "_" + m).isTrue();
        }
        assertThat(j.get("completed").asInt()).isEqualTo(4);
        String table = ServeBenchResult.table(results);
        assertThat(table.lines()).hasSize(2);
        assertThat(table).contains("TTFT ms").contains("out_tok/s");
    }

    @Test
    void aServerThatFailsTheWarmUpOrCannotBeReachedIsAClearError() {
        assertThatThrownBy(() -> new ServeBenchmark(config(List.of(2), 3, "no-such-model", true)).run(null))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("warm-up").hasMessageContaining("HTTP 404").hasMessageContaining("model_not_found");
        ServeBenchConfig nowhere = new ServeBenchConfig(URI.create("http://127.0.0.1:1"), null, List.of(1), 8, 2, 1, true, Duration.ofSeconds(5), 0);
        assertThatThrownBy(() -> new ServeBenchmark(nowhere).run(null)).isInstanceOf(IllegalStateException.class).hasMessageContaining("cannot reach");
    }

    @Test
    void failedRequestsAreCountedWithTheirMessages() {
        // "flaky" fails every even-numbered generation after streaming one token: the warm-up (1st) passes
        List<ServeBenchResult> results = new ServeBenchmark(config(List.of(1), 4, "flaky", true)).run(null);
        ServeBenchResult r = results.getFirst();
        assertThat(r.completed()).isEqualTo(2);
        assertThat(r.failed()).isEqualTo(2);
        assertThat(r.errors()).hasSize(2).allMatch(e -> e.startsWith("error event") && e.contains("boom"));
        assertThat(r.totalOutputTokens()).isEqualTo(20);
        assertThat(r.ttft().count()).isEqualTo(2);
        assertThat(r.toJson().get("errors")).hasSize(2);

        ServeBenchResult.Stats none = ServeBenchResult.Stats.ofNanos(new long[0]);
        ServeBenchResult all = new ServeBenchResult("m", 2, 3, 0, 3, 1.0, 0, 0, none, none, none, none, List.of("HTTP 503: overloaded"));
        assertThat(all.toJson().get("mean_ttft_ms").isNull()).isTrue();
        assertThat(ServeBenchResult.table(List.of(all))).contains(" - ");
    }

    @Test
    void percentilesInterpolateLikeNumpy() {
        ServeBenchResult.Stats s = ServeBenchResult.Stats.ofNanos(new long[] {4_000_000, 1_000_000, 3_000_000, 2_000_000});
        assertThat(s.mean()).isEqualTo(2.5);
        assertThat(s.p50()).isEqualTo(2.5);
        assertThat(s.p90()).isCloseTo(3.7, within(1e-9));
        assertThat(s.p99()).isCloseTo(3.97, within(1e-9));
    }
}
