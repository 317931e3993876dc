package dev.sluice.bench.jmh;

import java.util.SplittableRandom;

import dev.sluice.engine.bench.RandomTensors;

import dev.sluice.engine.kernels.Kernels;
import dev.sluice.engine.kernels.RopeTable;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.util.concurrent.TimeUnit;

/**
 * The activation kernels at the benchmark model's shape (qwen2: hidden 896, 14 heads, 2 KV heads,
 * head dim 64), vector against scalar backend: {@code rmsnorm} of one hidden vector, {@code rope} of
 * one token's query heads, {@code softmax} over {@code ctx} scores, and decode {@code attention}
 * (one query token over {@code ctx} cached positions, all heads).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx2g"})
public class OpsBenchmark {
    static final int N_EMBD = 896, N_HEADS = 14, N_KV_HEADS = 2, HEAD_DIM = 64;

    @Param({"cpu-vector", "cpu-scalar"})
    public String backend;

    /** Context length: softmax size and cached positions of {@code attention}. */
    @Param({"128", "1024"})
    public int ctx;

    private Kernels kernels;
    private RopeTable rope;
    private float[] x, h, normWeight, q, scores, scoresSrc, att, kCache, vCache;

    @Setup
    public void setup() {
        kernels = Kernels.create(backend);
        rope = new RopeTable(HEAD_DIM, ctx, 1e6, true, null, null);
        x = RandomTensors.gaussArray(N_EMBD, 1, new SplittableRandom(1));
        h = new float[N_EMBD];
        normWeight = RandomTensors.gaussArray(N_EMBD, 1, new SplittableRandom(2));
        q = RandomTensors.gaussArray(N_HEADS * HEAD_DIM, 1, new SplittableRandom(3));
        scoresSrc = RandomTensors.gaussArray(ctx, 3, new SplittableRandom(4));
        scores = new float[ctx];
        att = new float[N_HEADS * HEAD_DIM];
        kCache = RandomTensors.gaussArray(ctx * N_KV_HEADS * HEAD_DIM, 1, new SplittableRandom(5));
        vCache = RandomTensors.gaussArray(ctx * N_KV_HEADS * HEAD_DIM, 1, new SplittableRandom(6));
    }

    @Benchmark
    public void rmsnorm(Blackhole bh) {
        kernels.rmsnorm(h, x, normWeight, N_EMBD, 1, 1e-6f);
        bh.consume(h);
    }

    @Benchmark
    public void rope(Blackhole bh) {
        // rotating in place repeatedly keeps magnitudes (a rotation), so values stay finite
        kernels.rope(q, 0, N_HEADS, ctx - 1, rope);
        bh.consume(q);
    }

    @Benchmark
    public void softmax(Blackhole bh) {
        System.arraycopy(scoresSrc, 0, scores, 0, ctx);
        kernels.softmax(scores, 0, ctx);
        bh.consume(scores);
    }

    @Benchmark
    public void attention(Blackhole bh) {
        kernels.attention(q, att, 1, ctx - 1, kCache, vCache, N_HEADS, N_KV_HEADS, HEAD_DIM, 0);
        bh.consume(att);
    }
}
