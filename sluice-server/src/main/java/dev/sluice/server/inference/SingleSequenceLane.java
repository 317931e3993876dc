package dev.sluice.server.inference;

import dev.sluice.engine.runtime.Generator;
import dev.sluice.engine.runtime.KVCache;
import dev.sluice.engine.runtime.Transformer;
import dev.sluice.engine.sampling.TokenLogprob;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The simplest {@link EngineLane}: one engine thread generates one sequence at a time, in
 * arrival order, from a bounded waiting queue (full: {@link java.util.concurrent.RejectedExecutionException}).
 *
 * <p>Design note: each sequence gets a fresh contiguous {@link KVCache} sized to the context,
 * dropped when it finishes, so KV use is the running sequence's positions out of one context.
 * Cancellation is polled by the generator before every forward step.
 */
public final class SingleSequenceLane implements EngineLane {
    private final Generator generator;
    private final Transformer transformer;
    private final ThreadPoolExecutor engine;
    private final int maxWaiting;
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicLong kvUsed = new AtomicLong();

    public SingleSequenceLane(Generator generator, Transformer transformer, int maxWaiting) {
        if (maxWaiting < 1) throw new IllegalArgumentException("max waiting must be >= 1, got " + maxWaiting);
        this.generator = generator;
        this.transformer = transformer;
        this.maxWaiting = maxWaiting;
        this.engine = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(maxWaiting),
                r -> Thread.ofPlatform().name("sluice-engine").daemon().unstarted(r));
    }

    @Override
    public void submit(Job job) {
        engine.execute(() -> run(job));
    }

    private void run(Job job) {
        if (job.cancelled().getAsBoolean()) {
            job.done().accept(new Generator.Result(new int[0], "", Generator.FinishReason.CANCELLED, null));
            return;
        }
        running.incrementAndGet();
        kvUsed.set(job.prompt().length);
        try {
            Generator.Result r = generator.generate(job.prompt(), job.params(), new Generator.Listener() {
                @Override
                public void onToken(int token, TokenLogprob logprob) {
                    kvUsed.incrementAndGet();
                    job.listener().onToken(token, logprob);
                }

                @Override
                public void onText(String delta) {
                    job.listener().onText(delta);
                }
            }, job.cancelled());
            job.done().accept(r);
        } catch (RuntimeException e) {
            job.failed().accept(e);
        } finally {
            kvUsed.set(0);
            running.decrementAndGet();
        }
    }

    @Override
    public boolean hasRoom() {
        return engine.getQueue().remainingCapacity() > 0;
    }

    @Override
    public EngineStats stats() {
        return new EngineStats(engine.getQueue().size(), running.get(), kvUsed.get(), transformer.maxContext(), 0);
    }

    /** Bound of the waiting queue. */
    public int maxWaiting() {
        return maxWaiting;
    }

    @Override
    public void close() {
        engine.shutdownNow();
    }
}
