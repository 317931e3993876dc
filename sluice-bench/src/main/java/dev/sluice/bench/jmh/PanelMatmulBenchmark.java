package dev.sluice.bench.jmh;

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

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The batched matmul of the {@code cpu-vector} backend on the two weight layouts, same values, same run:
 * {@code rows} (ggml's, as in the file: dequantized row tiles and inner-product register tiles) against
 * {@code panels} (what {@code Kernels.prepare} makes at load on 16-lane CPUs: 16-row panels, weights
 * decoded in registers, outer-product tiles; {@code PanelKernels}). Shapes of the benchmark model:
 * {@code 4864 x 896} (gate/up) and {@code 896 x 4864} (down); {@code n} vectors (1 = decode, 16 =
 * batch-16 decode, 128 = prefill). {@code matrices} copies of the weights are cycled so that, at 48,
 * they stream from memory as in a model (the benchmark model's 24 layers do not fit in L3).
 * GFLOP/s = {@code 2 x rows x cols x n / time}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class PanelMatmulBenchmark {
    @Param({"Q4_0", "Q8_0", "F16"})
    public String type;

    @Param({"rows", "panels"})
    public String layout;

    /** {@code rows x cols}. */
    @Param({"4864x896", "896x4864"})
    public String shape;

    @Param({"1", "16", "128"})
    public int n;

    /** Weight copies cycled per call: 48 streams them from memory, 1 keeps them in cache. */
    @Param({"48"})
    public int matrices;

    private Kernels kernels;
    private Tensor[] ws;
    private float[] x, out;
    private int next;

    @Setup
    public void setup() {
        kernels = Kernels.create("cpu-vector");
        int rows = Integer.parseInt(shape.substring(0, shape.indexOf('x'))), cols = Integer.parseInt(shape.substring(shape.indexOf('x') + 1));
        SplittableRandom rnd = new SplittableRandom(42);
        ws = new Tensor[matrices];
        for (int i = 0; i < matrices; i++) {
            Tensor w = RandomTensors.aligned("bench." + type, GGMLType.valueOf(type), cols, rows, 0.02f, rnd);
            ws[i] = "panels".equals(layout) ? kernels.prepare(w) : w;
            if ("panels".equals(layout) && ws[i] == w) throw new IllegalStateException("this CPU has no panel kernels (16 float lanes needed)");
        }
        x = RandomTensors.gaussArray(cols * n, 1, new SplittableRandom(7));
        out = new float[rows * n];
    }

    @Benchmark
    public void matmul(Blackhole bh) {
        Tensor w = ws[next];
        next = (next + 1) % ws.length;
        kernels.matmul(w, x, out, n);
        bh.consume(out);
    }
}
