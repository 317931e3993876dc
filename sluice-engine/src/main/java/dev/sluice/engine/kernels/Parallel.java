package dev.sluice.engine.kernels;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The one persistent worker pool of the CPU backends, and a {@code parallelFor} over index ranges.
 *
 * <p>Design note. A decode step runs a few hundred small parallel loops (one per matmul), each a
 * few tens of microseconds of work, so dispatch latency matters more than anything else: a
 * {@link java.util.concurrent.ForkJoinPool} wakes parked threads one after another and spent
 * more time waking than computing at 16 threads. Like llama.cpp's thread pool, this one keeps
 * {@code THREADS - 1} daemon workers that spin (with {@link Thread#onSpinWait}, yielding now and
 * then in case the machine is oversubscribed) for
 * {@link #SPIN_NANOS} after each job before parking, so back-to-back jobs start in about a
 * microsecond; the calling thread works too.
 *
 * <ul>
 *   <li>A range is cut into at most {@code 4 * THREADS} contiguous chunks of at least {@code grain}
 *       indices; threads claim chunks from a counter, so faster threads take more chunks.</li>
 *   <li>Each chunk is computed by exactly one thread and writes disjoint outputs, and chunk
 *       boundaries depend only on {@code n} and {@code grain}, so results do not depend on which
 *       thread ran what: a kernel's output is bit-identical run to run.</li>
 *   <li>One job runs at a time: concurrent callers queue on a lock. A call made from inside a job
 *       (a worker, or the caller re-entering) runs inline.</li>
 *   <li>An exception in a chunk is rethrown to the caller once every chunk has finished.</li>
 * </ul>
 */
public final class Parallel {
    private Parallel() {}

    /** Threads that compute, the caller included: system property {@code sluice.threads}, default {@link Runtime#availableProcessors()}. */
    public static final int THREADS = Math.max(1, Integer.getInteger("sluice.threads", Runtime.getRuntime().availableProcessors()));

    /** How long an idle worker spins before parking (nanoseconds): longer than the gap between two matmuls of a step, short enough not to burn a core when idle. */
    public static final long SPIN_NANOS = 200_000;

    /** A piece of a chunk that lies within one segment ({@link #bySegment}): indices {@code [from, to)}, in segment {@code segment}. */
    @FunctionalInterface
    public interface SegmentRange {
        void run(int segment, int from, int to);
    }

    /**
     * Cuts {@code [from, to)} at the segment boundaries {@code starts} (ascending, {@code starts[0] = 0},
     * segment {@code i} is {@code [starts[i], starts[i + 1])}) and runs {@code body} on each non-empty
     * piece in order: how a chunk of one parallel loop over several matrices' rows, laid end to end,
     * finds its matrices.
     */
    public static void bySegment(int[] starts, int from, int to, SegmentRange body) {
        int i = 0;
        while (starts[i + 1] <= from) i++;
        for (int g = from; g < to; i++) {
            int end = Math.min(to, starts[i + 1]);
            if (end > g) body.run(i, g, end);
            g = end;
        }
    }

    /** Body of a parallel loop: handles indices {@code [from, to)}. */
    @FunctionalInterface
    public interface Range {
        void run(int from, int to);
    }

    private static final class Job {
        final Range body;
        final int n, chunks;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger pending;
        final AtomicReference<Throwable> error = new AtomicReference<>();
        final long seq;

        Job(long seq, Range body, int n, int chunks) {
            this.seq = seq;
            this.body = body;
            this.n = n;
            this.chunks = chunks;
            this.pending = new AtomicInteger(chunks);
        }

        /** Claims and runs chunks until none are left. */
        void work() {
            int c;
            while ((c = next.getAndIncrement()) < chunks) {
                try {
                    body.run((int) ((long) n * c / chunks), (int) ((long) n * (c + 1) / chunks));
                } catch (Throwable t) {
                    error.compareAndSet(null, t);
                } finally {
                    pending.decrementAndGet();
                }
            }
        }
    }

    private static final ReentrantLock LOCK = new ReentrantLock();
    /** The running job, or null between jobs (so finished jobs and their arrays are not retained). */
    private static volatile Job current;
    private static long seq;
    private static final Worker[] WORKERS = new Worker[THREADS - 1];

    private static final class Worker extends Thread {
        volatile boolean parked;

        Worker(int i) {
            super("sluice-cpu-" + i);
            setDaemon(true);
        }

        @Override
        public void run() {
            long last = 0;
            while (true) {
                long spinUntil = System.nanoTime() + SPIN_NANOS;
                Job j;
                int spins = 0;
                while ((j = current) == null || j.seq == last) {
                    if (System.nanoTime() < spinUntil) {
                        pause(++spins);
                    } else {
                        parked = true;
                        Job again = current;
                        if (again == null || again.seq == last) LockSupport.park(this);
                        parked = false;
                        spinUntil = System.nanoTime() + SPIN_NANOS;
                    }
                }
                last = j.seq;
                j.work();
                j = null;
            }
        }
    }

    static {
        for (int i = 0; i < WORKERS.length; i++) {
            WORKERS[i] = new Worker(i + 1);
            WORKERS[i].start();
        }
    }

    /** A spin-wait step; every 64th yields, so an oversubscribed machine still schedules the thread being waited for. */
    private static void pause(int spins) {
        if ((spins & 63) == 0) Thread.yield();
        else Thread.onSpinWait();
    }

    /**
     * Runs {@code body} over {@code [0, n)} split into chunks of at least {@code grain} indices, and
     * returns when all are done. Runs inline when the range is a single chunk, there is one thread,
     * or the call comes from inside a running job.
     */
    public static void forRange(int n, int grain, Range body) {
        if (n <= 0) return;
        int chunks = Math.min(THREADS * 4, Math.max(1, n / Math.max(1, grain)));
        if (chunks <= 1 || THREADS == 1 || Thread.currentThread() instanceof Worker || LOCK.isHeldByCurrentThread()) {
            body.run(0, n);
            return;
        }
        LOCK.lock();
        try {
            Job job = new Job(++seq, body, n, chunks);
            current = job;
            for (Worker w : WORKERS) if (w.parked) LockSupport.unpark(w);
            job.work();
            for (int spins = 1; job.pending.get() > 0; spins++) pause(spins);
            current = null;
            Throwable t = job.error.get();
            if (t instanceof RuntimeException e) throw e;
            if (t instanceof Error e) throw e;
            if (t != null) throw new IllegalStateException(t);
        } finally {
            current = null;
            LOCK.unlock();
        }
    }
}
