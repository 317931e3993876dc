package dev.sluice.engine.kernels;

import dev.sluice.engine.bench.RandomTensors;

import dev.sluice.engine.model.ModelConfig;
import dev.sluice.engine.tensor.Dequant;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Every {@link VectorKernels} kernel against its {@link ScalarKernels} twin on fresh random inputs
 * (the seed is printed in every failure message).
 *
 * <p>Tolerances: the two differ only in the order of float additions (lane-wise partial sums,
 * FMA, per-block scaling). Reassociating a sum of {@code n} float terms changes it by at most
 * about {@code n * eps * sum|terms|} (eps = 2^-24); random rounding errors make the typical
 * difference far smaller. So dot products are held to {@code n * eps * sum|w_i x_i|} (Q4_K adds
 * the {@code dmin * m} offset of each weight to the term magnitudes, because its vector path sums
 * {@code d*sc*q*x} and {@code dmin*m*x} separately; Q6_K likewise adds {@code 32 * d * |sc|}). Element-wise kernels are held to a few ulps,
 * plus the vector EXP's documented 1-ulp error where exponentials are involved.
 */
class KernelsTest {
    private static final long SEED = System.nanoTime();
    private static final float EPS = 0x1p-24f;
    private final SplittableRandom rnd = new SplittableRandom(SEED);
    private final ScalarKernels scalar = new ScalarKernels();
    private final VectorKernels vector = new VectorKernels();

    private String seed() {
        return "seed " + SEED + "L";
    }

    /** The bound described in the class note, for row {@code r} of {@code w} against {@code x[xOff..]}. */
    static double dotTolerance(Tensor w, int r, float[] x, int xOff) {
        float[] row = Dequant.row(w, r);
        double mags = 0;
        float offset = 0;
        if (w.type() == GGMLType.Q4_K) {
            // largest dmin * m of the row bounds the separately-summed offset term
            for (int b = 0; b < w.cols() / 256; b++) {
                long off = r * w.rowBytes() + b * 144L;
                float dmin = Dequant.halfAt(w.data(), off + 2);
                for (int j = 0; j < 8; j++) offset = Math.max(offset, dmin * (Dequant.scaleMinK4(j, w.data(), off + 4) >>> 8));
            }
        }
        if (w.type() == GGMLType.Q6_K) {
            // the vector path sums d*sc*q*x (q unsigned) and subtracts 32*d*sc*sum(x) separately
            for (int b = 0; b < w.cols() / 256; b++) {
                long off = r * w.rowBytes() + b * 210L;
                float d = Math.abs(Dequant.halfAt(w.data(), off + 208));
                for (int g = 0; g < 16; g++) offset = Math.max(offset, 32 * d * Math.abs(w.data().get(java.lang.foreign.ValueLayout.JAVA_BYTE, off + 192 + g)));
            }
        }
        for (int i = 0; i < row.length; i++) mags += (Math.abs(row[i]) + 2 * offset) * Math.abs(x[xOff + i]);
        return row.length * EPS * mags + 1e-30;
    }

    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void dotMatchesScalar(GGMLType type) {
        for (int cols : new int[] {256, 512, 1024 + 256}) {
            Tensor w = RandomTensors.random("w", type, cols, 5, 0.1f, rnd);
            float[] x = RandomTensors.gaussArray(cols + 7, 1f, rnd);
            for (int r = 0; r < 5; r++) {
                float s = scalar.dot(w, r, x, 7), v = vector.dot(w, r, x, 7);
                double exact = 0;
                float[] row = Dequant.row(w, r);
                for (int i = 0; i < cols; i++) exact += (double) row[i] * x[7 + i];
                double tol = dotTolerance(w, r, x, 7);
                assertThat((double) v).as("%s vector dot, cols %d row %d, %s", type, cols, r, seed()).isCloseTo(s, within(tol));
                assertThat((double) v).as("%s vector dot vs exact, %s", type, seed()).isCloseTo(exact, within(tol));
                assertThat((double) s).as("%s scalar dot vs exact, %s", type, seed()).isCloseTo(exact, within(tol));
            }
        }
    }

    @Test
    void floatDotWithOddLengthsCoversTails() {
        for (int n : new int[] {1, 7, 15, 16, 17, 33, 100}) {
            Tensor w = RandomTensors.random("w", GGMLType.F32, n, 2, 1f, rnd);
            Tensor h = RandomTensors.random("h", GGMLType.F16, n, 2, 1f, rnd);
            Tensor b = RandomTensors.random("b", GGMLType.BF16, n, 2, 1f, rnd);
            float[] x = RandomTensors.gaussArray(n, 1f, rnd);
            for (Tensor t : new Tensor[] {w, h, b}) {
                assertThat((double) vector.dot(t, 1, x, 0)).as("%s n=%d %s", t.type(), n, seed())
                        .isCloseTo(scalar.dot(t, 1, x, 0), within(dotTolerance(t, 1, x, 0)));
            }
        }
    }

    /** The GEMM over long rows, full and partial register tiles of vectors, and a partial row tile. */
    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void blockedMatmulMatchesScalar(GGMLType type) {
        int cols = 1280, rows = 10, n = 7;
        Tensor w = RandomTensors.random("w", type, cols, rows, 0.1f, rnd);
        float[] x = RandomTensors.gaussArray(n * cols, 1f, rnd);
        float[] outS = new float[n * rows], outV = new float[n * rows];
        scalar.matmul(w, x, outS, n);
        vector.matmul(w, x, outV, n);
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                assertThat((double) outV[t * rows + r]).as("%s blocked matmul t=%d r=%d %s", type, t, r, seed())
                        .isCloseTo(outS[t * rows + r], within(dotTolerance(w, r, x, t * cols)));
            }
        }
    }

    /** Every finite half (subnormals and both zeros included) converts exactly, in the GEMM's dequantization and in the decode dot. */
    @Test
    void everyFiniteHalfConvertsExactly() {
        int cols = 2048, rows = 32;
        java.lang.foreign.MemorySegment seg = java.lang.foreign.Arena.ofAuto().allocate(2L * cols * rows, 64);
        for (int b = 0; b < 65536; b++) {
            boolean finite = ((b >>> 10) & 0x1F) != 0x1F;
            seg.set(Dequant.I16, 2L * b, (short) (finite ? b : 0));
        }
        Tensor w = new Tensor("halves", GGMLType.F16, new long[] {cols, rows}, seg);
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            VectorKernels.dequantRow(GGMLType.F16, seg, r * w.rowBytes(), row, 0, cols);
            assertThat(row).as("row %d", r).containsExactly(Dequant.row(w, r));
        }
        // one-hot activations pick single halves out of the dot product: exact
        float[] x = new float[cols];
        float[] out = new float[rows];
        for (int c = 0; c < cols; c += 37) {
            java.util.Arrays.fill(x, 0f);
            x[c] = 1f;
            vector.matvec(w, x, out);
            for (int r = 0; r < rows; r++) assertThat(out[r]).as("col %d row %d", c, r).isEqualTo(Dequant.row(w, r)[c]);
        }
    }

    /** The multi-matrix matmul (one parallel job for Q/K/V or gate/up) equals the single-matrix calls bit for bit, mixed types included. */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 5})
    void multiMatrixMatmulEqualsSingleCalls(int n) {
        int cols = 768;
        Tensor[] ws = {
                RandomTensors.random("a", GGMLType.Q8_0, cols, 13, 0.1f, rnd),
                RandomTensors.random("b", GGMLType.F16, cols, 6, 0.1f, rnd),
                RandomTensors.random("c", GGMLType.Q4_K, cols, 9, 0.1f, rnd),
                RandomTensors.random("d", GGMLType.Q4_0, cols, 4, 0.1f, rnd)};
        float[] x = RandomTensors.gaussArray(n * cols, 1f, rnd);
        float[][] outs = new float[ws.length][];
        for (int i = 0; i < ws.length; i++) outs[i] = new float[n * ws[i].rows()];
        vector.matmul(ws, x, outs, n);
        for (int i = 0; i < ws.length; i++) {
            float[] one = new float[n * ws[i].rows()];
            vector.matmul(ws[i], x, one, n);
            assertThat(outs[i]).as("%s n=%d %s", ws[i], n, seed()).containsExactly(one);
        }
    }

    /** Transformer.forwardBatch relies on it: for n >= 2 a vector's outputs do not depend on n or on the other vectors. */
    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"F32", "F16", "Q8_0", "Q4_0", "Q4_K"})
    void batchedMatmulIsBatchInvariant(GGMLType type) {
        int cols = 768, rows = 9, n = 6;
        Tensor w = RandomTensors.random("w", type, cols, rows, 0.1f, rnd);
        float[] x = RandomTensors.gaussArray(n * cols, 1f, rnd);
        float[] all = new float[n * rows];
        vector.matmul(w, x, all, n);
        for (int t = 0; t < n; t++) {
            float[] pair = new float[2 * cols];
            System.arraycopy(x, t * cols, pair, 0, cols);
            System.arraycopy(x, ((t + 1) % n) * cols, pair, cols, cols);
            float[] out = new float[2 * rows];
            vector.matmul(w, pair, out, 2);
            assertThat(java.util.Arrays.copyOf(out, rows)).as("%s vector %d alone vs in a batch of %d, %s", type, t, n, seed())
                    .containsExactly(java.util.Arrays.copyOfRange(all, t * rows, (t + 1) * rows));
        }
    }

    /**
     * Every register tile shape (4 x 6, 4 x 4, 4 x 2, 4 x 1 for rows of at least {@code WIDE_COLS}; 4 x 4 and
     * narrower for shorter rows) and the scalar column tail give a vector the same bits: batches of 2 to 13
     * vectors cut into different tiles, 13 rows (three whole row tiles and a partial one),
     * 200 and 2056 columns (not multiples of the vector length); Q8_0 and Q4_0 with whole blocks of 32 columns.
     */
    @ParameterizedTest
    @CsvSource({"F32, 200", "F16, 200", "F32, 2056", "F16, 2056", "Q8_0, 224", "Q4_0, 224", "Q8_0, 2080", "Q4_0, 2080"})
    void everyTileShapeGivesTheSameBits(GGMLType type, int cols) {
        int rows = 13, max = 13;
        assertThat(cols >= VectorKernels.WIDE_COLS).as("both kernels covered").isEqualTo(cols > 1000);
        Tensor w = RandomTensors.random("w", type, cols, rows, 0.1f, rnd);
        float[] x = RandomTensors.gaussArray(max * cols, 1f, rnd);
        float[] all = new float[max * rows];
        vector.matmul(w, x, all, max);
        for (int n = 2; n < max; n++) {
            float[] out = new float[n * rows];
            vector.matmul(w, java.util.Arrays.copyOf(x, n * cols), out, n);
            assertThat(out).as("%s first %d of a batch of %d, %s", type, n, max, seed()).containsExactly(java.util.Arrays.copyOf(all, n * rows));
        }
        float[] ref = new float[max * rows];
        scalar.matmul(w, x, ref, max);
        for (int t = 0; t < max; t++) {
            for (int r = 0; r < rows; r++) {
                assertThat((double) all[t * rows + r]).isCloseTo(ref[t * rows + r], within(dotTolerance(w, r, x, t * cols)));
            }
        }
    }

    /**
     * The GEMM's cache-line offset: 0 with the default 8-byte object alignment; with 64-byte object alignment
     * ({@code -XX:ObjectAlignmentInBytes=64}, under which this class also runs the other GEMM tests when the
     * surefire flags say so) it puts a {@code float[]} element on a cache line.
     */
    @Test
    void gemmAlignmentOffsetFollowsTheJvmsObjectAlignment() {
        var hotspot = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
        int objectAlignment = Integer.parseInt(hotspot.getVMOption("ObjectAlignmentInBytes").getValue());
        if (objectAlignment % 64 != 0) {
            assertThat(VectorKernels.ALIGN_FLOATS).isZero();
        } else {
            assertThat((sun.misc.Unsafe.ARRAY_FLOAT_BASE_OFFSET + 4 * VectorKernels.ALIGN_FLOATS) % 64).isZero();
            assertThat(VectorKernels.ALIGN_FLOATS).isBetween(0, 15);
        }
    }

    /** A batch longer than the GEMM's token block (here 32 vectors of 4096 columns) is still batch-invariant, and matches the scalar twin. */
    @Test
    void batchInvariantAcrossTokenBlocks() {
        int cols = 4096, rows = 5, n = 37;
        assertThat(VectorKernels.T_BLOCK_BYTES / (4 * cols)).isLessThan(n);
        Tensor w = RandomTensors.random("w", GGMLType.Q8_0, cols, rows, 0.1f, rnd);
        float[] x = RandomTensors.gaussArray(n * cols, 1f, rnd);
        float[] all = new float[n * rows], ref = new float[n * rows];
        vector.matmul(w, x, all, n);
        scalar.matmul(w, x, ref, n);
        for (int t = 0; t < n; t++) {
            float[] pair = new float[2 * cols];
            System.arraycopy(x, t * cols, pair, 0, cols);
            float[] out = new float[2 * rows];
            vector.matmul(w, pair, out, 2);
            assertThat(java.util.Arrays.copyOf(out, rows)).as("vector %d alone vs in a batch of %d, %s", t, n, seed())
                    .containsExactly(java.util.Arrays.copyOfRange(all, t * rows, (t + 1) * rows));
            for (int r = 0; r < rows; r++) {
                assertThat((double) all[t * rows + r]).isCloseTo(ref[t * rows + r], within(dotTolerance(w, r, x, t * cols)));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void matmulMatchesScalar(GGMLType type) {
        int cols = 512, rows = 67;
        Tensor w = RandomTensors.random("w", type, cols, rows, 0.1f, rnd);
        for (int n : new int[] {1, 3}) {
            float[] x = RandomTensors.gaussArray(n * cols, 1f, rnd);
            float[] outS = new float[n * rows], outV = new float[n * rows];
            scalar.matmul(w, x, outS, n);
            vector.matmul(w, x, outV, n);
            for (int t = 0; t < n; t++) {
                for (int r = 0; r < rows; r++) {
                    assertThat((double) outV[t * rows + r]).as("%s matmul n=%d t=%d r=%d %s", type, n, t, r, seed())
                            .isCloseTo(outS[t * rows + r], within(dotTolerance(w, r, x, t * cols)));
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void vectorDequantizationIsBitIdentical(GGMLType type) {
        int cols = 512;
        Tensor w = RandomTensors.random("w", type, cols, 3, 0.1f, rnd);
        for (int r = 0; r < 3; r++) {
            float[] v = new float[cols + 5];
            VectorKernels.dequantRow(type, w.data(), r * w.rowBytes(), v, 5, cols);
            assertThat(java.util.Arrays.copyOfRange(v, 5, cols + 5)).as("%s row %d %s", type, r, seed()).containsExactly(Dequant.row(w, r));
        }
    }

    @Test
    void rmsnormMatchesScalar() {
        int size = 96, n = 3;
        float[] x = RandomTensors.gaussArray(size * n, 2f, rnd), w = RandomTensors.gaussArray(size, 1f, rnd);
        float[] s = new float[size * n], v = new float[size * n];
        scalar.rmsnorm(s, x, w, size, n, 1e-6f);
        vector.rmsnorm(v, x, w, size, n, 1e-6f);
        for (int i = 0; i < s.length; i++) assertThat(v[i]).as("%d %s", i, seed()).isCloseTo(s[i], within(1e-5f * Math.abs(w[i % size]) + 1e-7f));
        // the scalar kernel itself: unit RMS after normalization with unit weights
        float[] ones = new float[size];
        java.util.Arrays.fill(ones, 1f);
        scalar.rmsnorm(s, x, ones, size, 1, 0f);
        double ss = 0;
        for (int i = 0; i < size; i++) ss += s[i] * s[i];
        assertThat(ss / size).isCloseTo(1.0, within(1e-5));
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void ropeMatchesScalarAndPreservesNorm(boolean neox) {
        int headDim = 64, nHeads = 3;
        RopeTable table = new RopeTable(headDim, 64, 10000, neox, null, null);
        float[] x = RandomTensors.gaussArray(nHeads * headDim + 5, 1f, rnd);
        float[] s = x.clone(), v = x.clone();
        scalar.rope(s, 5, nHeads, 37, table);
        vector.rope(v, 5, nHeads, 37, table);
        for (int i = 0; i < x.length; i++) assertThat(v[i]).as("%d %s", i, seed()).isCloseTo(s[i], within(1e-6f));
        for (int h = 0; h < nHeads; h++) {
            double before = 0, after = 0;
            for (int i = 0; i < headDim; i++) {
                before += x[5 + h * headDim + i] * x[5 + h * headDim + i];
                after += s[5 + h * headDim + i] * s[5 + h * headDim + i];
            }
            assertThat(after).isCloseTo(before, within(1e-4 * before));
        }
        // position 0 is the identity
        float[] z = x.clone();
        scalar.rope(z, 5, nHeads, 0, table);
        assertThat(z).containsExactly(x);
    }

    @Test
    void ropePairsAsDocumented() {
        // one head of 4: pair 0 has frequency 1, pair 1 has theta^-0.5
        RopeTable t = new RopeTable(4, 8, 100, true, null, null);
        float[] x = {1, 2, 3, 4};
        scalar.rope(x, 0, 1, 1, t);
        double a0 = 1.0, a1 = 1.0 / 10;
        assertThat(x[0]).isCloseTo((float) (1 * Math.cos(a0) - 3 * Math.sin(a0)), within(1e-6f));
        assertThat(x[2]).isCloseTo((float) (1 * Math.sin(a0) + 3 * Math.cos(a0)), within(1e-6f));
        assertThat(x[1]).isCloseTo((float) (2 * Math.cos(a1) - 4 * Math.sin(a1)), within(1e-6f));
        RopeTable n = new RopeTable(4, 8, 100, false, null, null);
        float[] y = {1, 2, 3, 4};
        scalar.rope(y, 0, 1, 1, n);
        assertThat(y[0]).isCloseTo((float) (1 * Math.cos(a0) - 2 * Math.sin(a0)), within(1e-6f));
        assertThat(y[1]).isCloseTo((float) (1 * Math.sin(a0) + 2 * Math.cos(a0)), within(1e-6f));
    }

    @Test
    void ropeFrequencyFactorsAndLlama3Scaling() {
        var scaling = new ModelConfig.RopeScaling("llama3", 8f, 1f, 4f, 8192);
        RopeTable llama3 = new RopeTable(128, 4, 500000, true, scaling, null);
        RopeTable plain = new RopeTable(128, 4, 500000, true, null, null);
        // high frequencies (short wavelengths) are kept, the lowest are divided by the factor
        assertThat(llama3.invFreq(0)).isEqualTo(plain.invFreq(0));
        assertThat(llama3.invFreq(63)).isCloseTo(plain.invFreq(63) / 8, within(1e-12));
        float[] factors = new float[64];
        for (int i = 0; i < 64; i++) factors[i] = (float) (plain.invFreq(i) / llama3.invFreq(i));
        RopeTable divided = new RopeTable(128, 4, 500000, true, null, factors);
        for (int i = 0; i < 64; i++) assertThat(divided.invFreq(i)).isCloseTo(llama3.invFreq(i), within(1e-6 * llama3.invFreq(i)));
    }

    @Test
    void softmaxMatchesScalarAndSumsToOne() {
        for (int n : new int[] {1, 5, 16, 100, 1000}) {
            float[] x = RandomTensors.gaussArray(n + 3, 4f, rnd);
            float[] s = x.clone(), v = x.clone();
            scalar.softmax(s, 3, n);
            vector.softmax(v, 3, n);
            double sum = 0;
            for (int i = 3; i < n + 3; i++) {
                assertThat(v[i]).as("n=%d i=%d %s", n, i, seed()).isCloseTo(s[i], within(4e-7f * Math.max(1, s[i] * n) + 1e-7f * s[i] * n));
                sum += s[i];
            }
            assertThat(sum).isCloseTo(1.0, within(1e-5));
            assertThat(v[0]).isEqualTo(x[0]);
        }
    }

    @Test
    void swigluMatchesScalar() {
        int n = 77;
        float[] g = RandomTensors.gaussArray(n, 3f, rnd), u = RandomTensors.gaussArray(n, 1f, rnd);
        float[] s = g.clone(), v = g.clone();
        scalar.swiglu(s, u, n);
        vector.swiglu(v, u, n);
        for (int i = 0; i < n; i++) {
            double silu = g[i] / (1 + Math.exp(-g[i]));
            assertThat((double) s[i]).isCloseTo(silu * u[i], within(1e-6 * Math.abs(silu * u[i]) + 1e-7));
            assertThat(v[i]).as("%d %s", i, seed()).isCloseTo(s[i], within(1e-6f * Math.abs(s[i]) + 1e-7f));
        }
    }

    @Test
    void attentionMatchesScalar() {
        int nHeads = 4, nKv = 2, hd = 32, startPos = 5, nTokens = 3;
        int positions = startPos + nTokens;
        float[] k = RandomTensors.gaussArray(positions * nKv * hd, 1f, rnd), v = RandomTensors.gaussArray(positions * nKv * hd, 1f, rnd);
        float[] q = RandomTensors.gaussArray(nTokens * nHeads * hd, 1f, rnd);
        for (int window : new int[] {0, 4}) {
            float[] s = new float[q.length], w = new float[q.length];
            scalar.attention(q, s, nTokens, startPos, k, v, nHeads, nKv, hd, window);
            vector.attention(q, w, nTokens, startPos, k, v, nHeads, nKv, hd, window);
            for (int i = 0; i < s.length; i++) assertThat(w[i]).as("window %d i %d %s", window, i, seed()).isCloseTo(s[i], within(2e-5f));
        }
    }

    @Test
    void attentionIsCausalAndGrouped() {
        // token 0 of a fresh sequence sees only position 0: the output is v[0] of its kv head
        int nHeads = 4, nKv = 2, hd = 8;
        float[] k = RandomTensors.gaussArray(2 * nKv * hd, 1f, rnd), v = RandomTensors.gaussArray(2 * nKv * hd, 1f, rnd);
        float[] q = RandomTensors.gaussArray(2 * nHeads * hd, 1f, rnd);
        float[] out = new float[q.length];
        scalar.attention(q, out, 2, 0, k, v, nHeads, nKv, hd, 0);
        for (int h = 0; h < nHeads; h++) {
            for (int d = 0; d < hd; d++) assertThat(out[h * hd + d]).isEqualTo(v[(h / 2) * hd + d]);
        }
        // window 1: every token sees only itself
        scalar.attention(q, out, 2, 0, k, v, nHeads, nKv, hd, 1);
        for (int h = 0; h < nHeads; h++) {
            for (int d = 0; d < hd; d++) assertThat(out[nHeads * hd + h * hd + d]).isEqualTo(v[nKv * hd + (h / 2) * hd + d]);
        }
    }

    @Test
    void backendSelection() {
        assertThat(Kernels.create("cpu-scalar")).isInstanceOf(ScalarKernels.class);
        assertThat(Kernels.create("cpu-vector")).isInstanceOf(VectorKernels.class);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Kernels.create("gpu")).hasMessageContaining("cpu-vector, cpu-scalar");
        assertThat(vector.describe()).startsWith("cpu-vector: ").contains("threads");
        if (VectorKernels.PANELS) assertThat(vector.describe()).contains("repacked into 16-row panels").doesNotContain("8-vector tiles");
    }
}
