package dev.sluice.engine.kernels;

import dev.sluice.engine.tensor.Panels;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.sluice.engine.kernels.PanelKernels.F16_BLOCK;
import static dev.sluice.engine.kernels.PanelKernels.Q4_BLOCK;
import static dev.sluice.engine.kernels.PanelKernels.Q8_BLOCK;
import static dev.sluice.engine.kernels.PanelKernels.X_STRIDE;
import static dev.sluice.engine.tensor.Panels.ROWS;
import static dev.sluice.engine.tensor.Panels.SCALE_BYTES;

/**
 * The kernels of {@link PanelKernels}: register tiles, single-vector dot products ({@code dot*}), panel
 * decoding into floats ({@code decode*}) and float tiles on decoded panels ({@code tileF*}), with their
 * decoding helpers. <b>Generated</b> by
 * {@code tools/gen-panel-tiles.py} (the column orders and the variants measured are recorded there); edit
 * the script, not this file.
 *
 * <p>512-bit tiles (no suffix): a 16-lane vector per column of a 16-row panel. 256-bit tiles (suffix
 * {@code H}, for AVX2): an 8-lane vector per column of half a panel, rows {@code hr} to {@code hr + 7}; the
 * pair tiles {@code tile<k>x2<type>H} take both halves at once. Every lane is one FMA chain over the
 * columns in its type's fixed order, the same in every tile and at both widths.
 */
final class PanelTiles {
    private PanelTiles() {}

    static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    static final VectorSpecies<Float> FH = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> IH = IntVector.SPECIES_256;
    private static final VectorSpecies<Short> SH = ShortVector.SPECIES_128;
    private static final VectorSpecies<Byte> BH = ByteVector.SPECIES_64;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Lanes 0-3 of two 8-lane vectors interleaved (a0 b0 a1 b1 ...); negative indexes take the second vector's lanes. */
    private static final VectorShuffle<Float> INTERLEAVE_LOW = VectorShuffle.fromValues(FH, 0, -8, 1, -7, 2, -6, 3, -5);
    /** Lanes 4-7 of two 8-lane vectors interleaved. */
    private static final VectorShuffle<Float> INTERLEAVE_HIGH = VectorShuffle.fromValues(FH, 4, -4, 5, -3, 6, -2, 7, -1);

    /**
     * F16 panels hold each weight times {@code 2^F16_SHIFT} ({@link Panels#F16_SHIFT}), so that no stored half is
     * subnormal: their decoding multiplies by {@code 2^(112 - F16_SHIFT)} and never sees a float denormal,
     * which costs a microcode assist per instruction on x86 (a subnormal in 0.24% of N(0, 0.02) weights made
     * the F16 matmuls up to 2x slower).
     */
    static final float F16_PANEL_MAGIC = Math.scalb(1f, 112 - Panels.F16_SHIFT);

    /** 16 rows' scales (one panel block; {@code o} at its first scale). */
    static FloatVector scales(MemorySegment seg, long o) {
        return VectorKernels.halfToFloat((IntVector) ShortVector.fromMemorySegment(S16, seg, o, LE).convertShape(VectorOperators.S2I, I, 0));
    }

    /** 16 halves (one column of an F16 panel) as floats. */
    static FloatVector halves(MemorySegment seg, long o) {
        return VectorKernels.halfToFloat((IntVector) ShortVector.fromMemorySegment(S16, seg, o, LE).convertShape(VectorOperators.S2I, I, 0), F16_PANEL_MAGIC);
    }

    /** 16 Q8_0 quants (one column of a panel) as floats. */
    static FloatVector quants(MemorySegment seg, long o) {
        return toFloat((IntVector) ByteVector.fromMemorySegment(B16, seg, o, LE).convertShape(VectorOperators.B2I, I, 0));
    }

    /** 16 Q8_0 weights (one column of a panel), scaled. */
    static FloatVector q8(MemorySegment seg, long o, FloatVector d) {
        return quants(seg, o).mul(d);
    }

    /** 16 Q4_0 bytes (one byte column of a panel: two columns), zero-extended. */
    static IntVector nibbles(MemorySegment seg, long o) {
        return (IntVector) ByteVector.fromMemorySegment(B16, seg, o, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
    }

    /** 8 rows' scales (half a panel block; {@code o} at its first scale). */
    static FloatVector scalesH(MemorySegment seg, long o) {
        return VectorKernels.halfToFloat((IntVector) ShortVector.fromMemorySegment(SH, seg, o, LE).convertShape(VectorOperators.S2I, IH, 0));
    }

    /** 8 halves (half a column of an F16 panel) as floats. */
    static FloatVector halvesH(MemorySegment seg, long o) {
        return VectorKernels.halfToFloat((IntVector) ShortVector.fromMemorySegment(SH, seg, o, LE).convertShape(VectorOperators.S2I, IH, 0), F16_PANEL_MAGIC);
    }

    /** 8 Q8_0 quants (half a column of a panel) as floats. */
    static FloatVector quantsH(MemorySegment seg, long o) {
        return toFloat((IntVector) ByteVector.fromMemorySegment(BH, seg, o, LE).convertShape(VectorOperators.B2I, IH, 0));
    }

    /** 8 Q8_0 weights (half a column of a panel), scaled. */
    static FloatVector q8H(MemorySegment seg, long o, FloatVector d) {
        return quantsH(seg, o).mul(d);
    }

    /** 8 Q4_0 bytes (half a byte column of a panel: two columns), zero-extended. */
    static IntVector nibblesH(MemorySegment seg, long o) {
        return (IntVector) ByteVector.fromMemorySegment(BH, seg, o, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, IH, 0);
    }

    /** The low nibbles' weights: {@code (q - 8) d} as one rounding, {@code fma(q, d, -8d)}. */
    static FloatVector lowNibbles(IntVector q, FloatVector d, FloatVector m8) {
        return toFloat(q.and(0x0F)).fma(d, m8);
    }

    static FloatVector highNibbles(IntVector q, FloatVector d, FloatVector m8) {
        return toFloat(q.lanewise(VectorOperators.LSHR, 4)).fma(d, m8);
    }

    static FloatVector toFloat(IntVector q) {
        return (FloatVector) q.convert(VectorOperators.I2F, 0);
    }

    /** Q4_0: a panel against one vector {@code x}, to {@code out[r ..]} (its first {@code valid} rows); see {@link PanelKernels#matmul}. */
    static void dotQ4(MemorySegment seg, long off, int nb, float[] x, float[] xs8, float[] out, int r, int valid) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK + SCALE_BYTES;
            FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
            int xb = b * 32;
            for (int j = 0; j < 16; j += 2) {
                IntVector q0 = nibbles(seg, o + (long) j * ROWS), q1 = nibbles(seg, o + (long) (j + 1) * ROWS);
                s0 = toFloat(q0.and(0x0F)).fma(FloatVector.broadcast(F, x[xb + j]), s0);
                s1 = toFloat(q0.lanewise(VectorOperators.LSHR, 4)).fma(FloatVector.broadcast(F, x[xb + j + 16]), s1);
                s2 = toFloat(q1.and(0x0F)).fma(FloatVector.broadcast(F, x[xb + j + 1]), s2);
                s3 = toFloat(q1.lanewise(VectorOperators.LSHR, 4)).fma(FloatVector.broadcast(F, x[xb + j + 17]), s3);
            }
            acc = s0.add(s1).add(s2.add(s3)).sub(xs8[b]).fma(scales(seg, o - SCALE_BYTES), acc);
        }
        acc.intoArray(out, r, F.indexInRange(0, valid));
    }

    /** Q8_0: a panel against one vector {@code x}, to {@code out[r ..]} (its first {@code valid} rows); see {@link PanelKernels#matmul}. */
    static void dotQ8(MemorySegment seg, long off, int nb, float[] x, float[] out, int r, int valid) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK + SCALE_BYTES;
            FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
            int xb = b * 32;
            for (int j = 0; j < 32; j += 4) {
                s0 = quants(seg, o + (long) j * ROWS).fma(FloatVector.broadcast(F, x[xb + j]), s0);
                s1 = quants(seg, o + (long) (j + 1) * ROWS).fma(FloatVector.broadcast(F, x[xb + j + 1]), s1);
                s2 = quants(seg, o + (long) (j + 2) * ROWS).fma(FloatVector.broadcast(F, x[xb + j + 2]), s2);
                s3 = quants(seg, o + (long) (j + 3) * ROWS).fma(FloatVector.broadcast(F, x[xb + j + 3]), s3);
            }
            acc = s0.add(s1).add(s2.add(s3)).fma(scales(seg, o - SCALE_BYTES), acc);
        }
        acc.intoArray(out, r, F.indexInRange(0, valid));
    }

    /** F16: a panel against one vector {@code x}, to {@code out[r ..]} (its first {@code valid} rows); see {@link PanelKernels#matmul}. */
    static void dotF16(MemorySegment seg, long off, int nb, float[] x, float[] out, int r, int valid) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        for (int c = 0; c < nb * 32; c += 4) {
            long o = off + 2L * ROWS * c;
            s0 = halves(seg, o).fma(FloatVector.broadcast(F, x[c]), s0);
            s1 = halves(seg, o + 2 * ROWS).fma(FloatVector.broadcast(F, x[c + 1]), s1);
            s2 = halves(seg, o + 4 * ROWS).fma(FloatVector.broadcast(F, x[c + 2]), s2);
            s3 = halves(seg, o + 6 * ROWS).fma(FloatVector.broadcast(F, x[c + 3]), s3);
        }
        FloatVector acc = s0.add(s1).add(s2.add(s3));
        acc.intoArray(out, r, F.indexInRange(0, valid));
    }

    /** Q4_0, 16 input vectors; see {@link PanelKernels#gemm}. */
    static void tile16Q4(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        FloatVector a12 = a0, a13 = a0, a14 = a0, a15 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK;
            FloatVector d = scales(seg, o), m8 = d.mul(-8f);
            for (int j = 0; j < 16; j++) {
                IntVector q = nibbles(seg, o + SCALE_BYTES + j * ROWS);
                FloatVector w = lowNibbles(q, d, m8), v = highNibbles(q, d, m8);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
                a4 = w.fma(FloatVector.broadcast(F, xt[xa + 4]), a4);
                a5 = w.fma(FloatVector.broadcast(F, xt[xa + 5]), a5);
                a6 = w.fma(FloatVector.broadcast(F, xt[xa + 6]), a6);
                a7 = w.fma(FloatVector.broadcast(F, xt[xa + 7]), a7);
                a8 = w.fma(FloatVector.broadcast(F, xt[xa + 8]), a8);
                a9 = w.fma(FloatVector.broadcast(F, xt[xa + 9]), a9);
                a10 = w.fma(FloatVector.broadcast(F, xt[xa + 10]), a10);
                a11 = w.fma(FloatVector.broadcast(F, xt[xa + 11]), a11);
                a12 = w.fma(FloatVector.broadcast(F, xt[xa + 12]), a12);
                a13 = w.fma(FloatVector.broadcast(F, xt[xa + 13]), a13);
                a14 = w.fma(FloatVector.broadcast(F, xt[xa + 14]), a14);
                a15 = w.fma(FloatVector.broadcast(F, xt[xa + 15]), a15);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(F, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(F, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(F, xt[xb + 3]), a3);
                a4 = v.fma(FloatVector.broadcast(F, xt[xb + 4]), a4);
                a5 = v.fma(FloatVector.broadcast(F, xt[xb + 5]), a5);
                a6 = v.fma(FloatVector.broadcast(F, xt[xb + 6]), a6);
                a7 = v.fma(FloatVector.broadcast(F, xt[xb + 7]), a7);
                a8 = v.fma(FloatVector.broadcast(F, xt[xb + 8]), a8);
                a9 = v.fma(FloatVector.broadcast(F, xt[xb + 9]), a9);
                a10 = v.fma(FloatVector.broadcast(F, xt[xb + 10]), a10);
                a11 = v.fma(FloatVector.broadcast(F, xt[xb + 11]), a11);
                a12 = v.fma(FloatVector.broadcast(F, xt[xb + 12]), a12);
                a13 = v.fma(FloatVector.broadcast(F, xt[xb + 13]), a13);
                a14 = v.fma(FloatVector.broadcast(F, xt[xb + 14]), a14);
                a15 = v.fma(FloatVector.broadcast(F, xt[xb + 15]), a15);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
        a8.intoArray(out, oOff + 8 * rows, m);
        a9.intoArray(out, oOff + 9 * rows, m);
        a10.intoArray(out, oOff + 10 * rows, m);
        a11.intoArray(out, oOff + 11 * rows, m);
        a12.intoArray(out, oOff + 12 * rows, m);
        a13.intoArray(out, oOff + 13 * rows, m);
        a14.intoArray(out, oOff + 14 * rows, m);
        a15.intoArray(out, oOff + 15 * rows, m);
    }

    /** Q4_0, 8 input vectors; see {@link PanelKernels#gemm}. */
    static void tile8Q4(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK;
            FloatVector d = scales(seg, o), m8 = d.mul(-8f);
            for (int j = 0; j < 16; j++) {
                IntVector q = nibbles(seg, o + SCALE_BYTES + j * ROWS);
                FloatVector w = lowNibbles(q, d, m8), v = highNibbles(q, d, m8);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
                a4 = w.fma(FloatVector.broadcast(F, xt[xa + 4]), a4);
                a5 = w.fma(FloatVector.broadcast(F, xt[xa + 5]), a5);
                a6 = w.fma(FloatVector.broadcast(F, xt[xa + 6]), a6);
                a7 = w.fma(FloatVector.broadcast(F, xt[xa + 7]), a7);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(F, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(F, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(F, xt[xb + 3]), a3);
                a4 = v.fma(FloatVector.broadcast(F, xt[xb + 4]), a4);
                a5 = v.fma(FloatVector.broadcast(F, xt[xb + 5]), a5);
                a6 = v.fma(FloatVector.broadcast(F, xt[xb + 6]), a6);
                a7 = v.fma(FloatVector.broadcast(F, xt[xb + 7]), a7);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
    }

    /** Q4_0, 4 input vectors; see {@link PanelKernels#gemm}. */
    static void tile4Q4(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK;
            FloatVector d = scales(seg, o), m8 = d.mul(-8f);
            for (int j = 0; j < 16; j++) {
                IntVector q = nibbles(seg, o + SCALE_BYTES + j * ROWS);
                FloatVector w = lowNibbles(q, d, m8), v = highNibbles(q, d, m8);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(F, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(F, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(F, xt[xb + 3]), a3);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
    }

    /** Q4_0, 2 input vectors; see {@link PanelKernels#gemm}. */
    static void tile2Q4(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK;
            FloatVector d = scales(seg, o), m8 = d.mul(-8f);
            for (int j = 0; j < 16; j++) {
                IntVector q = nibbles(seg, o + SCALE_BYTES + j * ROWS);
                FloatVector w = lowNibbles(q, d, m8), v = highNibbles(q, d, m8);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(F, xt[xb + 1]), a1);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
    }

    /** Q4_0, 1 input vector; see {@link PanelKernels#gemm}. */
    static void tile1Q4(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK;
            FloatVector d = scales(seg, o), m8 = d.mul(-8f);
            for (int j = 0; j < 16; j++) {
                IntVector q = nibbles(seg, o + SCALE_BYTES + j * ROWS);
                FloatVector w = lowNibbles(q, d, m8), v = highNibbles(q, d, m8);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
    }

    /** Q8_0, 16 input vectors; see {@link PanelKernels#gemm}. */
    static void tile16Q8(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        FloatVector a12 = a0, a13 = a0, a14 = a0, a15 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scales(seg, o);
            for (int j = 0; j < 32; j += 2) {
                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d), v = q8(seg, o + SCALE_BYTES + (j + 1) * ROWS, d);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
                a4 = w.fma(FloatVector.broadcast(F, xt[xa + 4]), a4);
                a5 = w.fma(FloatVector.broadcast(F, xt[xa + 5]), a5);
                a6 = w.fma(FloatVector.broadcast(F, xt[xa + 6]), a6);
                a7 = w.fma(FloatVector.broadcast(F, xt[xa + 7]), a7);
                a8 = w.fma(FloatVector.broadcast(F, xt[xa + 8]), a8);
                a9 = w.fma(FloatVector.broadcast(F, xt[xa + 9]), a9);
                a10 = w.fma(FloatVector.broadcast(F, xt[xa + 10]), a10);
                a11 = w.fma(FloatVector.broadcast(F, xt[xa + 11]), a11);
                a12 = w.fma(FloatVector.broadcast(F, xt[xa + 12]), a12);
                a13 = w.fma(FloatVector.broadcast(F, xt[xa + 13]), a13);
                a14 = w.fma(FloatVector.broadcast(F, xt[xa + 14]), a14);
                a15 = w.fma(FloatVector.broadcast(F, xt[xa + 15]), a15);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(F, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(F, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(F, xt[xb + 3]), a3);
                a4 = v.fma(FloatVector.broadcast(F, xt[xb + 4]), a4);
                a5 = v.fma(FloatVector.broadcast(F, xt[xb + 5]), a5);
                a6 = v.fma(FloatVector.broadcast(F, xt[xb + 6]), a6);
                a7 = v.fma(FloatVector.broadcast(F, xt[xb + 7]), a7);
                a8 = v.fma(FloatVector.broadcast(F, xt[xb + 8]), a8);
                a9 = v.fma(FloatVector.broadcast(F, xt[xb + 9]), a9);
                a10 = v.fma(FloatVector.broadcast(F, xt[xb + 10]), a10);
                a11 = v.fma(FloatVector.broadcast(F, xt[xb + 11]), a11);
                a12 = v.fma(FloatVector.broadcast(F, xt[xb + 12]), a12);
                a13 = v.fma(FloatVector.broadcast(F, xt[xb + 13]), a13);
                a14 = v.fma(FloatVector.broadcast(F, xt[xb + 14]), a14);
                a15 = v.fma(FloatVector.broadcast(F, xt[xb + 15]), a15);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
        a8.intoArray(out, oOff + 8 * rows, m);
        a9.intoArray(out, oOff + 9 * rows, m);
        a10.intoArray(out, oOff + 10 * rows, m);
        a11.intoArray(out, oOff + 11 * rows, m);
        a12.intoArray(out, oOff + 12 * rows, m);
        a13.intoArray(out, oOff + 13 * rows, m);
        a14.intoArray(out, oOff + 14 * rows, m);
        a15.intoArray(out, oOff + 15 * rows, m);
    }

    /** Q8_0, 8 input vectors; see {@link PanelKernels#gemm}. */
    static void tile8Q8(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scales(seg, o);
            for (int j = 0; j < 32; j += 2) {
                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d), v = q8(seg, o + SCALE_BYTES + (j + 1) * ROWS, d);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
                a4 = w.fma(FloatVector.broadcast(F, xt[xa + 4]), a4);
                a5 = w.fma(FloatVector.broadcast(F, xt[xa + 5]), a5);
                a6 = w.fma(FloatVector.broadcast(F, xt[xa + 6]), a6);
                a7 = w.fma(FloatVector.broadcast(F, xt[xa + 7]), a7);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(F, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(F, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(F, xt[xb + 3]), a3);
                a4 = v.fma(FloatVector.broadcast(F, xt[xb + 4]), a4);
                a5 = v.fma(FloatVector.broadcast(F, xt[xb + 5]), a5);
                a6 = v.fma(FloatVector.broadcast(F, xt[xb + 6]), a6);
                a7 = v.fma(FloatVector.broadcast(F, xt[xb + 7]), a7);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
    }

    /** Q8_0, 4 input vectors; see {@link PanelKernels#gemm}. */
    static void tile4Q8(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scales(seg, o);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
    }

    /** Q8_0, 2 input vectors; see {@link PanelKernels#gemm}. */
    static void tile2Q8(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scales(seg, o);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
    }

    /** Q8_0, 1 input vector; see {@link PanelKernels#gemm}. */
    static void tile1Q8(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scales(seg, o);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
    }

    /** F16, 16 input vectors; see {@link PanelKernels#gemm}. */
    static void tile16F16(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        FloatVector a12 = a0, a13 = a0, a14 = a0, a15 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j += 2) {
                FloatVector w = halves(seg, o + 2L * j * ROWS), v = halves(seg, o + 2L * (j + 1) * ROWS);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
                a4 = w.fma(FloatVector.broadcast(F, xt[xa + 4]), a4);
                a5 = w.fma(FloatVector.broadcast(F, xt[xa + 5]), a5);
                a6 = w.fma(FloatVector.broadcast(F, xt[xa + 6]), a6);
                a7 = w.fma(FloatVector.broadcast(F, xt[xa + 7]), a7);
                a8 = w.fma(FloatVector.broadcast(F, xt[xa + 8]), a8);
                a9 = w.fma(FloatVector.broadcast(F, xt[xa + 9]), a9);
                a10 = w.fma(FloatVector.broadcast(F, xt[xa + 10]), a10);
                a11 = w.fma(FloatVector.broadcast(F, xt[xa + 11]), a11);
                a12 = w.fma(FloatVector.broadcast(F, xt[xa + 12]), a12);
                a13 = w.fma(FloatVector.broadcast(F, xt[xa + 13]), a13);
                a14 = w.fma(FloatVector.broadcast(F, xt[xa + 14]), a14);
                a15 = w.fma(FloatVector.broadcast(F, xt[xa + 15]), a15);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(F, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(F, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(F, xt[xb + 3]), a3);
                a4 = v.fma(FloatVector.broadcast(F, xt[xb + 4]), a4);
                a5 = v.fma(FloatVector.broadcast(F, xt[xb + 5]), a5);
                a6 = v.fma(FloatVector.broadcast(F, xt[xb + 6]), a6);
                a7 = v.fma(FloatVector.broadcast(F, xt[xb + 7]), a7);
                a8 = v.fma(FloatVector.broadcast(F, xt[xb + 8]), a8);
                a9 = v.fma(FloatVector.broadcast(F, xt[xb + 9]), a9);
                a10 = v.fma(FloatVector.broadcast(F, xt[xb + 10]), a10);
                a11 = v.fma(FloatVector.broadcast(F, xt[xb + 11]), a11);
                a12 = v.fma(FloatVector.broadcast(F, xt[xb + 12]), a12);
                a13 = v.fma(FloatVector.broadcast(F, xt[xb + 13]), a13);
                a14 = v.fma(FloatVector.broadcast(F, xt[xb + 14]), a14);
                a15 = v.fma(FloatVector.broadcast(F, xt[xb + 15]), a15);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
        a8.intoArray(out, oOff + 8 * rows, m);
        a9.intoArray(out, oOff + 9 * rows, m);
        a10.intoArray(out, oOff + 10 * rows, m);
        a11.intoArray(out, oOff + 11 * rows, m);
        a12.intoArray(out, oOff + 12 * rows, m);
        a13.intoArray(out, oOff + 13 * rows, m);
        a14.intoArray(out, oOff + 14 * rows, m);
        a15.intoArray(out, oOff + 15 * rows, m);
    }

    /** F16, 8 input vectors; see {@link PanelKernels#gemm}. */
    static void tile8F16(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j += 2) {
                FloatVector w = halves(seg, o + 2L * j * ROWS), v = halves(seg, o + 2L * (j + 1) * ROWS);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
                a4 = w.fma(FloatVector.broadcast(F, xt[xa + 4]), a4);
                a5 = w.fma(FloatVector.broadcast(F, xt[xa + 5]), a5);
                a6 = w.fma(FloatVector.broadcast(F, xt[xa + 6]), a6);
                a7 = w.fma(FloatVector.broadcast(F, xt[xa + 7]), a7);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(F, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(F, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(F, xt[xb + 3]), a3);
                a4 = v.fma(FloatVector.broadcast(F, xt[xb + 4]), a4);
                a5 = v.fma(FloatVector.broadcast(F, xt[xb + 5]), a5);
                a6 = v.fma(FloatVector.broadcast(F, xt[xb + 6]), a6);
                a7 = v.fma(FloatVector.broadcast(F, xt[xb + 7]), a7);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
    }

    /** F16, 4 input vectors; see {@link PanelKernels#gemm}. */
    static void tile4F16(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halves(seg, o + 2L * j * ROWS);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
    }

    /** F16, 2 input vectors; see {@link PanelKernels#gemm}. */
    static void tile2F16(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halves(seg, o + 2L * j * ROWS);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
    }

    /** F16, 1 input vector; see {@link PanelKernels#gemm}. */
    static void tile1F16(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halves(seg, o + 2L * j * ROWS);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
    }

    /** Q8_0, panels at {@code off} and the next one, 4 input vectors; see {@link PanelKernels#gemm}. */
    static void tile4x2Q8(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        long off2 = off + (long) nb * Q8_BLOCK;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK, o2 = off2 + (long) b * Q8_BLOCK;
            FloatVector d = scales(seg, o);
            FloatVector e = scales(seg, o2);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d), v = q8(seg, o2 + SCALE_BYTES + j * ROWS, e);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
                FloatVector x1 = FloatVector.broadcast(F, xt[xa + 1]);
                a1 = w.fma(x1, a1);
                b1 = v.fma(x1, b1);
                FloatVector x2 = FloatVector.broadcast(F, xt[xa + 2]);
                a2 = w.fma(x2, a2);
                b2 = v.fma(x2, b2);
                FloatVector x3 = FloatVector.broadcast(F, xt[xa + 3]);
                a3 = w.fma(x3, a3);
                b3 = v.fma(x3, b3);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid), m2 = F.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + ROWS, m2);
        a1.intoArray(out, oOff + 1 * rows, m);
        b1.intoArray(out, oOff + ROWS + 1 * rows, m2);
        a2.intoArray(out, oOff + 2 * rows, m);
        b2.intoArray(out, oOff + ROWS + 2 * rows, m2);
        a3.intoArray(out, oOff + 3 * rows, m);
        b3.intoArray(out, oOff + ROWS + 3 * rows, m2);
    }

    /** Q8_0, panels at {@code off} and the next one, 2 input vectors; see {@link PanelKernels#gemm}. */
    static void tile2x2Q8(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), b0 = FloatVector.zero(F), b1 = FloatVector.zero(F);
        long off2 = off + (long) nb * Q8_BLOCK;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK, o2 = off2 + (long) b * Q8_BLOCK;
            FloatVector d = scales(seg, o);
            FloatVector e = scales(seg, o2);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d), v = q8(seg, o2 + SCALE_BYTES + j * ROWS, e);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
                FloatVector x1 = FloatVector.broadcast(F, xt[xa + 1]);
                a1 = w.fma(x1, a1);
                b1 = v.fma(x1, b1);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid), m2 = F.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + ROWS, m2);
        a1.intoArray(out, oOff + 1 * rows, m);
        b1.intoArray(out, oOff + ROWS + 1 * rows, m2);
    }

    /** Q8_0, panels at {@code off} and the next one, 1 input vector; see {@link PanelKernels#gemm}. */
    static void tile1x2Q8(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F);
        long off2 = off + (long) nb * Q8_BLOCK;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK, o2 = off2 + (long) b * Q8_BLOCK;
            FloatVector d = scales(seg, o);
            FloatVector e = scales(seg, o2);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d), v = q8(seg, o2 + SCALE_BYTES + j * ROWS, e);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid), m2 = F.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + ROWS, m2);
    }

    /** F16, panels at {@code off} and the next one, 4 input vectors; see {@link PanelKernels#gemm}. */
    static void tile4x2F16(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        long off2 = off + (long) nb * F16_BLOCK;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK, o2 = off2 + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halves(seg, o + 2L * j * ROWS), v = halves(seg, o2 + 2L * j * ROWS);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
                FloatVector x1 = FloatVector.broadcast(F, xt[xa + 1]);
                a1 = w.fma(x1, a1);
                b1 = v.fma(x1, b1);
                FloatVector x2 = FloatVector.broadcast(F, xt[xa + 2]);
                a2 = w.fma(x2, a2);
                b2 = v.fma(x2, b2);
                FloatVector x3 = FloatVector.broadcast(F, xt[xa + 3]);
                a3 = w.fma(x3, a3);
                b3 = v.fma(x3, b3);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid), m2 = F.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + ROWS, m2);
        a1.intoArray(out, oOff + 1 * rows, m);
        b1.intoArray(out, oOff + ROWS + 1 * rows, m2);
        a2.intoArray(out, oOff + 2 * rows, m);
        b2.intoArray(out, oOff + ROWS + 2 * rows, m2);
        a3.intoArray(out, oOff + 3 * rows, m);
        b3.intoArray(out, oOff + ROWS + 3 * rows, m2);
    }

    /** F16, panels at {@code off} and the next one, 2 input vectors; see {@link PanelKernels#gemm}. */
    static void tile2x2F16(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), b0 = FloatVector.zero(F), b1 = FloatVector.zero(F);
        long off2 = off + (long) nb * F16_BLOCK;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK, o2 = off2 + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halves(seg, o + 2L * j * ROWS), v = halves(seg, o2 + 2L * j * ROWS);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
                FloatVector x1 = FloatVector.broadcast(F, xt[xa + 1]);
                a1 = w.fma(x1, a1);
                b1 = v.fma(x1, b1);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid), m2 = F.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + ROWS, m2);
        a1.intoArray(out, oOff + 1 * rows, m);
        b1.intoArray(out, oOff + ROWS + 1 * rows, m2);
    }

    /** F16, panels at {@code off} and the next one, 1 input vector; see {@link PanelKernels#gemm}. */
    static void tile1x2F16(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F);
        long off2 = off + (long) nb * F16_BLOCK;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK, o2 = off2 + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halves(seg, o + 2L * j * ROWS), v = halves(seg, o2 + 2L * j * ROWS);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid), m2 = F.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + ROWS, m2);
    }

    /** Q4_0: half a panel (rows hr to hr + 7) against one vector {@code x}, to {@code out[r ..]} (its first {@code valid} rows); see {@link PanelKernels#matmul}. */
    static void dotQ4H(MemorySegment seg, long off, int nb, float[] x, float[] xs8, float[] out, int r, int valid, int hr) {
        FloatVector acc = FloatVector.zero(FH);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK + SCALE_BYTES;
            FloatVector s0 = FloatVector.zero(FH), s1 = s0, s2 = s0, s3 = s0;
            int xb = b * 32;
            for (int j = 0; j < 16; j += 2) {
                IntVector q0 = nibblesH(seg, o + (long) j * ROWS + hr), q1 = nibblesH(seg, o + (long) (j + 1) * ROWS + hr);
                s0 = toFloat(q0.and(0x0F)).fma(FloatVector.broadcast(FH, x[xb + j]), s0);
                s1 = toFloat(q0.lanewise(VectorOperators.LSHR, 4)).fma(FloatVector.broadcast(FH, x[xb + j + 16]), s1);
                s2 = toFloat(q1.and(0x0F)).fma(FloatVector.broadcast(FH, x[xb + j + 1]), s2);
                s3 = toFloat(q1.lanewise(VectorOperators.LSHR, 4)).fma(FloatVector.broadcast(FH, x[xb + j + 17]), s3);
            }
            acc = s0.add(s1).add(s2.add(s3)).sub(xs8[b]).fma(scalesH(seg, o - SCALE_BYTES + 2 * hr), acc);
        }
        acc.intoArray(out, r, FH.indexInRange(0, valid));
    }

    /** Q8_0: half a panel (rows hr to hr + 7) against one vector {@code x}, to {@code out[r ..]} (its first {@code valid} rows); see {@link PanelKernels#matmul}. */
    static void dotQ8H(MemorySegment seg, long off, int nb, float[] x, float[] out, int r, int valid, int hr) {
        FloatVector acc = FloatVector.zero(FH);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK + SCALE_BYTES;
            FloatVector s0 = FloatVector.zero(FH), s1 = s0, s2 = s0, s3 = s0;
            int xb = b * 32;
            for (int j = 0; j < 32; j += 4) {
                s0 = quantsH(seg, o + (long) j * ROWS + hr).fma(FloatVector.broadcast(FH, x[xb + j]), s0);
                s1 = quantsH(seg, o + (long) (j + 1) * ROWS + hr).fma(FloatVector.broadcast(FH, x[xb + j + 1]), s1);
                s2 = quantsH(seg, o + (long) (j + 2) * ROWS + hr).fma(FloatVector.broadcast(FH, x[xb + j + 2]), s2);
                s3 = quantsH(seg, o + (long) (j + 3) * ROWS + hr).fma(FloatVector.broadcast(FH, x[xb + j + 3]), s3);
            }
            acc = s0.add(s1).add(s2.add(s3)).fma(scalesH(seg, o - SCALE_BYTES + 2 * hr), acc);
        }
        acc.intoArray(out, r, FH.indexInRange(0, valid));
    }

    /** F16: a panel against one vector {@code x}, even and odd rows in two 8-lane accumulator sets, to {@code out[r ..]} (its first {@code valid} rows); see {@link PanelKernels#matmul}. */
    static void dotF16H(MemorySegment seg, long off, int nb, float[] x, float[] out, int r, int valid) {
        FloatVector s0 = FloatVector.zero(FH), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
        for (int c = 0; c < nb * 32; c += 2) {
            long o = off + 2L * ROWS * c;
            IntVector h0 = IntVector.fromMemorySegment(IH, seg, o, LE);
            FloatVector x0 = FloatVector.broadcast(FH, x[c]);
            s0 = VectorKernels.lowHalfToFloat(h0, F16_PANEL_MAGIC).fma(x0, s0);
            t0 = VectorKernels.highHalfToFloat(h0, F16_PANEL_MAGIC).fma(x0, t0);
            IntVector h1 = IntVector.fromMemorySegment(IH, seg, o + 2 * ROWS, LE);
            FloatVector x1 = FloatVector.broadcast(FH, x[c + 1]);
            s1 = VectorKernels.lowHalfToFloat(h1, F16_PANEL_MAGIC).fma(x1, s1);
            t1 = VectorKernels.highHalfToFloat(h1, F16_PANEL_MAGIC).fma(x1, t1);
            FloatVector u = s0; s0 = s2; s2 = u; u = s1; s1 = s3; s3 = u;
            u = t0; t0 = t2; t2 = u; u = t1; t1 = t3; t3 = u;
        }
        FloatVector even = s0.add(s1).add(s2.add(s3)), odd = t0.add(t1).add(t2.add(t3));
        even.rearrange(INTERLEAVE_LOW, odd).intoArray(out, r, FH.indexInRange(0, valid));
        if (valid > 8) even.rearrange(INTERLEAVE_HIGH, odd).intoArray(out, r + 8, FH.indexInRange(0, valid - 8));
    }

    /** Q4_0, 8 input vectors (rows hr to hr + 7 of the panel); see {@link PanelKernels#gemm}. */
    static void tile8Q4H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int hr) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH), a2 = FloatVector.zero(FH), a3 = FloatVector.zero(FH);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK;
            FloatVector d = scalesH(seg, o + 2 * hr), m8 = d.mul(-8f);
            for (int j = 0; j < 16; j++) {
                IntVector q = nibblesH(seg, o + SCALE_BYTES + j * ROWS + hr);
                FloatVector w = lowNibbles(q, d, m8), v = highNibbles(q, d, m8);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(FH, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(FH, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(FH, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(FH, xt[xa + 3]), a3);
                a4 = w.fma(FloatVector.broadcast(FH, xt[xa + 4]), a4);
                a5 = w.fma(FloatVector.broadcast(FH, xt[xa + 5]), a5);
                a6 = w.fma(FloatVector.broadcast(FH, xt[xa + 6]), a6);
                a7 = w.fma(FloatVector.broadcast(FH, xt[xa + 7]), a7);
                a0 = v.fma(FloatVector.broadcast(FH, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(FH, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(FH, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(FH, xt[xb + 3]), a3);
                a4 = v.fma(FloatVector.broadcast(FH, xt[xb + 4]), a4);
                a5 = v.fma(FloatVector.broadcast(FH, xt[xb + 5]), a5);
                a6 = v.fma(FloatVector.broadcast(FH, xt[xb + 6]), a6);
                a7 = v.fma(FloatVector.broadcast(FH, xt[xb + 7]), a7);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
    }

    /** Q4_0, 4 input vectors (rows hr to hr + 7 of the panel); see {@link PanelKernels#gemm}. */
    static void tile4Q4H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int hr) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH), a2 = FloatVector.zero(FH), a3 = FloatVector.zero(FH);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK;
            FloatVector d = scalesH(seg, o + 2 * hr), m8 = d.mul(-8f);
            for (int j = 0; j < 16; j++) {
                IntVector q = nibblesH(seg, o + SCALE_BYTES + j * ROWS + hr);
                FloatVector w = lowNibbles(q, d, m8), v = highNibbles(q, d, m8);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(FH, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(FH, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(FH, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(FH, xt[xa + 3]), a3);
                a0 = v.fma(FloatVector.broadcast(FH, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(FH, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(FH, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(FH, xt[xb + 3]), a3);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
    }

    /** Q4_0, 2 input vectors (rows hr to hr + 7 of the panel); see {@link PanelKernels#gemm}. */
    static void tile2Q4H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int hr) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK;
            FloatVector d = scalesH(seg, o + 2 * hr), m8 = d.mul(-8f);
            for (int j = 0; j < 16; j++) {
                IntVector q = nibblesH(seg, o + SCALE_BYTES + j * ROWS + hr);
                FloatVector w = lowNibbles(q, d, m8), v = highNibbles(q, d, m8);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(FH, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(FH, xt[xa + 1]), a1);
                a0 = v.fma(FloatVector.broadcast(FH, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(FH, xt[xb + 1]), a1);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
    }

    /** Q4_0, 1 input vector (rows hr to hr + 7 of the panel); see {@link PanelKernels#gemm}. */
    static void tile1Q4H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int hr) {
        FloatVector a0 = FloatVector.zero(FH);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK;
            FloatVector d = scalesH(seg, o + 2 * hr), m8 = d.mul(-8f);
            for (int j = 0; j < 16; j++) {
                IntVector q = nibblesH(seg, o + SCALE_BYTES + j * ROWS + hr);
                FloatVector w = lowNibbles(q, d, m8), v = highNibbles(q, d, m8);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(FH, xt[xa]), a0);
                a0 = v.fma(FloatVector.broadcast(FH, xt[xb]), a0);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
    }

    /** Q8_0, 8 input vectors (rows hr to hr + 7 of the panel); see {@link PanelKernels#gemm}. */
    static void tile8Q8H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int hr) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH), a2 = FloatVector.zero(FH), a3 = FloatVector.zero(FH);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scalesH(seg, o + 2 * hr);
            for (int j = 0; j < 32; j += 2) {
                FloatVector w = q8H(seg, o + SCALE_BYTES + j * ROWS + hr, d), v = q8H(seg, o + SCALE_BYTES + (j + 1) * ROWS + hr, d);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(FH, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(FH, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(FH, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(FH, xt[xa + 3]), a3);
                a4 = w.fma(FloatVector.broadcast(FH, xt[xa + 4]), a4);
                a5 = w.fma(FloatVector.broadcast(FH, xt[xa + 5]), a5);
                a6 = w.fma(FloatVector.broadcast(FH, xt[xa + 6]), a6);
                a7 = w.fma(FloatVector.broadcast(FH, xt[xa + 7]), a7);
                a0 = v.fma(FloatVector.broadcast(FH, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(FH, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(FH, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(FH, xt[xb + 3]), a3);
                a4 = v.fma(FloatVector.broadcast(FH, xt[xb + 4]), a4);
                a5 = v.fma(FloatVector.broadcast(FH, xt[xb + 5]), a5);
                a6 = v.fma(FloatVector.broadcast(FH, xt[xb + 6]), a6);
                a7 = v.fma(FloatVector.broadcast(FH, xt[xb + 7]), a7);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
    }

    /** Q8_0, 4 input vectors (rows hr to hr + 7 of the panel); see {@link PanelKernels#gemm}. */
    static void tile4Q8H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int hr) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH), a2 = FloatVector.zero(FH), a3 = FloatVector.zero(FH);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scalesH(seg, o + 2 * hr);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8H(seg, o + SCALE_BYTES + j * ROWS + hr, d);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(FH, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(FH, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(FH, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(FH, xt[xa + 3]), a3);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
    }

    /** Q8_0, 2 input vectors (rows hr to hr + 7 of the panel); see {@link PanelKernels#gemm}. */
    static void tile2Q8H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int hr) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scalesH(seg, o + 2 * hr);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8H(seg, o + SCALE_BYTES + j * ROWS + hr, d);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(FH, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(FH, xt[xa + 1]), a1);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
    }

    /** Q8_0, 1 input vector (rows hr to hr + 7 of the panel); see {@link PanelKernels#gemm}. */
    static void tile1Q8H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int hr) {
        FloatVector a0 = FloatVector.zero(FH);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scalesH(seg, o + 2 * hr);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8H(seg, o + SCALE_BYTES + j * ROWS + hr, d);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(FH, xt[xa]), a0);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
    }

    /** F16, 8 input vectors (rows hr to hr + 7 of the panel); see {@link PanelKernels#gemm}. */
    static void tile8F16H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int hr) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH), a2 = FloatVector.zero(FH), a3 = FloatVector.zero(FH);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j += 2) {
                FloatVector w = halvesH(seg, o + 2L * j * ROWS + 2 * hr), v = halvesH(seg, o + 2L * (j + 1) * ROWS + 2 * hr);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(FH, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(FH, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(FH, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(FH, xt[xa + 3]), a3);
                a4 = w.fma(FloatVector.broadcast(FH, xt[xa + 4]), a4);
                a5 = w.fma(FloatVector.broadcast(FH, xt[xa + 5]), a5);
                a6 = w.fma(FloatVector.broadcast(FH, xt[xa + 6]), a6);
                a7 = w.fma(FloatVector.broadcast(FH, xt[xa + 7]), a7);
                a0 = v.fma(FloatVector.broadcast(FH, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(FH, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(FH, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(FH, xt[xb + 3]), a3);
                a4 = v.fma(FloatVector.broadcast(FH, xt[xb + 4]), a4);
                a5 = v.fma(FloatVector.broadcast(FH, xt[xb + 5]), a5);
                a6 = v.fma(FloatVector.broadcast(FH, xt[xb + 6]), a6);
                a7 = v.fma(FloatVector.broadcast(FH, xt[xb + 7]), a7);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
    }

    /** F16, 4 input vectors (rows hr to hr + 7 of the panel); see {@link PanelKernels#gemm}. */
    static void tile4F16H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int hr) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH), a2 = FloatVector.zero(FH), a3 = FloatVector.zero(FH);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halvesH(seg, o + 2L * j * ROWS + 2 * hr);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(FH, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(FH, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(FH, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(FH, xt[xa + 3]), a3);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
    }

    /** F16, 2 input vectors (rows hr to hr + 7 of the panel); see {@link PanelKernels#gemm}. */
    static void tile2F16H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int hr) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halvesH(seg, o + 2L * j * ROWS + 2 * hr);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(FH, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(FH, xt[xa + 1]), a1);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
    }

    /** F16, 1 input vector (rows hr to hr + 7 of the panel); see {@link PanelKernels#gemm}. */
    static void tile1F16H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int hr) {
        FloatVector a0 = FloatVector.zero(FH);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halvesH(seg, o + 2L * j * ROWS + 2 * hr);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(FH, xt[xa]), a0);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
    }

    /** Q8_0, both halves of the panel at {@code off}, 4 input vectors; see {@link PanelKernels#gemm}. */
    static void tile4x2Q8H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH), a2 = FloatVector.zero(FH), a3 = FloatVector.zero(FH);
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scalesH(seg, o);
            FloatVector e = scalesH(seg, o + 16);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8H(seg, o + SCALE_BYTES + j * ROWS, d), v = q8H(seg, o + SCALE_BYTES + j * ROWS + 8, e);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(FH, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
                FloatVector x1 = FloatVector.broadcast(FH, xt[xa + 1]);
                a1 = w.fma(x1, a1);
                b1 = v.fma(x1, b1);
                FloatVector x2 = FloatVector.broadcast(FH, xt[xa + 2]);
                a2 = w.fma(x2, a2);
                b2 = v.fma(x2, b2);
                FloatVector x3 = FloatVector.broadcast(FH, xt[xa + 3]);
                a3 = w.fma(x3, a3);
                b3 = v.fma(x3, b3);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid), m2 = FH.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + 8, m2);
        a1.intoArray(out, oOff + 1 * rows, m);
        b1.intoArray(out, oOff + 8 + 1 * rows, m2);
        a2.intoArray(out, oOff + 2 * rows, m);
        b2.intoArray(out, oOff + 8 + 2 * rows, m2);
        a3.intoArray(out, oOff + 3 * rows, m);
        b3.intoArray(out, oOff + 8 + 3 * rows, m2);
    }

    /** Q8_0, both halves of the panel at {@code off}, 2 input vectors; see {@link PanelKernels#gemm}. */
    static void tile2x2Q8H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH), b0 = FloatVector.zero(FH), b1 = FloatVector.zero(FH);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scalesH(seg, o);
            FloatVector e = scalesH(seg, o + 16);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8H(seg, o + SCALE_BYTES + j * ROWS, d), v = q8H(seg, o + SCALE_BYTES + j * ROWS + 8, e);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(FH, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
                FloatVector x1 = FloatVector.broadcast(FH, xt[xa + 1]);
                a1 = w.fma(x1, a1);
                b1 = v.fma(x1, b1);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid), m2 = FH.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + 8, m2);
        a1.intoArray(out, oOff + 1 * rows, m);
        b1.intoArray(out, oOff + 8 + 1 * rows, m2);
    }

    /** Q8_0, both halves of the panel at {@code off}, 1 input vector; see {@link PanelKernels#gemm}. */
    static void tile1x2Q8H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(FH), b0 = FloatVector.zero(FH);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scalesH(seg, o);
            FloatVector e = scalesH(seg, o + 16);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8H(seg, o + SCALE_BYTES + j * ROWS, d), v = q8H(seg, o + SCALE_BYTES + j * ROWS + 8, e);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(FH, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid), m2 = FH.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + 8, m2);
    }

    /** F16, both halves of the panel at {@code off}, 4 input vectors; see {@link PanelKernels#gemm}. */
    static void tile4x2F16H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH), a2 = FloatVector.zero(FH), a3 = FloatVector.zero(FH);
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halvesH(seg, o + 2L * j * ROWS), v = halvesH(seg, o + 2L * j * ROWS + 16);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(FH, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
                FloatVector x1 = FloatVector.broadcast(FH, xt[xa + 1]);
                a1 = w.fma(x1, a1);
                b1 = v.fma(x1, b1);
                FloatVector x2 = FloatVector.broadcast(FH, xt[xa + 2]);
                a2 = w.fma(x2, a2);
                b2 = v.fma(x2, b2);
                FloatVector x3 = FloatVector.broadcast(FH, xt[xa + 3]);
                a3 = w.fma(x3, a3);
                b3 = v.fma(x3, b3);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid), m2 = FH.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + 8, m2);
        a1.intoArray(out, oOff + 1 * rows, m);
        b1.intoArray(out, oOff + 8 + 1 * rows, m2);
        a2.intoArray(out, oOff + 2 * rows, m);
        b2.intoArray(out, oOff + 8 + 2 * rows, m2);
        a3.intoArray(out, oOff + 3 * rows, m);
        b3.intoArray(out, oOff + 8 + 3 * rows, m2);
    }

    /** F16, both halves of the panel at {@code off}, 2 input vectors; see {@link PanelKernels#gemm}. */
    static void tile2x2F16H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH), b0 = FloatVector.zero(FH), b1 = FloatVector.zero(FH);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halvesH(seg, o + 2L * j * ROWS), v = halvesH(seg, o + 2L * j * ROWS + 16);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(FH, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
                FloatVector x1 = FloatVector.broadcast(FH, xt[xa + 1]);
                a1 = w.fma(x1, a1);
                b1 = v.fma(x1, b1);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid), m2 = FH.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + 8, m2);
        a1.intoArray(out, oOff + 1 * rows, m);
        b1.intoArray(out, oOff + 8 + 1 * rows, m2);
    }

    /** F16, both halves of the panel at {@code off}, 1 input vector; see {@link PanelKernels#gemm}. */
    static void tile1x2F16H(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(FH), b0 = FloatVector.zero(FH);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halvesH(seg, o + 2L * j * ROWS), v = halvesH(seg, o + 2L * j * ROWS + 16);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(FH, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid), m2 = FH.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + 8, m2);
    }

    /** Q4_0: the panel at {@code off} decoded into {@code w[c * 16 + row]} (column {@code c}), the values the tiles decode; see {@link PanelKernels#gemm}. */
    static void decodeQ4(MemorySegment seg, long off, int nb, float[] w) {
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK;
            int c0 = b * 32 * ROWS;
            FloatVector d = scales(seg, o), m8 = d.mul(-8f);
            for (int j = 0; j < 16; j++) {
                IntVector q = nibbles(seg, o + SCALE_BYTES + j * ROWS);
                lowNibbles(q, d, m8).intoArray(w, c0 + j * ROWS);
                highNibbles(q, d, m8).intoArray(w, c0 + (j + 16) * ROWS);
            }
        }
    }

    /** Q8_0: the panel at {@code off} decoded into {@code w[c * 16 + row]} (column {@code c}), the values the tiles decode; see {@link PanelKernels#gemm}. */
    static void decodeQ8(MemorySegment seg, long off, int nb, float[] w) {
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            int c0 = b * 32 * ROWS;
            FloatVector d = scales(seg, o);
            for (int j = 0; j < 32; j++) q8(seg, o + SCALE_BYTES + j * ROWS, d).intoArray(w, c0 + j * ROWS);
        }
    }

    /** F16: the panel at {@code off} decoded into {@code w[c * 16 + row]} (column {@code c}), the values the tiles decode; see {@link PanelKernels#gemm}. */
    static void decodeF16(MemorySegment seg, long off, int nb, float[] w) {
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            int c0 = b * 32 * ROWS;
            for (int j = 0; j < 32; j++) halves(seg, o + 2L * j * ROWS).intoArray(w, c0 + j * ROWS);
        }
    }

    /** A decoded panel (see {@code decode*}), 16 input vectors, columns in Q4_0 order; see {@link PanelKernels#gemm}. */
    static void tileF16Q4(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        FloatVector a12 = a0, a13 = a0, a14 = a0, a15 = a0;
        for (int b = 0; b < nb * 32; b += 32) {
            for (int j = b; j < b + 16; j++) {
                FloatVector w0 = FloatVector.fromArray(F, w, j * ROWS);
                int xa = xOff + j * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w0.fma(x0, a0);
                FloatVector x1 = FloatVector.broadcast(F, xt[xa + 1]);
                a1 = w0.fma(x1, a1);
                FloatVector x2 = FloatVector.broadcast(F, xt[xa + 2]);
                a2 = w0.fma(x2, a2);
                FloatVector x3 = FloatVector.broadcast(F, xt[xa + 3]);
                a3 = w0.fma(x3, a3);
                FloatVector x4 = FloatVector.broadcast(F, xt[xa + 4]);
                a4 = w0.fma(x4, a4);
                FloatVector x5 = FloatVector.broadcast(F, xt[xa + 5]);
                a5 = w0.fma(x5, a5);
                FloatVector x6 = FloatVector.broadcast(F, xt[xa + 6]);
                a6 = w0.fma(x6, a6);
                FloatVector x7 = FloatVector.broadcast(F, xt[xa + 7]);
                a7 = w0.fma(x7, a7);
                FloatVector x8 = FloatVector.broadcast(F, xt[xa + 8]);
                a8 = w0.fma(x8, a8);
                FloatVector x9 = FloatVector.broadcast(F, xt[xa + 9]);
                a9 = w0.fma(x9, a9);
                FloatVector x10 = FloatVector.broadcast(F, xt[xa + 10]);
                a10 = w0.fma(x10, a10);
                FloatVector x11 = FloatVector.broadcast(F, xt[xa + 11]);
                a11 = w0.fma(x11, a11);
                FloatVector x12 = FloatVector.broadcast(F, xt[xa + 12]);
                a12 = w0.fma(x12, a12);
                FloatVector x13 = FloatVector.broadcast(F, xt[xa + 13]);
                a13 = w0.fma(x13, a13);
                FloatVector x14 = FloatVector.broadcast(F, xt[xa + 14]);
                a14 = w0.fma(x14, a14);
                FloatVector x15 = FloatVector.broadcast(F, xt[xa + 15]);
                a15 = w0.fma(x15, a15);
                FloatVector w0h = FloatVector.fromArray(F, w, (j + 16) * ROWS);
                int xah = xOff + (j + 16) * X_STRIDE;
                FloatVector x0h = FloatVector.broadcast(F, xt[xah]);
                a0 = w0h.fma(x0h, a0);
                FloatVector x1h = FloatVector.broadcast(F, xt[xah + 1]);
                a1 = w0h.fma(x1h, a1);
                FloatVector x2h = FloatVector.broadcast(F, xt[xah + 2]);
                a2 = w0h.fma(x2h, a2);
                FloatVector x3h = FloatVector.broadcast(F, xt[xah + 3]);
                a3 = w0h.fma(x3h, a3);
                FloatVector x4h = FloatVector.broadcast(F, xt[xah + 4]);
                a4 = w0h.fma(x4h, a4);
                FloatVector x5h = FloatVector.broadcast(F, xt[xah + 5]);
                a5 = w0h.fma(x5h, a5);
                FloatVector x6h = FloatVector.broadcast(F, xt[xah + 6]);
                a6 = w0h.fma(x6h, a6);
                FloatVector x7h = FloatVector.broadcast(F, xt[xah + 7]);
                a7 = w0h.fma(x7h, a7);
                FloatVector x8h = FloatVector.broadcast(F, xt[xah + 8]);
                a8 = w0h.fma(x8h, a8);
                FloatVector x9h = FloatVector.broadcast(F, xt[xah + 9]);
                a9 = w0h.fma(x9h, a9);
                FloatVector x10h = FloatVector.broadcast(F, xt[xah + 10]);
                a10 = w0h.fma(x10h, a10);
                FloatVector x11h = FloatVector.broadcast(F, xt[xah + 11]);
                a11 = w0h.fma(x11h, a11);
                FloatVector x12h = FloatVector.broadcast(F, xt[xah + 12]);
                a12 = w0h.fma(x12h, a12);
                FloatVector x13h = FloatVector.broadcast(F, xt[xah + 13]);
                a13 = w0h.fma(x13h, a13);
                FloatVector x14h = FloatVector.broadcast(F, xt[xah + 14]);
                a14 = w0h.fma(x14h, a14);
                FloatVector x15h = FloatVector.broadcast(F, xt[xah + 15]);
                a15 = w0h.fma(x15h, a15);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
        a8.intoArray(out, oOff + 8 * rows, m);
        a9.intoArray(out, oOff + 9 * rows, m);
        a10.intoArray(out, oOff + 10 * rows, m);
        a11.intoArray(out, oOff + 11 * rows, m);
        a12.intoArray(out, oOff + 12 * rows, m);
        a13.intoArray(out, oOff + 13 * rows, m);
        a14.intoArray(out, oOff + 14 * rows, m);
        a15.intoArray(out, oOff + 15 * rows, m);
    }

    /** A decoded panel (see {@code decode*}), 8 input vectors, columns in Q4_0 order; see {@link PanelKernels#gemm}. */
    static void tileF8Q4(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int b = 0; b < nb * 32; b += 32) {
            for (int j = b; j < b + 16; j++) {
                FloatVector w0 = FloatVector.fromArray(F, w, j * ROWS);
                int xa = xOff + j * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w0.fma(x0, a0);
                FloatVector x1 = FloatVector.broadcast(F, xt[xa + 1]);
                a1 = w0.fma(x1, a1);
                FloatVector x2 = FloatVector.broadcast(F, xt[xa + 2]);
                a2 = w0.fma(x2, a2);
                FloatVector x3 = FloatVector.broadcast(F, xt[xa + 3]);
                a3 = w0.fma(x3, a3);
                FloatVector x4 = FloatVector.broadcast(F, xt[xa + 4]);
                a4 = w0.fma(x4, a4);
                FloatVector x5 = FloatVector.broadcast(F, xt[xa + 5]);
                a5 = w0.fma(x5, a5);
                FloatVector x6 = FloatVector.broadcast(F, xt[xa + 6]);
                a6 = w0.fma(x6, a6);
                FloatVector x7 = FloatVector.broadcast(F, xt[xa + 7]);
                a7 = w0.fma(x7, a7);
                FloatVector w0h = FloatVector.fromArray(F, w, (j + 16) * ROWS);
                int xah = xOff + (j + 16) * X_STRIDE;
                FloatVector x0h = FloatVector.broadcast(F, xt[xah]);
                a0 = w0h.fma(x0h, a0);
                FloatVector x1h = FloatVector.broadcast(F, xt[xah + 1]);
                a1 = w0h.fma(x1h, a1);
                FloatVector x2h = FloatVector.broadcast(F, xt[xah + 2]);
                a2 = w0h.fma(x2h, a2);
                FloatVector x3h = FloatVector.broadcast(F, xt[xah + 3]);
                a3 = w0h.fma(x3h, a3);
                FloatVector x4h = FloatVector.broadcast(F, xt[xah + 4]);
                a4 = w0h.fma(x4h, a4);
                FloatVector x5h = FloatVector.broadcast(F, xt[xah + 5]);
                a5 = w0h.fma(x5h, a5);
                FloatVector x6h = FloatVector.broadcast(F, xt[xah + 6]);
                a6 = w0h.fma(x6h, a6);
                FloatVector x7h = FloatVector.broadcast(F, xt[xah + 7]);
                a7 = w0h.fma(x7h, a7);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
    }

    /** A decoded panel (see {@code decode*}), 4 input vectors, columns in Q4_0 order; see {@link PanelKernels#gemm}. */
    static void tileF4Q4(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        for (int b = 0; b < nb * 32; b += 32) {
            for (int j = b; j < b + 16; j++) {
                FloatVector w0 = FloatVector.fromArray(F, w, j * ROWS);
                int xa = xOff + j * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w0.fma(x0, a0);
                FloatVector x1 = FloatVector.broadcast(F, xt[xa + 1]);
                a1 = w0.fma(x1, a1);
                FloatVector x2 = FloatVector.broadcast(F, xt[xa + 2]);
                a2 = w0.fma(x2, a2);
                FloatVector x3 = FloatVector.broadcast(F, xt[xa + 3]);
                a3 = w0.fma(x3, a3);
                FloatVector w0h = FloatVector.fromArray(F, w, (j + 16) * ROWS);
                int xah = xOff + (j + 16) * X_STRIDE;
                FloatVector x0h = FloatVector.broadcast(F, xt[xah]);
                a0 = w0h.fma(x0h, a0);
                FloatVector x1h = FloatVector.broadcast(F, xt[xah + 1]);
                a1 = w0h.fma(x1h, a1);
                FloatVector x2h = FloatVector.broadcast(F, xt[xah + 2]);
                a2 = w0h.fma(x2h, a2);
                FloatVector x3h = FloatVector.broadcast(F, xt[xah + 3]);
                a3 = w0h.fma(x3h, a3);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
    }

    /** A decoded panel (see {@code decode*}), 2 input vectors, columns in Q4_0 order; see {@link PanelKernels#gemm}. */
    static void tileF2Q4(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F);
        for (int b = 0; b < nb * 32; b += 32) {
            for (int j = b; j < b + 16; j++) {
                FloatVector w0 = FloatVector.fromArray(F, w, j * ROWS);
                int xa = xOff + j * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w0.fma(x0, a0);
                FloatVector x1 = FloatVector.broadcast(F, xt[xa + 1]);
                a1 = w0.fma(x1, a1);
                FloatVector w0h = FloatVector.fromArray(F, w, (j + 16) * ROWS);
                int xah = xOff + (j + 16) * X_STRIDE;
                FloatVector x0h = FloatVector.broadcast(F, xt[xah]);
                a0 = w0h.fma(x0h, a0);
                FloatVector x1h = FloatVector.broadcast(F, xt[xah + 1]);
                a1 = w0h.fma(x1h, a1);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
    }

    /** A decoded panel (see {@code decode*}), 1 input vector, columns in Q4_0 order; see {@link PanelKernels#gemm}. */
    static void tileF1Q4(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F);
        for (int b = 0; b < nb * 32; b += 32) {
            for (int j = b; j < b + 16; j++) {
                FloatVector w0 = FloatVector.fromArray(F, w, j * ROWS);
                int xa = xOff + j * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w0.fma(x0, a0);
                FloatVector w0h = FloatVector.fromArray(F, w, (j + 16) * ROWS);
                int xah = xOff + (j + 16) * X_STRIDE;
                FloatVector x0h = FloatVector.broadcast(F, xt[xah]);
                a0 = w0h.fma(x0h, a0);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
    }

    /** A decoded panel (see {@code decode*}), 16 input vectors, columns in order; see {@link PanelKernels#gemm}. */
    static void tileF16(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        FloatVector a12 = a0, a13 = a0, a14 = a0, a15 = a0;
        for (int c = 0; c < nb * 32; c++) {
            FloatVector w0 = FloatVector.fromArray(F, w, c * ROWS);
            int xa = xOff + c * X_STRIDE;
            FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
            a0 = w0.fma(x0, a0);
            FloatVector x1 = FloatVector.broadcast(F, xt[xa + 1]);
            a1 = w0.fma(x1, a1);
            FloatVector x2 = FloatVector.broadcast(F, xt[xa + 2]);
            a2 = w0.fma(x2, a2);
            FloatVector x3 = FloatVector.broadcast(F, xt[xa + 3]);
            a3 = w0.fma(x3, a3);
            FloatVector x4 = FloatVector.broadcast(F, xt[xa + 4]);
            a4 = w0.fma(x4, a4);
            FloatVector x5 = FloatVector.broadcast(F, xt[xa + 5]);
            a5 = w0.fma(x5, a5);
            FloatVector x6 = FloatVector.broadcast(F, xt[xa + 6]);
            a6 = w0.fma(x6, a6);
            FloatVector x7 = FloatVector.broadcast(F, xt[xa + 7]);
            a7 = w0.fma(x7, a7);
            FloatVector x8 = FloatVector.broadcast(F, xt[xa + 8]);
            a8 = w0.fma(x8, a8);
            FloatVector x9 = FloatVector.broadcast(F, xt[xa + 9]);
            a9 = w0.fma(x9, a9);
            FloatVector x10 = FloatVector.broadcast(F, xt[xa + 10]);
            a10 = w0.fma(x10, a10);
            FloatVector x11 = FloatVector.broadcast(F, xt[xa + 11]);
            a11 = w0.fma(x11, a11);
            FloatVector x12 = FloatVector.broadcast(F, xt[xa + 12]);
            a12 = w0.fma(x12, a12);
            FloatVector x13 = FloatVector.broadcast(F, xt[xa + 13]);
            a13 = w0.fma(x13, a13);
            FloatVector x14 = FloatVector.broadcast(F, xt[xa + 14]);
            a14 = w0.fma(x14, a14);
            FloatVector x15 = FloatVector.broadcast(F, xt[xa + 15]);
            a15 = w0.fma(x15, a15);
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
        a8.intoArray(out, oOff + 8 * rows, m);
        a9.intoArray(out, oOff + 9 * rows, m);
        a10.intoArray(out, oOff + 10 * rows, m);
        a11.intoArray(out, oOff + 11 * rows, m);
        a12.intoArray(out, oOff + 12 * rows, m);
        a13.intoArray(out, oOff + 13 * rows, m);
        a14.intoArray(out, oOff + 14 * rows, m);
        a15.intoArray(out, oOff + 15 * rows, m);
    }

    /** A decoded panel (see {@code decode*}), 8 input vectors, columns in order; see {@link PanelKernels#gemm}. */
    static void tileF8(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int c = 0; c < nb * 32; c++) {
            FloatVector w0 = FloatVector.fromArray(F, w, c * ROWS);
            int xa = xOff + c * X_STRIDE;
            FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
            a0 = w0.fma(x0, a0);
            FloatVector x1 = FloatVector.broadcast(F, xt[xa + 1]);
            a1 = w0.fma(x1, a1);
            FloatVector x2 = FloatVector.broadcast(F, xt[xa + 2]);
            a2 = w0.fma(x2, a2);
            FloatVector x3 = FloatVector.broadcast(F, xt[xa + 3]);
            a3 = w0.fma(x3, a3);
            FloatVector x4 = FloatVector.broadcast(F, xt[xa + 4]);
            a4 = w0.fma(x4, a4);
            FloatVector x5 = FloatVector.broadcast(F, xt[xa + 5]);
            a5 = w0.fma(x5, a5);
            FloatVector x6 = FloatVector.broadcast(F, xt[xa + 6]);
            a6 = w0.fma(x6, a6);
            FloatVector x7 = FloatVector.broadcast(F, xt[xa + 7]);
            a7 = w0.fma(x7, a7);
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
    }

    /** A decoded panel (see {@code decode*}), 4 input vectors, columns in order; see {@link PanelKernels#gemm}. */
    static void tileF4(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        for (int c = 0; c < nb * 32; c++) {
            FloatVector w0 = FloatVector.fromArray(F, w, c * ROWS);
            int xa = xOff + c * X_STRIDE;
            FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
            a0 = w0.fma(x0, a0);
            FloatVector x1 = FloatVector.broadcast(F, xt[xa + 1]);
            a1 = w0.fma(x1, a1);
            FloatVector x2 = FloatVector.broadcast(F, xt[xa + 2]);
            a2 = w0.fma(x2, a2);
            FloatVector x3 = FloatVector.broadcast(F, xt[xa + 3]);
            a3 = w0.fma(x3, a3);
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
    }

    /** A decoded panel (see {@code decode*}), 2 input vectors, columns in order; see {@link PanelKernels#gemm}. */
    static void tileF2(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F);
        for (int c = 0; c < nb * 32; c++) {
            FloatVector w0 = FloatVector.fromArray(F, w, c * ROWS);
            int xa = xOff + c * X_STRIDE;
            FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
            a0 = w0.fma(x0, a0);
            FloatVector x1 = FloatVector.broadcast(F, xt[xa + 1]);
            a1 = w0.fma(x1, a1);
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
    }

    /** A decoded panel (see {@code decode*}), 1 input vector, columns in order; see {@link PanelKernels#gemm}. */
    static void tileF1(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F);
        for (int c = 0; c < nb * 32; c++) {
            FloatVector w0 = FloatVector.fromArray(F, w, c * ROWS);
            int xa = xOff + c * X_STRIDE;
            FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
            a0 = w0.fma(x0, a0);
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
    }

    /** Q4_0: the panel at {@code off} decoded into {@code w[c * 16 + row]} (column {@code c}), the values the tiles decode; see {@link PanelKernels#gemm}. */
    static void decodeQ4H(MemorySegment seg, long off, int nb, float[] w) {
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK;
            int c0 = b * 32 * ROWS;
            for (int hr = 0; hr < ROWS; hr += 8) {
                FloatVector d = scalesH(seg, o + 2 * hr), m8 = d.mul(-8f);
                for (int j = 0; j < 16; j++) {
                    IntVector q = nibblesH(seg, o + SCALE_BYTES + j * ROWS + hr);
                    lowNibbles(q, d, m8).intoArray(w, c0 + j * ROWS + hr);
                    highNibbles(q, d, m8).intoArray(w, c0 + (j + 16) * ROWS + hr);
                }
            }
        }
    }

    /** Q8_0: the panel at {@code off} decoded into {@code w[c * 16 + row]} (column {@code c}), the values the tiles decode; see {@link PanelKernels#gemm}. */
    static void decodeQ8H(MemorySegment seg, long off, int nb, float[] w) {
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            int c0 = b * 32 * ROWS;
            for (int hr = 0; hr < ROWS; hr += 8) {
                FloatVector d = scalesH(seg, o + 2 * hr);
                for (int j = 0; j < 32; j++) q8H(seg, o + SCALE_BYTES + j * ROWS + hr, d).intoArray(w, c0 + j * ROWS + hr);
            }
        }
    }

    /** F16: the panel at {@code off} decoded into {@code w[c * 16 + row]} (column {@code c}), the values the tiles decode; see {@link PanelKernels#gemm}. */
    static void decodeF16H(MemorySegment seg, long off, int nb, float[] w) {
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            int c0 = b * 32 * ROWS;
            for (int hr = 0; hr < ROWS; hr += 8) {
                for (int j = 0; j < 32; j++) halvesH(seg, o + 2L * j * ROWS + 2 * hr).intoArray(w, c0 + j * ROWS + hr);
            }
        }
    }

    /** A decoded panel (see {@code decode*}), 4 input vectors, columns in Q4_0 order; see {@link PanelKernels#gemm}. */
    static void tileF4Q4H(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH), a2 = FloatVector.zero(FH), a3 = FloatVector.zero(FH);
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int b = 0; b < nb * 32; b += 32) {
            for (int j = b; j < b + 16; j++) {
                FloatVector w0 = FloatVector.fromArray(FH, w, j * ROWS), w1 = FloatVector.fromArray(FH, w, j * ROWS + 8);
                int xa = xOff + j * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(FH, xt[xa]);
                a0 = w0.fma(x0, a0);
                b0 = w1.fma(x0, b0);
                FloatVector x1 = FloatVector.broadcast(FH, xt[xa + 1]);
                a1 = w0.fma(x1, a1);
                b1 = w1.fma(x1, b1);
                FloatVector x2 = FloatVector.broadcast(FH, xt[xa + 2]);
                a2 = w0.fma(x2, a2);
                b2 = w1.fma(x2, b2);
                FloatVector x3 = FloatVector.broadcast(FH, xt[xa + 3]);
                a3 = w0.fma(x3, a3);
                b3 = w1.fma(x3, b3);
                FloatVector w0h = FloatVector.fromArray(FH, w, (j + 16) * ROWS), w1h = FloatVector.fromArray(FH, w, (j + 16) * ROWS + 8);
                int xah = xOff + (j + 16) * X_STRIDE;
                FloatVector x0h = FloatVector.broadcast(FH, xt[xah]);
                a0 = w0h.fma(x0h, a0);
                b0 = w1h.fma(x0h, b0);
                FloatVector x1h = FloatVector.broadcast(FH, xt[xah + 1]);
                a1 = w0h.fma(x1h, a1);
                b1 = w1h.fma(x1h, b1);
                FloatVector x2h = FloatVector.broadcast(FH, xt[xah + 2]);
                a2 = w0h.fma(x2h, a2);
                b2 = w1h.fma(x2h, b2);
                FloatVector x3h = FloatVector.broadcast(FH, xt[xah + 3]);
                a3 = w0h.fma(x3h, a3);
                b3 = w1h.fma(x3h, b3);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid), m2 = FH.indexInRange(0, valid - 8);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + 8, m2);
        a1.intoArray(out, oOff + 1 * rows, m);
        b1.intoArray(out, oOff + 8 + 1 * rows, m2);
        a2.intoArray(out, oOff + 2 * rows, m);
        b2.intoArray(out, oOff + 8 + 2 * rows, m2);
        a3.intoArray(out, oOff + 3 * rows, m);
        b3.intoArray(out, oOff + 8 + 3 * rows, m2);
    }

    /** A decoded panel (see {@code decode*}), 2 input vectors, columns in Q4_0 order; see {@link PanelKernels#gemm}. */
    static void tileF2Q4H(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH), b0 = FloatVector.zero(FH), b1 = FloatVector.zero(FH);
        for (int b = 0; b < nb * 32; b += 32) {
            for (int j = b; j < b + 16; j++) {
                FloatVector w0 = FloatVector.fromArray(FH, w, j * ROWS), w1 = FloatVector.fromArray(FH, w, j * ROWS + 8);
                int xa = xOff + j * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(FH, xt[xa]);
                a0 = w0.fma(x0, a0);
                b0 = w1.fma(x0, b0);
                FloatVector x1 = FloatVector.broadcast(FH, xt[xa + 1]);
                a1 = w0.fma(x1, a1);
                b1 = w1.fma(x1, b1);
                FloatVector w0h = FloatVector.fromArray(FH, w, (j + 16) * ROWS), w1h = FloatVector.fromArray(FH, w, (j + 16) * ROWS + 8);
                int xah = xOff + (j + 16) * X_STRIDE;
                FloatVector x0h = FloatVector.broadcast(FH, xt[xah]);
                a0 = w0h.fma(x0h, a0);
                b0 = w1h.fma(x0h, b0);
                FloatVector x1h = FloatVector.broadcast(FH, xt[xah + 1]);
                a1 = w0h.fma(x1h, a1);
                b1 = w1h.fma(x1h, b1);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid), m2 = FH.indexInRange(0, valid - 8);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + 8, m2);
        a1.intoArray(out, oOff + 1 * rows, m);
        b1.intoArray(out, oOff + 8 + 1 * rows, m2);
    }

    /** A decoded panel (see {@code decode*}), 1 input vector, columns in Q4_0 order; see {@link PanelKernels#gemm}. */
    static void tileF1Q4H(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(FH), b0 = FloatVector.zero(FH);
        for (int b = 0; b < nb * 32; b += 32) {
            for (int j = b; j < b + 16; j++) {
                FloatVector w0 = FloatVector.fromArray(FH, w, j * ROWS), w1 = FloatVector.fromArray(FH, w, j * ROWS + 8);
                int xa = xOff + j * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(FH, xt[xa]);
                a0 = w0.fma(x0, a0);
                b0 = w1.fma(x0, b0);
                FloatVector w0h = FloatVector.fromArray(FH, w, (j + 16) * ROWS), w1h = FloatVector.fromArray(FH, w, (j + 16) * ROWS + 8);
                int xah = xOff + (j + 16) * X_STRIDE;
                FloatVector x0h = FloatVector.broadcast(FH, xt[xah]);
                a0 = w0h.fma(x0h, a0);
                b0 = w1h.fma(x0h, b0);
            }
        }
        VectorMask<Float> m = FH.indexInRange(0, valid), m2 = FH.indexInRange(0, valid - 8);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + 8, m2);
    }

    /** A decoded panel (see {@code decode*}), 4 input vectors, columns in order; see {@link PanelKernels#gemm}. */
    static void tileF4H(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH), a2 = FloatVector.zero(FH), a3 = FloatVector.zero(FH);
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int c = 0; c < nb * 32; c++) {
            FloatVector w0 = FloatVector.fromArray(FH, w, c * ROWS), w1 = FloatVector.fromArray(FH, w, c * ROWS + 8);
            int xa = xOff + c * X_STRIDE;
            FloatVector x0 = FloatVector.broadcast(FH, xt[xa]);
            a0 = w0.fma(x0, a0);
            b0 = w1.fma(x0, b0);
            FloatVector x1 = FloatVector.broadcast(FH, xt[xa + 1]);
            a1 = w0.fma(x1, a1);
            b1 = w1.fma(x1, b1);
            FloatVector x2 = FloatVector.broadcast(FH, xt[xa + 2]);
            a2 = w0.fma(x2, a2);
            b2 = w1.fma(x2, b2);
            FloatVector x3 = FloatVector.broadcast(FH, xt[xa + 3]);
            a3 = w0.fma(x3, a3);
            b3 = w1.fma(x3, b3);
        }
        VectorMask<Float> m = FH.indexInRange(0, valid), m2 = FH.indexInRange(0, valid - 8);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + 8, m2);
        a1.intoArray(out, oOff + 1 * rows, m);
        b1.intoArray(out, oOff + 8 + 1 * rows, m2);
        a2.intoArray(out, oOff + 2 * rows, m);
        b2.intoArray(out, oOff + 8 + 2 * rows, m2);
        a3.intoArray(out, oOff + 3 * rows, m);
        b3.intoArray(out, oOff + 8 + 3 * rows, m2);
    }

    /** A decoded panel (see {@code decode*}), 2 input vectors, columns in order; see {@link PanelKernels#gemm}. */
    static void tileF2H(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(FH), a1 = FloatVector.zero(FH), b0 = FloatVector.zero(FH), b1 = FloatVector.zero(FH);
        for (int c = 0; c < nb * 32; c++) {
            FloatVector w0 = FloatVector.fromArray(FH, w, c * ROWS), w1 = FloatVector.fromArray(FH, w, c * ROWS + 8);
            int xa = xOff + c * X_STRIDE;
            FloatVector x0 = FloatVector.broadcast(FH, xt[xa]);
            a0 = w0.fma(x0, a0);
            b0 = w1.fma(x0, b0);
            FloatVector x1 = FloatVector.broadcast(FH, xt[xa + 1]);
            a1 = w0.fma(x1, a1);
            b1 = w1.fma(x1, b1);
        }
        VectorMask<Float> m = FH.indexInRange(0, valid), m2 = FH.indexInRange(0, valid - 8);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + 8, m2);
        a1.intoArray(out, oOff + 1 * rows, m);
        b1.intoArray(out, oOff + 8 + 1 * rows, m2);
    }

    /** A decoded panel (see {@code decode*}), 1 input vector, columns in order; see {@link PanelKernels#gemm}. */
    static void tileF1H(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(FH), b0 = FloatVector.zero(FH);
        for (int c = 0; c < nb * 32; c++) {
            FloatVector w0 = FloatVector.fromArray(FH, w, c * ROWS), w1 = FloatVector.fromArray(FH, w, c * ROWS + 8);
            int xa = xOff + c * X_STRIDE;
            FloatVector x0 = FloatVector.broadcast(FH, xt[xa]);
            a0 = w0.fma(x0, a0);
            b0 = w1.fma(x0, b0);
        }
        VectorMask<Float> m = FH.indexInRange(0, valid), m2 = FH.indexInRange(0, valid - 8);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + 8, m2);
    }
}
