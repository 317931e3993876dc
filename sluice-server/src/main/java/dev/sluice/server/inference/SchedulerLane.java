package dev.sluice.server.inference;

import dev.sluice.engine.LoadedModel;
import dev.sluice.engine.runtime.Generator;
import dev.sluice.engine.sampling.TokenLogprob;
import dev.sluice.engine.scheduler.QueueFullException;
import dev.sluice.engine.scheduler.Scheduler;
import dev.sluice.engine.scheduler.SchedulerConfig;
import dev.sluice.engine.scheduler.SchedulerStats;
import dev.sluice.engine.scheduler.SequenceHandle;
import dev.sluice.engine.scheduler.SequenceListener;
import dev.sluice.engine.scheduler.SequenceResult;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The continuous-batching {@link EngineLane}: jobs go to the engine's {@link Scheduler}, which
 * runs many sequences per forward step over a paged KV cache (chunked prefill, preemption by
 * recompute; see docs/scheduler.md).
 *
 * <p>Design note: a job's {@code cancelled} flag is a supplier, so it is polled here every
 * {@link #CANCEL_POLL_MILLIS} ms for the jobs in flight and turned into
 * {@link SequenceHandle#cancel()}, which takes the sequence out of the batch before the next
 * forward step and frees its blocks. A full waiting queue ({@link QueueFullException}) becomes
 * {@link RejectedExecutionException}, as the lane contract says.
 */
public final class SchedulerLane implements EngineLane {
    /** How often the jobs' cancelled flags are polled (ms): well under a decode step of a real model. */
    static final long CANCEL_POLL_MILLIS = 5;

    private final Scheduler scheduler;
    private final Set<Running> inFlight = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("sluice-cancel-poll").daemon().unstarted(r));

    private record Running(EngineLane.Job job, SequenceHandle handle) {}

    public SchedulerLane(LoadedModel model, SchedulerConfig config) {
        this.scheduler = Scheduler.of(model, config);
        poller.scheduleWithFixedDelay(this::pollCancelled, CANCEL_POLL_MILLIS, CANCEL_POLL_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** The scheduler's defaults with a waiting queue of {@code maxWaiting}. */
    public SchedulerLane(LoadedModel model, int maxWaiting) {
        this(model, SchedulerConfig.defaults().withMaxWaiting(maxWaiting));
    }

    private void pollCancelled() {
        for (Running r : inFlight) {
            if (r.job().cancelled().getAsBoolean()) r.handle().cancel();
        }
    }

    @Override
    public void submit(Job job) {
        SequenceListener listener = new SequenceListener() {
            @Override
            public void onToken(int token, TokenLogprob logprob) {
                job.listener().onToken(token, logprob);
            }

            @Override
            public void onText(String delta) {
                job.listener().onText(delta);
            }

            @Override
            public void onFinish(SequenceResult r) {
                job.done().accept(new Generator.Result(r.tokens(), r.text(), r.finishReason().toGenerator(), null));
            }

            @Override
            public void onError(RuntimeException error) {
                job.failed().accept(error);
            }
        };
        SequenceHandle h;
        try {
            h = scheduler.submit(job.prompt(), job.params(), 0, Long.MAX_VALUE, listener);
        } catch (QueueFullException e) {
            throw new RejectedExecutionException(e.getMessage(), e);
        }
        Running r = new Running(job, h);
        inFlight.add(r);
        h.result().whenComplete((res, err) -> inFlight.remove(r));
        if (job.cancelled().getAsBoolean()) h.cancel();
    }

    @Override
    public boolean hasRoom() {
        return scheduler.hasRoom();
    }

    @Override
    public EngineStats stats() {
        SchedulerStats s = scheduler.stats();
        return new EngineStats(s.waiting(), s.running(), s.kvUsedTokens(), s.kvCapacityTokens(), s.preemptions());
    }

    /** The scheduler's own counters (steps, tokens forwarded, KV blocks). */
    public SchedulerStats schedulerStats() {
        return scheduler.stats();
    }

    @Override
    public void close() {
        poller.shutdownNow();
        scheduler.close();
    }
}
