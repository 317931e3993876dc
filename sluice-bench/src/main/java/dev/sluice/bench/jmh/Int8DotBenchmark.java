package dev.sluice.bench.jmh;

import dev.sluice.engine.bench.RandomTensors;
import dev.sluice.engine.kernels.Kernels;
import dev.sluice.engine.tensor.Dequant;
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

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Issue 3's question: are int8 dot products on Q8_0-quantized activations ({@link Int8Dot}) faster
 * than the engine's float-activation dots for Q8_0 and Q4_0 rows, with the Vector API? Each
 * benchmark dots all {@code rows} rows of one matrix with one activation vector on one thread
 * (a single-threaded matvec); the int8 ones quantize the activation first, once per call, so the
 * quantization is amortized over {@code rows} rows as in a decode step's projection. Divide the
 * time by {@code rows} for ns per row; GFLOP/s = 2 x rows x cols / time.
 * Setup checks every int8 result against the float one (see {@link #check}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx2g"})
public class Int8DotBenchmark {
    /** Columns: 896 (Q/K/V, gate/up, output head) and 4864 (ffn_down) in the benchmark model. */
    @Param({"896", "4864"})
    public int cols;

    /** Rows per call (the quantization is amortized over these). */
    @Param({"896"})
    public int rows;

    private Kernels kernels;
    private Tensor q8, q4;
    private MemorySegment s8, s4;
    private long rb8, rb4;
    private float[] x, out;
    private Int8Dot.Q8 xq;

    @Setup
    public void setup() {
        kernels = Kernels.create("cpu-vector");
        q8 = RandomTensors.aligned("bench.q8", GGMLType.Q8_0, cols, rows, 0.02f, new SplittableRandom(42));
        q4 = RandomTensors.aligned("bench.q4", GGMLType.Q4_0, cols, rows, 0.02f, new SplittableRandom(43));
        s8 = q8.data();
        s4 = q4.data();
        rb8 = q8.rowBytes();
        rb4 = q4.rowBytes();
        x = RandomTensors.gaussArray(cols, 1, new SplittableRandom(7));
        out = new float[rows];
        xq = new Int8Dot.Q8(cols);
        System.err.println(check(q8, q4, x));
    }

    /**
     * Every variant against the float dot, over all rows: the error relative to {@code sum |w_i x_i|}
     * (the scale of the rounding of one product term). Quantizing an activation to 8 bits moves each
     * element by at most {@code amax / 254} of its block, so the expected error is a few 1e-3 of that
     * scale; anything above 2e-2 is a bug and throws.
     */
    static String check(Tensor q8, Tensor q4, float[] x) {
        int cols = q8.cols();
        Int8Dot.Q8 a = Int8Dot.quantize(x, cols, new Int8Dot.Q8(cols));
        String[] names = {"q8S2I", "q8Pairs", "q8Add16", "q8Pairs2", "q8Add16x2", "q8Pairs4", "q4Add16", "q4Add16x2"};
        double[] worst = new double[names.length];
        double[] mean = new double[names.length];
        float[] w = new float[cols];
        for (int r = 0; r < q8.rows(); r++) {
            for (int t = 0; t < 2; t++) {
                Tensor m = t == 0 ? q8 : q4;
                Dequant.row(m.type(), m.data(), r * m.rowBytes(), w, 0, cols);
                double scale = 0;
                for (int i = 0; i < cols; i++) scale += Math.abs((double) w[i] * x[i]);
                long off = r * m.rowBytes();
                float ref = t == 0 ? Int8Dot.floatQ8_0(m.data(), off, x, cols) : Int8Dot.floatQ4_0(m.data(), off, x, cols);
                float ref2 = t == 0 ? Int8Dot.floatQ8_0x2(m.data(), off, x, cols) : Int8Dot.floatQ4_0x2(m.data(), off, x, cols);
                float ref4 = t == 0 ? Int8Dot.floatQ8_0x4(m.data(), off, x, cols) : ref2;
                // the float variants differ from each other by reassociation only
                if (Math.abs(ref2 - ref) > 1e-5 * scale || Math.abs(ref4 - ref) > 1e-5 * scale)
                    throw new IllegalStateException("float variants disagree at row " + r + ": " + ref + " " + ref2 + " " + ref4);
                float[] got = t == 0
                        ? new float[] {Int8Dot.q8S2I(m.data(), off, a, cols), Int8Dot.q8Pairs(m.data(), off, a, cols),
                                Int8Dot.q8Add16(m.data(), off, a, cols), Int8Dot.q8Pairs2(m.data(), off, a, cols),
                                Int8Dot.q8Add16x2(m.data(), off, a, cols), Int8Dot.q8Pairs4(m.data(), off, a, cols)}
                        : new float[] {Int8Dot.q4Add16(m.data(), off, a, cols), Int8Dot.q4Add16x2(m.data(), off, a, cols)};
                for (int k = 0; k < got.length; k++) {
                    int v = t == 0 ? k : 6 + k;
                    double e = Math.abs(got[k] - ref) / scale;
                    worst[v] = Math.max(worst[v], e);
                    mean[v] += e / q8.rows();
                }
            }
        }
        StringBuilder sb = new StringBuilder("int8 vs float dot, error / sum|w x| over " + q8.rows() + " rows of " + cols + ":");
        for (int v = 0; v < names.length; v++) {
            sb.append(String.format(" %s mean %.2e max %.2e;", names[v], mean[v], worst[v]));
            if (!(worst[v] < 2e-2)) throw new IllegalStateException(sb.toString());
        }
        return sb.toString();
    }

    @Benchmark
    public float[] q8Engine() {
        for (int r = 0; r < rows; r++) out[r] = kernels.dot(q8, r, x, 0);
        return out;
    }

    @Benchmark
    public float[] q8Float() {
        for (int r = 0; r < rows; r++) out[r] = Int8Dot.floatQ8_0(s8, r * rb8, x, cols);
        return out;
    }

    @Benchmark
    public float[] q8S2I() {
        Int8Dot.Q8 a = Int8Dot.quantize(x, cols, xq);
        for (int r = 0; r < rows; r++) out[r] = Int8Dot.q8S2I(s8, r * rb8, a, cols);
        return out;
    }

    @Benchmark
    public float[] q8Pairs() {
        Int8Dot.Q8 a = Int8Dot.quantize(x, cols, xq);
        for (int r = 0; r < rows; r++) out[r] = Int8Dot.q8Pairs(s8, r * rb8, a, cols);
        return out;
    }

    @Benchmark
    public float[] q8Add16() {
        Int8Dot.Q8 a = Int8Dot.quantize(x, cols, xq);
        for (int r = 0; r < rows; r++) out[r] = Int8Dot.q8Add16(s8, r * rb8, a, cols);
        return out;
    }

    @Benchmark
    public float[] q8Pairs2() {
        Int8Dot.Q8 a = Int8Dot.quantize(x, cols, xq);
        for (int r = 0; r < rows; r++) out[r] = Int8Dot.q8Pairs2(s8, r * rb8, a, cols);
        return out;
    }

    @Benchmark
    public Int8Dot.Q8 quantize() {
        return Int8Dot.quantize(x, cols, xq);
    }

    @Benchmark
    public float[] q4Engine() {
        for (int r = 0; r < rows; r++) out[r] = kernels.dot(q4, r, x, 0);
        return out;
    }

    @Benchmark
    public float[] q4Float() {
        for (int r = 0; r < rows; r++) out[r] = Int8Dot.floatQ4_0(s4, r * rb4, x, cols);
        return out;
    }

    @Benchmark
    public float[] q4Add16() {
        Int8Dot.Q8 a = Int8Dot.quantize(x, cols, xq);
        for (int r = 0; r < rows; r++) out[r] = Int8Dot.q4Add16(s4, r * rb4, a, cols);
        return out;
    }
    @Benchmark
    public float[] q8FloatX2() {
        for (int r = 0; r < rows; r++) out[r] = Int8Dot.floatQ8_0x2(s8, r * rb8, x, cols);
        return out;
    }

    @Benchmark
    public float[] q8FloatX4() {
        for (int r = 0; r < rows; r++) out[r] = Int8Dot.floatQ8_0x4(s8, r * rb8, x, cols);
        return out;
    }

    @Benchmark
    public float[] q8Add16x2() {
        Int8Dot.Q8 a = Int8Dot.quantize(x, cols, xq);
        for (int r = 0; r < rows; r++) out[r] = Int8Dot.q8Add16x2(s8, r * rb8, a, cols);
        return out;
    }

    @Benchmark
    public float[] q8Pairs4() {
        Int8Dot.Q8 a = Int8Dot.quantize(x, cols, xq);
        for (int r = 0; r < rows; r++) out[r] = Int8Dot.q8Pairs4(s8, r * rb8, a, cols);
        return out;
    }

    @Benchmark
    public float[] q4FloatX2() {
        for (int r = 0; r < rows; r++) out[r] = Int8Dot.floatQ4_0x2(s4, r * rb4, x, cols);
        return out;
    }

    @Benchmark
    public float[] q4Add16x2() {
        Int8Dot.Q8 a = Int8Dot.quantize(x, cols, xq);
        for (int r = 0; r < rows; r++) out[r] = Int8Dot.q4Add16x2(s4, r * rb4, a, cols);
        return out;
    }
}
