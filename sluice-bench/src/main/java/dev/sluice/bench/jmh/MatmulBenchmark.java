package dev.sluice.bench.jmh;

import java.util.SplittableRandom;

import dev.sluice.engine.bench.RandomTensors;

import dev.sluice.engine.kernels.Kernels;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;
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
 * Weight kernels of every type, vector against scalar backend, at the benchmark model's
 * {@code ffn_down} shape ({@code 896 x 4864}: cols a multiple of 256, as the K-quants need):
 * <ul>
 *   <li>{@code dot}: one row (4864 weights) with one activation vector;</li>
 *   <li>{@code matvec}: the whole matrix with one vector (a decode step's projection);</li>
 *   <li>{@code matmul}: the whole matrix with {@code n} vectors (prefill chunk / batched decode).</li>
 * </ul>
 * Threads: {@code matvec} and {@code matmul} split rows over the engine's worker pool
 * ({@code -Dsluice.threads}, default all cores); {@code dot} is single-threaded.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx2g"})
public class MatmulBenchmark {
    @Param({"F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    public String type;

    @Param({"cpu-vector", "cpu-scalar"})
    public String backend;

    /** Rows of the weight matrix (outputs). */
    @Param({"896"})
    public int rows;

    /** Columns (inputs); a multiple of 256. */
    @Param({"4864"})
    public int cols;

    /** Vectors of the {@code matmul} benchmark. */
    @Param({"16"})
    public int n;

    private Kernels kernels;
    private Tensor w;
    private float[] x, xs, out, outs;

    @Setup
    public void setup() {
        kernels = Kernels.create(backend);
        w = RandomTensors.aligned("bench." + type, GGMLType.valueOf(type), cols, rows, 0.02f, new SplittableRandom(42));
        x = RandomTensors.gaussArray(cols, 1, new SplittableRandom(7));
        xs = RandomTensors.gaussArray(cols * n, 1, new SplittableRandom(8));
        out = new float[rows];
        outs = new float[rows * n];
    }

    @Benchmark
    public float dot() {
        return kernels.dot(w, rows / 2, x, 0);
    }

    @Benchmark
    public void matvec(Blackhole bh) {
        kernels.matvec(w, x, out);
        bh.consume(out);
    }

    @Benchmark
    public void matmul(Blackhole bh) {
        kernels.matmul(w, xs, outs, n);
        bh.consume(outs);
    }
}
