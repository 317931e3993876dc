package dev.sluice.engine.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;

/**
 * Measures this machine's float FMA throughput with the Vector API species the engine's kernels use
 * ({@link FloatVector#SPECIES_PREFERRED}, as {@code VectorKernels}): {@code threads} platform threads
 * each run {@value #CHAINS} independent accumulator chains of {@code acc = acc * m + c} in registers
 * (no memory traffic), timed from the first thread's start to the last thread's end after a common
 * barrier; the best of several passes of about 20 ms is reported, as {@link MemoryBandwidth} does.
 *
 * <p>Design note: the figure is the ceiling for a compute-bound matmul written with the same
 * species. {@value #CHAINS} chains cover the FMA latency times the FMA pipes of current x86 cores
 * (4 cycles x 2 pipes). Zen 4 executes a 512-bit FMA as two 256-bit halves, so 512-bit and 256-bit
 * species reach about the same peak there; Zen 5 has full-width 512-bit FMA pipes and twice the
 * 512-bit peak of its 256-bit one. The engine benchmark divides its decode GFLOP/s (2 x the
 * matmul multiply-adds per token x aggregate tokens per second) by this peak. Each pass is short
 * enough that a shared machine's other work rarely lands in all of them; the kernel is a small method
 * called many times, and the warm-up runs it until its rate stops improving, so C2 has compiled it
 * (intrinsified vectors) before timing.
 */
public final class ComputePeak {
    /** Independent accumulator chains per thread. */
    public static final int CHAINS = 12;
    /** Default total time of the measurement, seconds (warm-up and passes). */
    public static final double DEFAULT_SECONDS = 0.3;
    /** Inner iterations of one {@link #burst} call: {@code CHAINS * INNER} FMAs. */
    static final int INNER = 1024;

    private ComputePeak() {}

    /**
     * One measurement.
     *
     * @param flopsPerSecond best FMA throughput over the passes, floating-point operations per second (an FMA is 2)
     * @param threads        threads that ran the FMA chains
     * @param lanes          float lanes of the species
     * @param bits           vector size of the species in bits
     * @param passes         timed passes
     * @param checksum       sum of the accumulators (meaningless; keeps the arithmetic alive)
     */
    public record Result(double flopsPerSecond, int threads, int lanes, int bits, int passes, double checksum) {
        /** Peak in GFLOP/s (10^9 floating-point operations per second). */
        public double gflops() {
            return flopsPerSecond / 1e9;
        }
    }

    /** The species measured: the engine's ({@code -XX:MaxVectorSize=32} makes it 256-bit on an AVX-512 machine). */
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /** {@link #measure(int, double)} with {@link #DEFAULT_SECONDS}. */
    public static Result measure(int threads) {
        return measure(threads, DEFAULT_SECONDS);
    }

    /**
     * Runs FMA chains on {@code threads} threads for about {@code seconds} in all
     * (a third warms up the JIT, the rest is split into timed passes) and returns the best pass.
     *
     * @throws IllegalArgumentException when {@code threads} or {@code seconds} is not positive
     */
    public static Result measure(int threads, double seconds) {
        if (threads <= 0) throw new IllegalArgumentException("threads must be > 0, got " + threads);
        if (!(seconds > 0)) throw new IllegalArgumentException("seconds must be > 0, got " + seconds);
        double checksum = 0;
        // warm-up on this thread until C2 has compiled burst: windows of 10 ms until the rate stops
        // improving (interpreted and C1 code run the Vector API's Java fallback, 10-100x slower)
        long start = System.nanoTime(), warmEnd = start + (long) (seconds / 3 * 1e9), cap = start + (long) (5 * seconds * 1e9);
        double bestRate = 0, lastRate = 0;
        int stable = 0;
        while (true) {
            long w0 = System.nanoTime();
            int calls = 0;
            do {
                checksum += burst(1);
                calls++;
            } while (System.nanoTime() - w0 < 10_000_000L);
            lastRate = calls / ((System.nanoTime() - w0) / 1e9);
            stable = lastRate > bestRate * 1.05 ? 0 : stable + 1;
            bestRate = Math.max(bestRate, lastRate);
            long now = System.nanoTime();
            if (now > cap || (now > warmEnd && stable >= 3)) break;
        }
        // timed passes of about 20 ms each at the compiled rate, in the remaining time
        int perPass = (int) Math.max(1, bestRate * 0.02);
        int passes = (int) Math.max(3, Math.min(20, seconds * 2 / 3 / 0.02));
        long best = Long.MAX_VALUE;
        for (int p = 0; p < passes; p++) {
            double[] r = pass(threads, perPass);
            best = Math.min(best, (long) r[0]);
            checksum += r[1];
        }
        double flops = 2.0 * F.length() * CHAINS * INNER * (double) perPass * threads;
        return new Result(flops / (best / 1e9), threads, F.length(), F.vectorBitSize(), passes, checksum);
    }

    /**
     * One timed pass: {@code [nanoseconds, checksum]}. Each worker reads the clock itself around its
     * FMAs; the pass lasts from the first start to the last end (timing from the calling thread would
     * count thread start-up, or miss work done before it is scheduled again).
     */
    private static double[] pass(int threads, int bursts) {
        double[] sums = new double[threads];
        long[] starts = new long[threads], ends = new long[threads];
        CyclicBarrier start = new CyclicBarrier(threads);
        List<Thread> workers = new ArrayList<>(threads);
        for (int i = 0; i < threads; i++) {
            int id = i;
            workers.add(Thread.ofPlatform().daemon().name("sluice-fmapeak-" + i).start(() -> {
                try {
                    start.await();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                starts[id] = System.nanoTime();
                sums[id] = burst(bursts);
                ends[id] = System.nanoTime();
            }));
        }
        try {
            for (Thread t : workers) t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("FMA peak pass interrupted", e);
        }
        long first = Long.MAX_VALUE, last = Long.MIN_VALUE;
        double sum = 0;
        for (int i = 0; i < threads; i++) {
            first = Math.min(first, starts[i]);
            last = Math.max(last, ends[i]);
            sum += sums[i];
        }
        return new double[] {Math.max(1, last - first), sum};
    }

    /**
     * {@code reps * INNER} steps of {@value #CHAINS} independent FMA chains; returns the sum of the
     * accumulators. {@code acc = acc * m + c} with {@code m < 1} converges, so no value overflows or
     * becomes denormal.
     */
    static double burst(int reps) {
        VectorSpecies<Float> s = F;
        FloatVector m = FloatVector.broadcast(s, 0.999f), c = FloatVector.broadcast(s, 1e-3f);
        FloatVector a0 = FloatVector.broadcast(s, 0.1f), a1 = FloatVector.broadcast(s, 0.2f), a2 = FloatVector.broadcast(s, 0.3f);
        FloatVector a3 = FloatVector.broadcast(s, 0.4f), a4 = FloatVector.broadcast(s, 0.5f), a5 = FloatVector.broadcast(s, 0.6f);
        FloatVector a6 = FloatVector.broadcast(s, 0.7f), a7 = FloatVector.broadcast(s, 0.8f), a8 = FloatVector.broadcast(s, 0.9f);
        FloatVector a9 = FloatVector.broadcast(s, 1.0f), a10 = FloatVector.broadcast(s, 1.1f), a11 = FloatVector.broadcast(s, 1.2f);
        for (int r = 0; r < reps; r++) {
            for (int i = 0; i < INNER; i++) {
                a0 = a0.fma(m, c);
                a1 = a1.fma(m, c);
                a2 = a2.fma(m, c);
                a3 = a3.fma(m, c);
                a4 = a4.fma(m, c);
                a5 = a5.fma(m, c);
                a6 = a6.fma(m, c);
                a7 = a7.fma(m, c);
                a8 = a8.fma(m, c);
                a9 = a9.fma(m, c);
                a10 = a10.fma(m, c);
                a11 = a11.fma(m, c);
            }
        }
        FloatVector sum = a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11);
        return sum.reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }
}
