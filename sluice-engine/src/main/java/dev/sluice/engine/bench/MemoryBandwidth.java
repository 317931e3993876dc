package dev.sluice.engine.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;

/**
 * Measures this machine's memory read bandwidth with a STREAM-like read pass: {@code threads}
 * platform threads each sum the longs of their own contiguous slice of an off-heap buffer much
 * larger than the caches; the pass is timed from a common start barrier until the last thread
 * finishes, and the best of several passes is reported (as STREAM does: the best pass is the
 * one least disturbed by other work on the machine).
 *
 * <p>Design note: decode of a memory-bound model reads every weight once per token, so
 * {@code bandwidth / weight bytes per token} is the highest decode rate the machine allows; the
 * engine benchmark reports measured decode as a fraction of that limit. The read loop uses eight
 * independent accumulators so that it is bound by loads, not by the add latency chain; each
 * thread's sum is kept (and returned via {@link Result#checksum()}) so the JIT cannot drop the
 * loads. The buffer is filled (every page touched) before timing, so page faults are not timed.
 */
public final class MemoryBandwidth {
    /** Default buffer: 512 MiB, far larger than any L3 cache of this class of machine, and small enough to allocate anywhere the benchmark model fits. */
    public static final long DEFAULT_BUFFER_BYTES = 512L << 20;
    /** Default number of timed passes; the best is reported. */
    public static final int DEFAULT_RUNS = 5;

    private MemoryBandwidth() {}

    /**
     * One measurement.
     *
     * @param bytesPerSecond best read bandwidth over the passes, bytes per second
     * @param bufferBytes    bytes read per pass
     * @param threads        reading threads
     * @param runs           timed passes
     * @param checksum       sum of everything read (meaningless; keeps the loads alive)
     */
    public record Result(double bytesPerSecond, long bufferBytes, int threads, int runs, long checksum) {
        /** Bandwidth in GB/s (10^9 bytes per second). */
        public double gbPerSecond() {
            return bytesPerSecond / 1e9;
        }
    }

    /** {@link #measure(long, int, int)} with {@link #DEFAULT_BUFFER_BYTES} and {@link #DEFAULT_RUNS}. */
    public static Result measure(int threads) {
        return measure(DEFAULT_BUFFER_BYTES, threads, DEFAULT_RUNS);
    }

    /**
     * Reads a buffer of {@code bufferBytes} (rounded down to a multiple of {@code 64 * threads})
     * with {@code threads} threads, {@code runs} times, and returns the best pass.
     *
     * @throws IllegalArgumentException when an argument is not positive or the buffer is under 1 MiB
     */
    public static Result measure(long bufferBytes, int threads, int runs) {
        if (threads <= 0) throw new IllegalArgumentException("threads must be > 0, got " + threads);
        if (runs <= 0) throw new IllegalArgumentException("runs must be > 0, got " + runs);
        if (bufferBytes < (1 << 20)) throw new IllegalArgumentException("bufferBytes must be >= 1 MiB, got " + bufferBytes);
        long slice = bufferBytes / threads / 64 * 64;
        long total = slice * threads;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(total, 64);
            for (long i = 0; i < total; i += 8) buf.set(ValueLayout.JAVA_LONG, i, i);
            long best = Long.MAX_VALUE;
            long checksum = 0;
            // one untimed pass warms the JIT of the read loop
            checksum += pass(buf, slice, threads)[1];
            for (int r = 0; r < runs; r++) {
                long[] t = pass(buf, slice, threads);
                best = Math.min(best, t[0]);
                checksum += t[1];
            }
            return new Result(total / (best / 1e9), total, threads, runs, checksum);
        }
    }

    /** One timed pass: {@code [nanoseconds, checksum]}. */
    private static long[] pass(MemorySegment buf, long slice, int threads) {
        long[] sums = new long[threads];
        CyclicBarrier start = new CyclicBarrier(threads + 1);
        List<Thread> workers = new ArrayList<>(threads);
        for (int i = 0; i < threads; i++) {
            int id = i;
            Thread t = Thread.ofPlatform().daemon().name("sluice-membw-" + i).start(() -> {
                try {
                    start.await();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                sums[id] = readSum(buf, id * slice, slice);
            });
            workers.add(t);
        }
        long t0;
        try {
            start.await();
            t0 = System.nanoTime();
            for (Thread t : workers) t.join();
        } catch (Exception e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            throw new IllegalStateException("bandwidth pass interrupted", e);
        }
        long nanos = System.nanoTime() - t0;
        long sum = 0;
        for (long s : sums) sum += s;
        return new long[] {Math.max(1, nanos), sum};
    }

    /** Sum of the longs in {@code [off, off + len)}; {@code len} is a multiple of 64. */
    static long readSum(MemorySegment buf, long off, long len) {
        long s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
        for (long i = off, end = off + len; i < end; i += 64) {
            s0 += buf.get(L, i);
            s1 += buf.get(L, i + 8);
            s2 += buf.get(L, i + 16);
            s3 += buf.get(L, i + 24);
            s4 += buf.get(L, i + 32);
            s5 += buf.get(L, i + 40);
            s6 += buf.get(L, i + 48);
            s7 += buf.get(L, i + 56);
        }
        return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
    }
}
