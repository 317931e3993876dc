package dev.sluice.engine.scheduler;

import dev.sluice.engine.LoadedModel;
import dev.sluice.engine.kernels.Kernels;
import dev.sluice.engine.model.ModelLoader;
import dev.sluice.engine.model.ModelWeights;
import dev.sluice.engine.runtime.ContextOverflowException;
import dev.sluice.engine.runtime.Generator;
import dev.sluice.engine.runtime.PagedKVCache;
import dev.sluice.engine.runtime.Transformer;
import dev.sluice.engine.sampling.SamplingParams;
import dev.sluice.engine.sampling.TokenLogprob;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The continuous-batching scheduler on the tiny reference Llama with the scalar kernels (whose
 * results are bit-reproducible, so "identical" means identical), and on the built-in demo model
 * with its real tokenizer and the default backend. Outputs are compared with the same sequence
 * run alone, and with {@link Generator}; step counts, not timings, show the batching.
 */
class SchedulerTest {
    private static final long NO_DEADLINE = Long.MAX_VALUE;
    private static ModelWeights weights;
    private static Transformer model;
    private static LoadedModel demo;

    @BeforeAll
    static void load() throws Exception {
        weights = ModelLoader.load(Path.of(SchedulerTest.class.getResource("/reference/llama/expected.json").toURI()).getParent());
        model = new Transformer(weights, Kernels.create("cpu-scalar"), 128);
        demo = LoadedModel.load(Path.of(SchedulerTest.class.getResource("/models/demo.gguf").toURI()), 512);
    }

    @AfterAll
    static void close() {
        weights.close();
        demo.close();
    }

    /** Defaults, with a KV pool of 4 MiB (the 512 MiB default would take longer to allocate than the tests run). */
    private static SchedulerConfig cfg() {
        return SchedulerConfig.defaults().withKvCacheBytes(4 << 20);
    }

    private static int[] prompt(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = 2 + r.nextInt(300);
        return t;
    }

    /** Greedy, never stopping early on the reference model (which has no tokenizer here: no EOS). */
    private static SamplingParams greedy(int maxTokens) {
        return SamplingParams.greedy(maxTokens);
    }

    private static SequenceResult await(SequenceHandle h) throws Exception {
        return h.result().get(60, TimeUnit.SECONDS);
    }

    private static List<int[]> runAll(Scheduler s, List<int[]> prompts, int maxTokens) throws Exception {
        List<SequenceHandle> hs = new ArrayList<>();
        for (int[] p : prompts) hs.add(s.submit(p, greedy(maxTokens), 0, NO_DEADLINE, null));
        List<int[]> out = new ArrayList<>();
        for (SequenceHandle h : hs) out.add(await(h).tokens());
        return out;
    }

    private static List<int[]> eightPrompts() {
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < 8; i++) prompts.add(prompt(i, 3 + 5 * i));
        return prompts;
    }

    @Test
    void greedyOutputIsIdenticalAloneAndInABatchOfEight() throws Exception {
        List<int[]> prompts = eightPrompts();
        List<int[]> alone = new ArrayList<>();
        try (Scheduler s = new Scheduler(model, null, cfg())) {
            for (int[] p : prompts) alone.add(await(s.submit(p, greedy(20), 0, NO_DEADLINE, null)).tokens());
        }
        // a small step budget forces chunked prefill mixed with decode
        try (Scheduler s = new Scheduler(model, null, cfg().withStepTokenBudget(16))) {
            List<int[]> batched = runAll(s, prompts, 20);
            for (int i = 0; i < 8; i++) assertThat(batched.get(i)).as("sequence %d", i).containsExactly(alone.get(i));
            assertThat(s.stats().kvBlocksUsed()).isZero();
        }
        // and the same tokens as the one-sequence generator over a contiguous cache
        Generator g = new Generator(model, null);
        for (int i = 0; i < 8; i++) {
            assertThat(g.generate(prompts.get(i), greedy(20), null, null).tokens()).as("generator, sequence %d", i).containsExactly(alone.get(i));
        }
    }

    @Test
    void concurrentSequencesNeedFarFewerForwardStepsThanSequentialOnes() throws Exception {
        List<int[]> prompts = eightPrompts();
        try (Scheduler s = new Scheduler(model, null, cfg())) {
            runAll(s, prompts, 16);
            SchedulerStats st = s.stats();
            // sequentially: one prefill step and 15 decode steps per sequence
            assertThat(st.steps()).isLessThanOrEqualTo(8 * 16 / 4);
            assertThat(st.finished()).isEqualTo(8);
        }
    }

    @Test
    void preemptionUnderATinyKvBudgetStillProducesIdenticalOutput() throws Exception {
        List<int[]> prompts = eightPrompts();
        List<int[]> expected;
        try (Scheduler s = new Scheduler(model, null, cfg())) {
            expected = runAll(s, prompts, 24);
        }
        // 8 blocks of 8 positions: the longest sequence (38 + 24) alone fills it
        long budget = 8 * PagedKVCache.bytesPerBlock(model.config(), 8);
        try (Scheduler s = new Scheduler(model, null, cfg().withBlockSize(8).withKvCacheBytes(budget))) {
            List<int[]> got = runAll(s, prompts, 24);
            for (int i = 0; i < 8; i++) assertThat(got.get(i)).as("sequence %d", i).containsExactly(expected.get(i));
            assertThat(s.stats().preemptions()).isPositive();
            assertThat(s.stats().kvBlocksTotal()).isEqualTo(8);
            assertThat(s.stats().kvBlocksUsed()).isZero();
        }
    }

    @Test
    void aCancelledSequenceLeavesWithinOneStepAndFreesItsBlocks() throws Exception {
        try (Scheduler s = new Scheduler(model, null, cfg().withBlockSize(4))) {
            SequenceHandle other = s.submit(prompt(1, 10), greedy(100), 0, NO_DEADLINE, null);
            AtomicLong stepsAtCancel = new AtomicLong(-1);
            AtomicLong usedAtCancel = new AtomicLong();
            AtomicLong stepsAtFinish = new AtomicLong(-1);
            SequenceHandle[] self = new SequenceHandle[1];
            CountDownLatch submitted = new CountDownLatch(1);
            self[0] = s.submit(prompt(2, 30), greedy(100), 0, NO_DEADLINE, new SequenceListener() {
                int n;

                @Override
                public void onToken(int token, TokenLogprob lp) {
                    if (++n == 3) {
                        try {
                            submitted.await();
                        } catch (InterruptedException e) {
                            throw new RuntimeException(e);
                        }
                        stepsAtCancel.set(s.stats().steps());
                        usedAtCancel.set(s.stats().kvBlocksUsed());
                        self[0].cancel();
                    }
                }

                @Override
                public void onFinish(SequenceResult r) {
                    stepsAtFinish.set(s.stats().steps());
                }
            });
            submitted.countDown();
            SequenceResult r = await(self[0]);
            assertThat(r.finishReason()).isEqualTo(FinishReason.CANCELLED);
            assertThat(r.tokens()).hasSize(3);
            // the step that produced the third token was the last one it took part in
            assertThat(stepsAtFinish.get()).isLessThanOrEqualTo(stepsAtCancel.get() + 1);
            assertThat(usedAtCancel.get()).isGreaterThanOrEqualTo(8 + 3); // 30 + 3 positions in blocks of 4, plus the other's
            other.cancel();
            assertThat(await(other).finishReason()).isEqualTo(FinishReason.CANCELLED);
            assertThat(s.stats().kvBlocksUsed()).isZero();
            assertThat(s.stats().running()).isZero();
        }
    }

    /** A listener that holds the engine thread on its first token until released. */
    private static final class Blocker implements SequenceListener {
        final CountDownLatch started = new CountDownLatch(1), release = new CountDownLatch(1);

        @Override
        public void onToken(int token, TokenLogprob lp) {
            started.countDown();
            try {
                release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        }
    }

    @Test
    void aFullWaitingQueueRefusesWithATypedException() throws Exception {
        try (Scheduler s = new Scheduler(model, null, cfg().withMaxRunning(1).withMaxWaiting(2))) {
            Blocker b = new Blocker();
            SequenceHandle first = s.submit(prompt(1, 5), greedy(2), 0, NO_DEADLINE, b);
            assertThat(b.started.await(30, TimeUnit.SECONDS)).isTrue();
            SequenceHandle w1 = s.submit(prompt(2, 5), greedy(2), 0, NO_DEADLINE, null);
            SequenceHandle w2 = s.submit(prompt(3, 5), greedy(2), 0, NO_DEADLINE, null);
            assertThat(s.hasRoom()).isFalse();
            assertThat(s.stats().waiting()).isEqualTo(2);
            assertThatThrownBy(() -> s.submit(prompt(4, 5), greedy(2), 0, NO_DEADLINE, null))
                    .isInstanceOf(QueueFullException.class).hasMessageContaining("full");
            b.release.countDown();
            for (SequenceHandle h : List.of(first, w1, w2)) assertThat(await(h).tokens()).hasSize(2);
            assertThat(s.hasRoom()).isTrue();
        }
    }

    @Test
    void higherPriorityIsAdmittedFirst() throws Exception {
        try (Scheduler s = new Scheduler(model, null, cfg().withMaxRunning(1))) {
            Blocker b = new Blocker();
            s.submit(prompt(1, 5), greedy(2), 0, NO_DEADLINE, b);
            assertThat(b.started.await(30, TimeUnit.SECONDS)).isTrue();
            List<String> order = Collections.synchronizedList(new ArrayList<>());
            List<SequenceHandle> hs = new ArrayList<>();
            String[] names = {"low", "high", "mid", "high2"};
            int[] prio = {0, 10, 5, 10};
            for (int i = 0; i < 4; i++) {
                String name = names[i];
                hs.add(s.submit(prompt(10 + i, 5), greedy(2), prio[i], NO_DEADLINE, new SequenceListener() {
                    @Override
                    public void onFinish(SequenceResult r) {
                        order.add(name);
                    }
                }));
            }
            b.release.countDown();
            for (SequenceHandle h : hs) await(h);
            assertThat(order).containsExactly("high", "high2", "mid", "low");
        }
    }

    @Test
    void aPassedDeadlineFinishesWithItsOwnReason() throws Exception {
        try (Scheduler s = new Scheduler(model, null, cfg().withMaxRunning(1))) {
            Blocker b = new Blocker();
            SequenceHandle first = s.submit(prompt(1, 5), greedy(3), 0, NO_DEADLINE, b);
            assertThat(b.started.await(30, TimeUnit.SECONDS)).isTrue();
            SequenceHandle late = s.submit(prompt(2, 5), greedy(3), 0, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20), null);
            Thread.sleep(60);
            b.release.countDown();
            SequenceResult r = await(late);
            assertThat(r.finishReason()).isEqualTo(FinishReason.DEADLINE);
            assertThat(r.tokens()).isEmpty();
            assertThat(await(first).finishReason()).isEqualTo(FinishReason.LENGTH);
            // a running sequence is stopped by its deadline too
            SequenceResult running = await(s.submit(prompt(3, 5), greedy(100_000), 0, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200),
                    new SequenceListener() {
                        @Override
                        public void onToken(int token, TokenLogprob lp) {
                            try {
                                Thread.sleep(5);
                            } catch (InterruptedException e) {
                                throw new RuntimeException(e);
                            }
                        }
                    }));
            assertThat(running.finishReason()).isEqualTo(FinishReason.DEADLINE);
            assertThat(running.tokens()).isNotEmpty();
            assertThat(s.stats().kvBlocksUsed()).isZero();
        }
    }

    @Test
    void promptsThatCannotFitAreRefusedAtSubmit() {
        long budget = 2 * PagedKVCache.bytesPerBlock(model.config(), 4);
        try (Scheduler s = new Scheduler(model, null, cfg().withBlockSize(4).withKvCacheBytes(budget))) {
            assertThat(s.maxSequenceLength()).isEqualTo(8);
            assertThatThrownBy(() -> s.submit(prompt(1, 8), greedy(2), 0, NO_DEADLINE, null)).isInstanceOf(ContextOverflowException.class);
            assertThatThrownBy(() -> s.submit(new int[] {5, 1000}, greedy(2), 0, NO_DEADLINE, null)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void configIsValidatedNamingTheKey() {
        assertThatThrownBy(() -> SchedulerConfig.defaults().withMaxRunning(0)).hasMessageContaining("maxRunning");
        assertThatThrownBy(() -> cfg().withStepTokenBudget(4)).hasMessageContaining("stepTokenBudget");
        assertThatThrownBy(() -> cfg().withKvCacheBytes(0)).hasMessageContaining("kvCacheBytes");
        assertThatThrownBy(() -> cfg().withBlockSize(0)).hasMessageContaining("blockSize");
    }

    @Test
    void demoModelTextAndStopStringsMatchTheGeneratorWhenBatched() throws Exception {
        String[] texts = {"12 + 30 =", "Hello", "The capital of", "Once upon a time", "1, 2, 3,", "a b c", "Sluice is", "What is 7 + 5?"};
        SamplingParams params = SamplingParams.builder().temperature(0).maxTokens(24).stopStrings(List.of("\n\n")).build();
        Generator g = demo.generator();
        try (Scheduler s = Scheduler.of(demo, cfg().withStepTokenBudget(32))) {
            List<SequenceHandle> hs = new ArrayList<>();
            List<StringBuilder> streamed = new ArrayList<>();
            for (String t : texts) {
                StringBuilder sb = new StringBuilder();
                streamed.add(sb);
                hs.add(s.submit(demo.tokenizer().encode(t, true, false), params, 0, NO_DEADLINE, new SequenceListener() {
                    @Override
                    public void onText(String delta) {
                        sb.append(delta);
                    }
                }));
            }
            for (int i = 0; i < texts.length; i++) {
                SequenceResult r = await(hs.get(i));
                Generator.Result e = g.generate(demo.tokenizer().encode(texts[i], true, false), params, null, null);
                assertThat(r.tokens()).as(texts[i]).containsExactly(e.tokens());
                assertThat(r.text()).as(texts[i]).isEqualTo(e.text());
                assertThat(streamed.get(i).toString()).isEqualTo(r.text());
                assertThat(r.finishReason().toGenerator()).isEqualTo(e.finishReason());
            }
        }
    }

    @Test
    void randomMixOfPrioritiesCancellationsAndATinyPoolEndsCleanWithAloneOutputs() throws Exception {
        SplittableRandom r = new SplittableRandom(42);
        int n = 24;
        List<int[]> prompts = new ArrayList<>();
        int[] maxTokens = new int[n], prio = new int[n];
        for (int i = 0; i < n; i++) {
            prompts.add(prompt(100 + i, 1 + r.nextInt(40)));
            maxTokens[i] = 1 + r.nextInt(30);
            prio[i] = r.nextInt(3);
        }
        List<int[]> alone = new ArrayList<>();
        try (Scheduler s = new Scheduler(model, null, cfg())) {
            for (int i = 0; i < n; i++) alone.add(await(s.submit(prompts.get(i), greedy(maxTokens[i]), 0, NO_DEADLINE, null)).tokens());
        }
        long budget = 12 * PagedKVCache.bytesPerBlock(model.config(), 8); // 96 positions for up to 8 sequences of up to 70
        try (Scheduler s = new Scheduler(model, null, cfg().withBlockSize(8).withKvCacheBytes(budget).withMaxRunning(8).withStepTokenBudget(24))) {
            List<SequenceHandle> hs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                hs.add(s.submit(prompts.get(i), greedy(maxTokens[i]), prio[i], NO_DEADLINE, null));
                if (i % 5 == 4) hs.get(i - 2).cancel();
            }
            for (int i = 0; i < n; i++) {
                SequenceResult res = await(hs.get(i));
                int[] want = alone.get(i);
                if (res.finishReason() == FinishReason.CANCELLED) {
                    // whatever it produced before leaving is a prefix of its output alone
                    assertThat(want.length).isGreaterThanOrEqualTo(res.tokens().length);
                    assertThat(java.util.Arrays.copyOf(want, res.tokens().length)).containsExactly(res.tokens());
                } else {
                    assertThat(res.tokens()).as("sequence %d (priority %d, preempted %d times)", i, prio[i], res.preemptions()).containsExactly(want);
                }
            }
            SchedulerStats st = s.stats();
            assertThat(st.kvBlocksUsed()).isZero();
            assertThat(st.running()).isZero();
            assertThat(st.waiting()).isZero();
            assertThat(st.finished()).isEqualTo(n);
            assertThat(st.preemptions()).isPositive();
        }
    }
}
