package dev.sluice.server.inference;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.sluice.engine.LoadedModel;
import dev.sluice.engine.scheduler.SchedulerConfig;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.SluiceServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Concurrent HTTP requests share the scheduler's forward steps ({@link SchedulerLane}): same
 * greedy text as one at a time, in fewer steps; a cancelled generation leaves the batch and
 * frees its KV blocks. Tiny reference Qwen2 driven by the openai-java SDK.
 */
class SchedulerLaneTest {
    static LoadedModel loaded;
    static SchedulerLane lane;
    static EngineInferenceModel model;
    static SluiceServer server;
    static OpenAIClient sdk;

    @BeforeAll
    static void start() {
        loaded = LoadedModel.load(EngineInferenceModelTest.QWEN2, 256);
        lane = new SchedulerLane(loaded, SchedulerConfig.defaults().withMaxWaiting(16).withKvCacheBytes(8 << 20));
        model = new EngineInferenceModel("tiny-qwen2", loaded, lane);
        server = new SluiceServer(ServerConfig.defaults().withPort(0), List.of(model), () -> true).start();
        sdk = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey("unused").maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        server.close();
        model.close();
    }

    static String chat(String user) {
        var p = ChatCompletionCreateParams.builder().model("tiny-qwen2").addUserMessage(user).temperature(0.0).maxCompletionTokens(16).build();
        return sdk.chat().completions().create(p).choices().get(0).message().content().orElse("");
    }

    @Test
    void concurrentRequestsGetTheirSequentialOutputInFewerSteps() throws Exception {
        List<String> users = new ArrayList<>();
        for (int i = 0; i < 8; i++) users.add("request number " + i + " " + "x".repeat(i));
        List<String> sequential = new ArrayList<>();
        long s0 = lane.schedulerStats().steps();
        for (String u : users) sequential.add(chat(u));
        long sequentialSteps = lane.schedulerStats().steps() - s0;

        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<String>> fs = new ArrayList<>();
            for (String u : users) fs.add(pool.submit(() -> {
                go.await();
                return chat(u);
            }));
            long s1 = lane.schedulerStats().steps();
            go.countDown();
            for (int i = 0; i < 8; i++) assertThat(fs.get(i).get(60, TimeUnit.SECONDS)).as("request %d", i).isEqualTo(sequential.get(i));
            long concurrentSteps = lane.schedulerStats().steps() - s1;
            assertThat(concurrentSteps).isLessThan(sequentialSteps);
        } finally {
            pool.shutdownNow();
        }
        await().atMost(5, TimeUnit.SECONDS).until(() -> model.stats().kvUsedTokens() == 0);
        assertThat(model.stats().running()).isZero();
    }

    @Test
    void aCancelledGenerationFreesItsSequence() throws Exception {
        var prompt = model.encodeChat(List.of(Map.of("role", "user", "content", "go on forever")), null, null);
        AtomicInteger tokens = new AtomicInteger();
        CompletableFuture<String> finish = new CompletableFuture<>();
        var options = new GenerationOptions(200, 0f, 1f, 0, 0f, 0f, 0f, 1f, Map.of(), null, List.of(), false, 0);
        CountDownLatch second = new CountDownLatch(1), cancelled = new CountDownLatch(1);
        InferenceModel.Generation g = model.generate(prompt.ids(), options, new GenerationListener() {
            @Override
            public void onToken(int tokenId, String token, float logprob, List<TopLogprob> top) {
                if (tokens.incrementAndGet() == 2) {
                    second.countDown();
                    try {
                        cancelled.await(10, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        throw new RuntimeException(e);
                    }
                }
            }

            @Override
            public void onText(String text) {}

            @Override
            public void onComplete(String finishReason, int promptTokens, int completionTokens) {
                finish.complete(finishReason);
            }

            @Override
            public void onError(Throwable error) {
                finish.completeExceptionally(error);
            }
        });
        try {
            assertThat(second.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(model.stats().running()).isEqualTo(1);
            assertThat(model.stats().kvUsedTokens()).isPositive();
            g.cancel();
        } finally {
            cancelled.countDown();
        }
        assertThat(finish.join()).isEqualTo("cancelled");
        await().atMost(5, TimeUnit.SECONDS).until(() -> model.stats().kvUsedTokens() == 0 && model.stats().running() == 0);
    }
}
