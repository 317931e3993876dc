package dev.sluice.server.inference;

import dev.sluice.engine.LoadedModel;
import dev.sluice.engine.runtime.Generator;
import dev.sluice.engine.sampling.SamplingParams;
import dev.sluice.engine.sampling.TokenLogprob;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The {@link EngineLane} contract on the single-sequence lane, with the tiny real model: cancellation frees the sequence, the queue is bounded. */
class SingleSequenceLaneTest {
    static LoadedModel model;
    static int[] prompt;

    @BeforeAll
    static void load() {
        model = LoadedModel.load(EngineInferenceModelTest.QWEN2, 256);
        prompt = model.tokenizer().encode("hello world", true, false);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    record Run(EngineLane.Job job, CompletableFuture<Generator.Result> result, AtomicInteger tokens) {}

    static Run job(int maxTokens, AtomicBoolean cancelled, Runnable onFirstToken) {
        CompletableFuture<Generator.Result> result = new CompletableFuture<>();
        AtomicInteger tokens = new AtomicInteger();
        Generator.Listener l = new Generator.Listener() {
            @Override
            public void onToken(int token, TokenLogprob logprob) {
                if (tokens.incrementAndGet() == 1 && onFirstToken != null) onFirstToken.run();
            }
        };
        return new Run(new EngineLane.Job(prompt, SamplingParams.greedy(maxTokens), l, cancelled::get, result::complete, result::completeExceptionally),
                result, tokens);
    }

    @Test
    void cancellingARunningSequenceFreesItWithinOneStep() throws Exception {
        try (SingleSequenceLane lane = new SingleSequenceLane(model.generator(), model.transformer(), 4)) {
            AtomicBoolean cancelled = new AtomicBoolean();
            AtomicInteger kvAtFirstToken = new AtomicInteger();
            Run r = job(200, cancelled, () -> {
                kvAtFirstToken.set((int) lane.stats().kvUsedTokens());
                cancelled.set(true);
            });
            lane.submit(r.job());
            Generator.Result res = r.result().get(30, TimeUnit.SECONDS);
            assertThat(res.finishReason()).isEqualTo(Generator.FinishReason.CANCELLED);
            assertThat(r.tokens().get()).isEqualTo(1); // stopped at the next step
            assertThat(kvAtFirstToken.get()).isEqualTo(prompt.length + 1);
            await().atMost(5, TimeUnit.SECONDS).until(() -> lane.stats().running() == 0);
            EngineStats s = lane.stats();
            assertThat(s.kvUsedTokens()).isZero();
            assertThat(s.kvCapacityTokens()).isEqualTo(256);
            assertThat(s.waiting()).isZero();
        }
    }

    @Test
    void theWaitingQueueIsBoundedAndAQueuedCancelNeverRuns() throws Exception {
        try (SingleSequenceLane lane = new SingleSequenceLane(model.generator(), model.transformer(), 1)) {
            CountDownLatch started = new CountDownLatch(1), release = new CountDownLatch(1);
            Run blocker = job(3, new AtomicBoolean(), () -> {
                started.countDown();
                try {
                    release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            lane.submit(blocker.job());
            assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
            AtomicBoolean cancelQueued = new AtomicBoolean();
            Run queued = job(3, cancelQueued, null);
            lane.submit(queued.job());
            assertThat(lane.hasRoom()).isFalse();
            assertThat(lane.stats().waiting()).isEqualTo(1);
            assertThat(lane.stats().running()).isEqualTo(1);
            assertThatThrownBy(() -> lane.submit(job(3, new AtomicBoolean(), null).job())).isInstanceOf(RejectedExecutionException.class);
            cancelQueued.set(true);
            release.countDown();
            assertThat(blocker.result().get(30, TimeUnit.SECONDS).tokens()).hasSize(3);
            Generator.Result q = queued.result().get(30, TimeUnit.SECONDS);
            assertThat(q.finishReason()).isEqualTo(Generator.FinishReason.CANCELLED);
            assertThat(queued.tokens().get()).isZero();
            assertThat(lane.hasRoom()).isTrue();
        }
    }
}
