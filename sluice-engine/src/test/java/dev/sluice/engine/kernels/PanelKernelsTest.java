package dev.sluice.engine.kernels;

import dev.sluice.engine.bench.RandomTensors;
import dev.sluice.engine.tensor.Dequant;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Panels;
import dev.sluice.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The {@link Panels} layout and {@link PanelKernels}: repacking keeps every value's bits; the panel matmuls
 * match the {@link ScalarKernels} twin on the file's rows (tolerances as in {@link KernelsTest}); batched
 * results are batch-invariant across every register tile and token block.
 */
class PanelKernelsTest {
    private static final long SEED = System.nanoTime();
    private static final float EPS = 0x1p-24f;
    private final SplittableRandom rnd = new SplittableRandom(SEED);
    private final ScalarKernels scalar = new ScalarKernels();
    private final VectorKernels vector = new VectorKernels();

    private String seed() {
        return "seed " + SEED + "L";
    }

    @Test
    void panelsAreUsedWhereVectorsHave16Or8Lanes() {
        assertThat(VectorKernels.PANELS).isEqualTo((VectorKernels.L == 16 || VectorKernels.L == 8) && !"false".equals(System.getProperty("sluice.panels")));
        Tensor q8 = RandomTensors.random("w", GGMLType.Q8_0, 64, 3, 0.1f, rnd);
        Tensor f16 = RandomTensors.random("w", GGMLType.F16, 64, 3, 0.1f, rnd);
        Tensor f16Odd = RandomTensors.random("w", GGMLType.F16, 200, 3, 0.1f, rnd);
        Tensor bf16 = RandomTensors.random("w", GGMLType.BF16, 64, 3, 0.1f, rnd);
        assertThat(vector.prepare(q8).layout()).isEqualTo(VectorKernels.PANELS ? Tensor.Layout.PANELS : Tensor.Layout.ROWS);
        assertThat(vector.prepare(f16).layout()).isEqualTo(VectorKernels.PANELS ? Tensor.Layout.PANELS : Tensor.Layout.ROWS);
        assertThat(vector.prepare(f16Odd)).as("200 columns: not whole 32-column blocks").isSameAs(f16Odd);
        assertThat(vector.prepare(bf16)).isSameAs(bf16);
        assertThat(scalar.prepare(q8)).isSameAs(q8);
    }

    /** The JIT directive that keeps C1 off the 16-vector tiles is accepted by this JVM (else the tiles stop at 8 vectors, a warning says so). */
    @Test
    void theTilesJitDirectiveIsAccepted() {
        assertThat(PanelKernels.WIDE).isTrue();
    }

    @ParameterizedTest
    @CsvSource({"Q8_0, 13, 64", "Q8_0, 16, 96", "Q8_0, 37, 896", "Q4_0, 13, 64", "Q4_0, 32, 96", "Q4_0, 37, 896", "F16, 13, 64", "F16, 37, 896"})
    void repackingKeepsEveryValue(GGMLType type, int rows, int cols) {
        Tensor w = RandomTensors.random("w", type, cols, rows, 0.1f, rnd);
        Tensor p = Panels.repack(w, Arena.ofAuto());
        assertThat(p.layout()).isEqualTo(Tensor.Layout.PANELS);
        assertThat(p.data().byteSize()).isEqualTo((long) Panels.panels(rows) * Panels.ROWS * w.rowBytes());
        assertThat(Panels.supports(p)).as("already panels").isFalse();
        assertThat(Dequant.toFloats(p)).containsExactly(Dequant.toFloats(w));
        for (int r = 0; r < rows; r++) {
            assertThat(Dequant.row(p, r)).as("row %d", r).containsExactly(Dequant.row(w, r));
            int c = rnd.nextInt(cols);
            assertThat(Dequant.element(p, (long) r * cols + c)).isEqualTo(Dequant.element(w, (long) r * cols + c));
        }
        assertThatThrownBy(() -> Panels.repack(p, Arena.ofAuto())).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot repack");
        assertThatThrownBy(() -> Dequant.rowOffset(p, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * The bound of {@link KernelsTest}, with Q4_0's {@code 8 d} offset of each weight added to the term
     * magnitudes: the single-vector path sums {@code d q x} and {@code 8 d x} separately.
     */
    private static double tolerance(Tensor w, int r, float[] x, int xOff) {
        float[] row = Dequant.row(w, r);
        double mags = 0;
        for (int i = 0; i < row.length; i++) {
            double offset = w.type() == GGMLType.Q4_0 ? 8 * Math.abs(Dequant.halfAt(w.data(), r * w.rowBytes() + i / 32 * 18L)) : 0;
            mags += (Math.abs(row[i]) + offset) * Math.abs(x[xOff + i]);
        }
        return row.length * EPS * mags + 1e-30;
    }

    /** {@code p x} for {@code n} vectors with the panel kernels of {@code lanes} (16: 512-bit, 8: 256-bit), whatever this machine's default. */
    private static float[] matmul(Tensor p, float[] x, int n, int lanes) {
        float[] out = new float[n * p.rows()];
        PanelKernels.matmul(new Tensor[] {p}, x, new float[][] {out}, n, p.cols(), lanes);
        return out;
    }

    @ParameterizedTest
    @CsvSource({"Q8_0, 16", "Q4_0, 16", "F16, 16", "Q8_0, 8", "Q4_0, 8", "F16, 8"})
    void matmulMatchesTheScalarTwin(GGMLType type, int lanes) {
        int cols = 640, rows = 149; // 10 panels, the last of 5 rows: tasks of several panels, so pair tiles too
        Tensor w = RandomTensors.random("w", type, cols, rows, 0.1f, rnd);
        Tensor p = Panels.repack(w, Arena.ofAuto());
        for (int n : new int[] {1, 2, 3, 7, 16, 19, 40}) {
            float[] x = RandomTensors.gaussArray(n * cols, 1f, rnd);
            float[] v = matmul(p, x, n, lanes), s = new float[n * rows];
            scalar.matmul(w, x, s, n);
            for (int t = 0; t < n; t++) {
                for (int r = 0; r < rows; r++) {
                    assertThat((double) v[t * rows + r]).as("%s %d lanes n=%d vector %d row %d, %s", type, lanes, n, t, r, seed())
                            .isCloseTo(s[t * rows + r], within(tolerance(w, r, x, t * cols)));
                }
            }
            assertThat((double) vector.dot(p, 3, x, 0)).isCloseTo(scalar.dot(w, 3, x, 0), within(tolerance(w, 3, x, 0)));
        }
    }

    /**
     * The 256-bit kernels (half panels) give the bits of the 512-bit ones, batched and single-vector: each lane's
     * chain is the same. Rows 13 to 24: a last panel with only its first half valid, or part of its second.
     */
    @ParameterizedTest
    @CsvSource({"Q8_0, 149", "Q4_0, 149", "F16, 149", "Q8_0, 21", "Q4_0, 21", "F16, 21", "Q8_0, 13", "Q4_0, 13", "F16, 8"})
    void bothWidthsGiveTheSameBits(GGMLType type, int rows) {
        int cols = 192;
        Tensor p = Panels.repack(RandomTensors.random("w", type, cols, rows, 0.1f, rnd), Arena.ofAuto());
        for (int n : new int[] {1, 2, 5, 8, 13, 16, 27}) {
            float[] x = RandomTensors.gaussArray(n * cols, 1f, rnd);
            assertThat(matmul(p, x, n, 8)).as("%s rows %d n=%d, %s", type, rows, n, seed()).containsExactly(matmul(p, x, n, 16));
        }
        assertThatThrownBy(() -> matmul(p, new float[cols], 1, 4)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("16 or 8 lanes");
    }

    /**
     * Batches of 2 to 70 (every mix of register tiles of 16, 8, 4, 2 and 1 vectors, on one panel or on two at once
     * or on both halves, and of the float tiles on decoded panels) give each vector the bits of the 70-vector
     * batch; 149 rows (10 panels, the last partial).
     */
    @ParameterizedTest
    @CsvSource({"Q8_0, 16", "Q4_0, 16", "F16, 16", "Q8_0, 8", "Q4_0, 8", "F16, 8"})
    void everyTileGivesTheSameBits(GGMLType type, int lanes) {
        int cols = 256, rows = 149, max = 70; // from 64 (512 bits) or 16/32 (256 bits) vectors a block runs decoded panels
        Tensor p = Panels.repack(RandomTensors.random("w", type, cols, rows, 0.1f, rnd), Arena.ofAuto());
        float[] x = RandomTensors.gaussArray(max * cols, 1f, rnd);
        float[] all = matmul(p, x, max, lanes);
        for (int n = 2; n < max; n++) {
            float[] out = matmul(p, Arrays.copyOfRange(x, (max - n) * cols, max * cols), n, lanes);
            assertThat(out).as("%s %d lanes, last %d of a batch of %d, %s", type, lanes, n, max, seed()).containsExactly(Arrays.copyOfRange(all, (max - n) * rows, max * rows));
        }
    }

    /** An F16 matrix of {@code rows} x {@code cols} halves from {@code half(r, c)}. */
    private static Tensor f16(int rows, int cols, java.util.function.IntBinaryOperator half) {
        java.lang.foreign.MemorySegment seg = Arena.ofAuto().allocate(2L * rows * cols, 64);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) seg.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 2L * (r * cols + c), (short) half.applyAsInt(r, c));
        }
        return new Tensor("w", GGMLType.F16, new long[] {cols, rows}, seg);
    }

    /**
     * F16 panels hold the weights times 2^10 so that no stored half is subnormal: subnormal halves (every one of the 1023
     * mantissas, both signs), the largest value that fits (63.97) and ordinary values come back bit for bit, and the
     * matmuls at both widths match the scalar twin on them.
     */
    @Test
    void f16PanelsKeepSubnormalsAndTheLargestValuesExactly() {
        int rows = 37, cols = 128;
        Tensor w = f16(rows, cols, (r, c) -> switch ((r + c) % 4) {
            case 0 -> (r * cols + c) % 1023 + 1; // subnormal, positive
            case 1 -> 0x8000 | ((r * 7 + c) % 1023 + 1); // subnormal, negative
            case 2 -> c % 8 == 0 ? 0x53FF : 0xD3FF; // +-63.97, the largest that 2^10 keeps finite
            default -> Float.floatToFloat16((float) ((r - c) * 0.01));
        });
        Tensor p = Panels.repack(w, Arena.ofAuto());
        assertThat(p.layout()).isEqualTo(Tensor.Layout.PANELS);
        assertThat(Dequant.toFloats(p)).containsExactly(Dequant.toFloats(w));
        assertThat(Dequant.element(p, 5L * cols + 3)).isEqualTo(Dequant.element(w, 5L * cols + 3));
        for (long i = 0; i < p.data().byteSize(); i += 2) {
            short h = p.data().get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i);
            assertThat((h & 0x7C00) != 0 || (h & 0x3FF) == 0).as("stored half %d (0x%04x) is not subnormal", i / 2, h & 0xFFFF).isTrue();
        }
        for (int lanes : new int[] {16, 8}) {
            for (int n : new int[] {1, 3, 16}) {
                float[] x = RandomTensors.gaussArray(n * cols, 1f, rnd);
                float[] v = matmul(p, x, n, lanes), s = new float[n * rows];
                scalar.matmul(w, x, s, n);
                for (int t = 0; t < n; t++) {
                    for (int r = 0; r < rows; r++) {
                        assertThat((double) v[t * rows + r]).as("%d lanes n=%d vector %d row %d, %s", lanes, n, t, r, seed())
                                .isCloseTo(s[t * rows + r], within(tolerance(w, r, x, t * cols)));
                    }
                }
            }
        }
    }

    /** An F16 matrix holding a value of 64 or more (2^10 times it would overflow a half) is not repacked: it stays in rows, exact, on the row kernels. */
    @Test
    void f16ValuesOf64OrMoreStayInRows() {
        Tensor w = f16(20, 64, (r, c) -> r == 17 && c == 40 ? Float.floatToFloat16(64f) : Float.floatToFloat16(0.5f));
        assertThat(Panels.repack(w, Arena.ofAuto())).isSameAs(w);
        assertThat(vector.prepare(w)).isSameAs(w);
        float[] x = RandomTensors.gaussArray(64, 1f, rnd), v = new float[20], s = new float[20];
        vector.matmul(vector.prepare(w), x, v, 1);
        scalar.matmul(w, x, s, 1);
        for (int r = 0; r < 20; r++) assertThat((double) v[r]).isCloseTo(s[r], within(tolerance(w, r, x, 0)));
    }

    /** A batch longer than a token block (4096 columns: 32 vectors per block at 512 bits, 64 at 256) keeps every vector's bits, and rows past the last panel row are not written. */
    @ParameterizedTest
    @ValueSource(ints = {16, 8})
    void batchInvariantAcrossTokenBlocks(int lanes) {
        int cols = 4096, rows = 21, n = 70;
        assertThat(2 * VectorKernels.T_BLOCK_BYTES / (4 * cols)).as("vectors per block at 256 bits (twice those at 512)").isLessThan(n);
        Tensor p = Panels.repack(RandomTensors.random("w", GGMLType.Q4_0, cols, rows, 0.1f, rnd), Arena.ofAuto());
        float[] x = RandomTensors.gaussArray(n * cols, 1f, rnd);
        float[] all = new float[n * rows + 5];
        Arrays.fill(all, n * rows, all.length, 42f);
        PanelKernels.matmul(new Tensor[] {p}, x, new float[][] {all}, n, cols, lanes);
        assertThat(Arrays.copyOfRange(all, n * rows, all.length)).containsOnly(42f);
        for (int t = 0; t < n; t++) {
            float[] pair = new float[2 * cols];
            System.arraycopy(x, t * cols, pair, 0, cols);
            float[] out = matmul(p, pair, 2, lanes);
            assertThat(Arrays.copyOf(out, rows)).as("vector %d alone vs in a batch of %d, %s", t, n, seed())
                    .containsExactly(Arrays.copyOfRange(all, t * rows, (t + 1) * rows));
        }
    }

    /** Several matrices in one call (panels, rows, and a mix of both) give what each gives alone. */
    @Test
    void severalMatricesMatchEachAlone() {
        int cols = 128;
        Tensor a = Panels.repack(RandomTensors.random("a", GGMLType.Q8_0, cols, 40, 0.1f, rnd), Arena.ofAuto());
        Tensor b = Panels.repack(RandomTensors.random("b", GGMLType.Q4_0, cols, 8, 0.1f, rnd), Arena.ofAuto());
        Tensor c = RandomTensors.random("c", GGMLType.F16, cols, 24, 0.1f, rnd);
        for (Tensor[] ws : new Tensor[][] {{a, b}, {a, c, b}}) {
            for (int n : new int[] {1, 5}) {
                float[] x = RandomTensors.gaussArray(n * cols, 1f, rnd);
                float[][] outs = new float[ws.length][];
                for (int i = 0; i < ws.length; i++) outs[i] = new float[n * ws[i].rows()];
                vector.matmul(ws, x, outs, n);
                for (int i = 0; i < ws.length; i++) {
                    float[] one = new float[n * ws[i].rows()];
                    vector.matmul(ws[i], x, one, n);
                    assertThat(outs[i]).as("%s n=%d", ws[i], n).containsExactly(one);
                }
            }
        }
    }
}
