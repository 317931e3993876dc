package dev.sluice.server.gateway.cache;

import dev.sluice.server.inference.EngineStats;
import dev.sluice.server.inference.GenerationListener;
import dev.sluice.server.inference.GenerationOptions;
import dev.sluice.server.inference.InferenceModel;
import dev.sluice.server.openai.FakeModel;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link FakeModel} that counts its generations (engine {@code generate()} calls) and can hold
 * them at a gate until the test opens it, so that concurrent requests surely overlap.
 */
final class CountingModel implements InferenceModel {
    final FakeModel fake;
    final AtomicInteger generations = new AtomicInteger();
    final AtomicInteger cancelled = new AtomicInteger();
    volatile CountDownLatch gate = new CountDownLatch(0);
    /** When set, each generation streams two characters and then fails (an engine error). */
    volatile boolean fail;

    CountingModel(String id, String reply) {
        this.fake = new FakeModel(id, reply, "", 4096);
    }

    /** Holds every generation started from now on until {@link #open()}. */
    void hold() {
        gate = new CountDownLatch(1);
    }

    void open() {
        gate.countDown();
    }

    @Override public String id() { return fake.id(); }
    @Override public long created() { return fake.created(); }
    @Override public int contextLength() { return fake.contextLength(); }
    @Override public EngineStats stats() { return fake.stats(); }
    @Override public void admit() { fake.admit(); }

    @Override
    public ChatPrompt encodeChat(List<Map<String, Object>> messages, List<Map<String, Object>> tools, Map<String, Object> templateVars) {
        return fake.encodeChat(messages, tools, templateVars);
    }

    @Override public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) { return fake.tokenize(text, addSpecial, parseSpecial); }
    @Override public String detokenize(int[] ids) { return fake.detokenize(ids); }

    @Override
    public Generation generate(int[] prompt, GenerationOptions options, GenerationListener listener) {
        generations.incrementAndGet();
        CountDownLatch g = gate;
        AtomicBoolean stop = new AtomicBoolean();
        Generation[] inner = new Generation[1];
        GenerationListener counting = new GenerationListener() {
            @Override
            public void onToken(int tokenId, String token, float logprob, List<TopLogprob> top) {
                if (!failed.get()) listener.onToken(tokenId, token, logprob, top);
            }
            final AtomicInteger texts = new AtomicInteger();
            final AtomicBoolean failed = new AtomicBoolean();

            @Override
            public void onText(String text) {
                if (failed.get()) return;
                listener.onText(text);
                if (fail && texts.incrementAndGet() == 2) {
                    failed.set(true);
                    listener.onError(new IllegalStateException("engine failure"));
                }
            }
            @Override public void onError(Throwable error) { listener.onError(error); }

            @Override
            public void onComplete(String finishReason, int promptTokens, int completionTokens) {
                if (failed.get()) return; // already ended with an error
                if (finishReason.equals("cancelled")) cancelled.incrementAndGet();
                listener.onComplete(finishReason, promptTokens, completionTokens);
            }
        };
        Thread.ofVirtual().start(() -> {
            try {
                g.await();
            } catch (InterruptedException e) {
                return;
            }
            synchronized (inner) {
                inner[0] = fake.generate(prompt, options, counting);
                if (stop.get()) inner[0].cancel();
            }
        });
        return () -> {
            synchronized (inner) {
                stop.set(true);
                if (inner[0] != null) inner[0].cancel();
            }
        };
    }
}
