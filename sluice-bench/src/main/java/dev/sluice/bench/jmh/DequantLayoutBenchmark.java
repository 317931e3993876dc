package dev.sluice.bench.jmh;

import dev.sluice.engine.bench.RandomTensors;
import dev.sluice.engine.tensor.Dequant;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Issue 3's open question: would repacking Q8_0 / Q4_0 weights at load pay for the batched GEMM, whose
 * dequantization of each 4-row tile is 17-22% of a batch-16 step? Each benchmark dequantizes every row
 * of one {@code rows x cols} matrix, four rows at a time, into one reused tile (as {@code VectorKernels.gemm}
 * does), on one thread, with 16-lane vectors:
 * <ul>
 *   <li>{@code *Gguf}: the GGUF layout, as the engine reads it (blocks of a half-precision scale and 32
 *       quants, 34 or 18 bytes, so most quant loads are unaligned and a scale is converted per block);
 *   <li>{@code *Repacked}: scales converted to a float array at load, the quants of a row contiguous in a
 *       64-byte aligned segment (what a load-time repack would make).
 * </ul>
 * Setup checks that both give the same bits. A tile's time is {@code time / (rows / 4)}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx2g"})
public class DequantLayoutBenchmark {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_512;

    /** Columns: 896 (Q/K/V, gate/up, output head) and 4864 (ffn_down) in the benchmark model. */
    @Param({"896", "4864"})
    public int cols;

    @Param({"896"})
    public int rows;

    private Arena arena;
    private MemorySegment g8, g4, q8, q4;
    private float[] d8, d4, tile;

    @Setup
    public void setup() {
        Tensor t8 = RandomTensors.aligned("bench.q8", GGMLType.Q8_0, cols, rows, 0.02f, new SplittableRandom(42));
        Tensor t4 = RandomTensors.aligned("bench.q4", GGMLType.Q4_0, cols, rows, 0.02f, new SplittableRandom(43));
        g8 = t8.data();
        g4 = t4.data();
        int blocks = rows * (cols / 32);
        arena = Arena.ofShared();
        q8 = arena.allocate((long) rows * cols, 64);
        q4 = arena.allocate((long) rows * cols / 2, 64);
        d8 = new float[blocks];
        d4 = new float[blocks];
        for (int b = 0; b < blocks; b++) {
            d8[b] = Dequant.halfAt(g8, 34L * b);
            MemorySegment.copy(g8, 34L * b + 2, q8, 32L * b, 32);
            d4[b] = Dequant.halfAt(g4, 18L * b);
            MemorySegment.copy(g4, 18L * b + 2, q4, 16L * b, 16);
        }
        tile = new float[4 * cols];
        check();
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    private void check() {
        float[] a = new float[4 * cols], b = new float[4 * cols];
        for (int r0 = 0; r0 < rows; r0 += 4) {
            q8Gguf(r0, a);
            q8Repacked(r0, b);
            if (!java.util.Arrays.equals(a, b)) throw new IllegalStateException("Q8_0 layouts differ at row tile " + r0);
            q4Gguf(r0, a);
            q4Repacked(r0, b);
            if (!java.util.Arrays.equals(a, b)) throw new IllegalStateException("Q4_0 layouts differ at row tile " + r0);
            float[] ref = new float[cols];
            Dequant.row(GGMLType.Q4_0, g4, (long) r0 * (cols / 32) * 18, ref, 0, cols);
            if (!java.util.Arrays.equals(ref, 0, cols, a, 0, cols)) throw new IllegalStateException("Q4_0 differs from Dequant.row at " + r0);
        }
    }

    @Benchmark
    public float[] q8Gguf() {
        for (int r0 = 0; r0 < rows; r0 += 4) q8Gguf(r0, tile);
        return tile;
    }

    @Benchmark
    public float[] q8Repacked() {
        for (int r0 = 0; r0 < rows; r0 += 4) q8Repacked(r0, tile);
        return tile;
    }

    @Benchmark
    public float[] q4Gguf() {
        for (int r0 = 0; r0 < rows; r0 += 4) q4Gguf(r0, tile);
        return tile;
    }

    @Benchmark
    public float[] q4Repacked() {
        for (int r0 = 0; r0 < rows; r0 += 4) q4Repacked(r0, tile);
        return tile;
    }

    private void q8Gguf(int r0, float[] dst) {
        int bpr = cols / 32;
        long off = (long) r0 * bpr * 34;
        for (int b = 0, o = 0; b < 4 * bpr; b++, off += 34, o += 32) {
            FloatVector d = FloatVector.broadcast(F, Dequant.halfAt(g8, off));
            ((FloatVector) ByteVector.fromMemorySegment(B16, g8, off + 2, ByteOrder.LITTLE_ENDIAN).castShape(F, 0)).mul(d).intoArray(dst, o);
            ((FloatVector) ByteVector.fromMemorySegment(B16, g8, off + 18, ByteOrder.LITTLE_ENDIAN).castShape(F, 0)).mul(d).intoArray(dst, o + 16);
        }
    }

    private void q8Repacked(int r0, float[] dst) {
        int bpr = cols / 32, b0 = r0 * bpr;
        long off = (long) b0 * 32;
        for (int b = 0, o = 0; b < 4 * bpr; b++, off += 32, o += 32) {
            FloatVector d = FloatVector.broadcast(F, d8[b0 + b]);
            ((FloatVector) ByteVector.fromMemorySegment(B16, q8, off, ByteOrder.LITTLE_ENDIAN).castShape(F, 0)).mul(d).intoArray(dst, o);
            ((FloatVector) ByteVector.fromMemorySegment(B16, q8, off + 16, ByteOrder.LITTLE_ENDIAN).castShape(F, 0)).mul(d).intoArray(dst, o + 16);
        }
    }

    private void q4Gguf(int r0, float[] dst) {
        int bpr = cols / 32;
        long off = (long) r0 * bpr * 18;
        for (int b = 0, o = 0; b < 4 * bpr; b++, off += 18, o += 32) {
            float df = Dequant.halfAt(g4, off);
            q4Block(ByteVector.fromMemorySegment(B16, g4, off + 2, ByteOrder.LITTLE_ENDIAN), df, dst, o);
        }
    }

    private void q4Repacked(int r0, float[] dst) {
        int bpr = cols / 32, b0 = r0 * bpr;
        long off = (long) b0 * 16;
        for (int b = 0, o = 0; b < 4 * bpr; b++, off += 16, o += 32) {
            q4Block(ByteVector.fromMemorySegment(B16, q4, off, ByteOrder.LITTLE_ENDIAN), d4[b0 + b], dst, o);
        }
    }

    /** d * (q - 8) as fma(q, d, -8d), as the engine does: low nibbles are weights 0-15, high ones 16-31. */
    private static void q4Block(ByteVector q, float df, float[] dst, int o) {
        FloatVector d = FloatVector.broadcast(F, df), m8d = FloatVector.broadcast(F, -8f * df);
        IntVector qi = (IntVector) q.convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
        ((FloatVector) qi.and(0x0F).convert(VectorOperators.I2F, 0)).fma(d, m8d).intoArray(dst, o);
        ((FloatVector) qi.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).fma(d, m8d).intoArray(dst, o + 16);
    }
}
