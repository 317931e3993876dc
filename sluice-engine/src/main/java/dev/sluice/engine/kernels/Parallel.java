package dev.sluice.engine.kernels;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.RecursiveAction;

/**
 * The one persistent worker pool of the CPU backends, and a {@code parallelFor} over index ranges.
 *
 * <p>Design note: a {@link ForkJoinPool} sized to {@code sluice.threads} (default: available
 * processors) lives for the life of the JVM; its threads are daemons so it never blocks exit. A
 * range is cut into at most {@code 4 * threads} contiguous chunks of at least {@code grain}
 * indices (a few chunks per thread evens out stragglers without paying per-index task costs).
 * Each chunk is computed by exactly one thread and writes disjoint outputs, so results do not
 * depend on the thread count: a kernel's output is bit-identical with 1 or 16 threads. Calls from
 * inside the pool (nested parallelism) work-steal instead of deadlocking.
 */
public final class Parallel {
    private Parallel() {}

    /** Worker threads: system property {@code sluice.threads}, default {@link Runtime#availableProcessors()}. */
    public static final int THREADS = Math.max(1, Integer.getInteger("sluice.threads", Runtime.getRuntime().availableProcessors()));

    private static final ForkJoinPool POOL = new ForkJoinPool(THREADS, pool -> {
        var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
        t.setName("sluice-cpu-" + t.getPoolIndex());
        t.setDaemon(true);
        return t;
    }, null, false);

    /** Body of a parallel loop: handles indices {@code [from, to)}. */
    @FunctionalInterface
    public interface Range {
        void run(int from, int to);
    }

    /**
     * Runs {@code body} over {@code [0, n)} split into chunks of at least {@code grain} indices, and
     * returns when all are done. Runs inline when the range is a single chunk or there is one thread.
     */
    public static void forRange(int n, int grain, Range body) {
        if (n <= 0) return;
        int maxChunks = THREADS * 4;
        int chunks = Math.min(maxChunks, Math.max(1, n / Math.max(1, grain)));
        if (chunks <= 1 || THREADS == 1) {
            body.run(0, n);
            return;
        }
        List<RecursiveAction> tasks = new ArrayList<>(chunks);
        for (int c = 0; c < chunks; c++) {
            int from = (int) ((long) n * c / chunks), to = (int) ((long) n * (c + 1) / chunks);
            tasks.add(new RecursiveAction() {
                @Override
                protected void compute() {
                    body.run(from, to);
                }
            });
        }
        if (ForkJoinTask.inForkJoinPool() && ForkJoinTask.getPool() == POOL) {
            ForkJoinTask.invokeAll(tasks);
        } else {
            POOL.invoke(new RecursiveAction() {
                @Override
                protected void compute() {
                    invokeAll(tasks);
                }
            });
        }
    }
}
