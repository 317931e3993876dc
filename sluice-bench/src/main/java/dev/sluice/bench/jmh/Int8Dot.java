package dev.sluice.bench.jmh;

import dev.sluice.engine.tensor.Dequant;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Experimental (issue 3): Q8_0 / Q4_0 weight rows against activations quantized to Q8_0 blocks
 * (llama.cpp's {@code quantize_row_q8_0}: per 32 elements one float scale {@code d = amax / 127} and
 * 32 int8), dotted with integer lanes of the Vector API. The Vector API has no int8 dot product
 * ({@code vpmaddubsw}, {@code vpdpbusd}) nor {@code vpmaddwd}, so the int8 products are formed by
 * widening to int16 lanes ({@code vpmovsxbw}) and {@code vpmullw}, summed in int16 or int32 lanes, and
 * each block's integer partial sums are converted to float and scaled by {@code d_w * d_x} with one FMA.
 * Not used by the engine: see docs/engine.md, "Int8 activations" for the measurements.
 *
 * <p>The float baselines {@link #floatQ8_0} and {@link #floatQ4_0} are copies of
 * {@code VectorKernels.dotQ8_0} / {@code dotQ4_0} (512-bit species), so both sides compile in the same class.
 */
final class Int8Dot {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    static final VectorSpecies<Short> S512 = ShortVector.SPECIES_512;
    static final VectorSpecies<Short> S256 = ShortVector.SPECIES_256;
    static final VectorSpecies<Byte> B32 = ByteVector.SPECIES_256;
    static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** 1.5 * 2^23: adding and subtracting it rounds a float of magnitude below 2^22 to the nearest integer. */
    private static final float ROUND = 12582912f;

    private Int8Dot() {
    }

    /** Activations quantized to Q8_0 blocks: {@code q[i]} int8, {@code d[i / 32]} the block scale, {@code s[i / 32] = d * sum(q)} (for Q4_0's -8). */
    record Q8(byte[] q, float[] d, float[] s) {
        Q8(int n) {
            this(new byte[n], new float[n / 32], new float[n / 32]);
        }
    }

    /** {@code quantize_row_q8_0} on 512-bit lanes (round to nearest even instead of away from zero). */
    static Q8 quantize(float[] x, int n, Q8 out) {
        byte[] q = out.q();
        for (int b = 0; b < n / 32; b++) {
            FloatVector v0 = FloatVector.fromArray(F, x, b * 32), v1 = FloatVector.fromArray(F, x, b * 32 + 16);
            float amax = v0.abs().max(v1.abs()).reduceLanes(VectorOperators.MAX);
            float d = amax / 127f, id = d != 0 ? 1f / d : 0f;
            IntVector i0 = (IntVector) v0.mul(id).add(ROUND).sub(ROUND).convert(VectorOperators.F2I, 0);
            IntVector i1 = (IntVector) v1.mul(id).add(ROUND).sub(ROUND).convert(VectorOperators.F2I, 0);
            ((ByteVector) i0.convertShape(VectorOperators.I2B, B16, 0)).intoArray(q, b * 32);
            ((ByteVector) i1.convertShape(VectorOperators.I2B, B16, 0)).intoArray(q, b * 32 + 16);
            out.d()[b] = d;
            out.s()[b] = d * i0.add(i1).reduceLanes(VectorOperators.ADD);
        }
        return out;
    }

    /** Copy of {@code VectorKernels.dotQ8_0}: float activations. */
    static float floatQ8_0(MemorySegment seg, long off, float[] x, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < n / 32; b++, off += 34) {
            float d = Dequant.halfAt(seg, off);
            ByteVector q = ByteVector.fromMemorySegment(B32, seg, off + 2, LE);
            int xo = b * 32;
            FloatVector sum = ((FloatVector) q.castShape(F, 0)).mul(FloatVector.fromArray(F, x, xo));
            sum = ((FloatVector) q.castShape(F, 1)).fma(FloatVector.fromArray(F, x, xo + 16), sum);
            acc = sum.fma(FloatVector.broadcast(F, d), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * A: 32 int8 of each side widened to 32 int16 lanes (512-bit), one {@code vpmullw}, the 32 products
     * widened to two 16-int vectors and added, converted, one FMA per block.
     */
    static float q8S2I(MemorySegment seg, long off, Q8 a, int n) {
        FloatVector acc = FloatVector.zero(F);
        byte[] aq = a.q();
        float[] ad = a.d();
        for (int b = 0; b < n / 32; b++, off += 34) {
            float d = Dequant.halfAt(seg, off) * ad[b];
            ShortVector w = (ShortVector) ByteVector.fromMemorySegment(B32, seg, off + 2, LE).convertShape(VectorOperators.B2S, S512, 0);
            ShortVector x = (ShortVector) ByteVector.fromArray(B32, aq, b * 32).convertShape(VectorOperators.B2S, S512, 0);
            ShortVector p = w.mul(x);
            IntVector s = ((IntVector) p.convertShape(VectorOperators.S2I, I, 0)).add((IntVector) p.convertShape(VectorOperators.S2I, I, 1));
            acc = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * B: as A, but the 32 int16 products are summed pairwise on int lanes (each int lane holds two
     * adjacent products: {@code (p >> 16) + ((p << 16) >> 16)}), a hand-made {@code vpmaddwd}.
     */
    static float q8Pairs(MemorySegment seg, long off, Q8 a, int n) {
        FloatVector acc = FloatVector.zero(F);
        byte[] aq = a.q();
        float[] ad = a.d();
        for (int b = 0; b < n / 32; b++, off += 34) {
            float d = Dequant.halfAt(seg, off) * ad[b];
            ShortVector w = (ShortVector) ByteVector.fromMemorySegment(B32, seg, off + 2, LE).convertShape(VectorOperators.B2S, S512, 0);
            ShortVector x = (ShortVector) ByteVector.fromArray(B32, aq, b * 32).convertShape(VectorOperators.B2S, S512, 0);
            IntVector p = w.mul(x).reinterpretAsInts();
            IntVector s = p.lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
            acc = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * C: two 16-byte halves per side widened to 16 int16 lanes (256-bit), two {@code vpmullw}, the two
     * product vectors added in int16 ({@code 2 * 127 * 127 < 32767}; a -128 weight and activation would
     * overflow, which Q8_0 from {@code quantize_row_q8_0} never has), then one widening to 16 ints.
     */
    static float q8Add16(MemorySegment seg, long off, Q8 a, int n) {
        FloatVector acc = FloatVector.zero(F);
        byte[] aq = a.q();
        float[] ad = a.d();
        for (int b = 0; b < n / 32; b++, off += 34) {
            float d = Dequant.halfAt(seg, off) * ad[b];
            ShortVector w0 = (ShortVector) ByteVector.fromMemorySegment(B16, seg, off + 2, LE).convertShape(VectorOperators.B2S, S256, 0);
            ShortVector w1 = (ShortVector) ByteVector.fromMemorySegment(B16, seg, off + 18, LE).convertShape(VectorOperators.B2S, S256, 0);
            ShortVector x0 = (ShortVector) ByteVector.fromArray(B16, aq, b * 32).convertShape(VectorOperators.B2S, S256, 0);
            ShortVector x1 = (ShortVector) ByteVector.fromArray(B16, aq, b * 32 + 16).convertShape(VectorOperators.B2S, S256, 0);
            ShortVector p = w0.mul(x0).add(w1.mul(x1));
            IntVector s = (IntVector) p.convertShape(VectorOperators.S2I, I, 0);
            acc = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * D: two blocks per step: each block's 32 products in one 512-bit int16 vector, the pair sums of
     * both blocks on int lanes, and the two blocks' int sums converted and scaled separately (two
     * independent FMA chains).
     */
    static float q8Pairs2(MemorySegment seg, long off, Q8 a, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        byte[] aq = a.q();
        float[] ad = a.d();
        int b = 0;
        for (; b + 1 < n / 32; b += 2, off += 68) {
            float d0 = Dequant.halfAt(seg, off) * ad[b], d1 = Dequant.halfAt(seg, off + 34) * ad[b + 1];
            ShortVector w0 = (ShortVector) ByteVector.fromMemorySegment(B32, seg, off + 2, LE).convertShape(VectorOperators.B2S, S512, 0);
            ShortVector x0 = (ShortVector) ByteVector.fromArray(B32, aq, b * 32).convertShape(VectorOperators.B2S, S512, 0);
            ShortVector w1 = (ShortVector) ByteVector.fromMemorySegment(B32, seg, off + 36, LE).convertShape(VectorOperators.B2S, S512, 0);
            ShortVector x1 = (ShortVector) ByteVector.fromArray(B32, aq, b * 32 + 32).convertShape(VectorOperators.B2S, S512, 0);
            IntVector p0 = w0.mul(x0).reinterpretAsInts(), p1 = w1.mul(x1).reinterpretAsInts();
            IntVector s0 = p0.lanewise(VectorOperators.ASHR, 16).add(p0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
            IntVector s1 = p1.lanewise(VectorOperators.ASHR, 16).add(p1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
            acc0 = ((FloatVector) s0.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d0), acc0);
            acc1 = ((FloatVector) s1.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d1), acc1);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        if (b < n / 32) s += q8Pairs(seg, off, new Q8(slice(aq, b * 32), new float[] {ad[b]}, null), 32);
        return s;
    }

    private static byte[] slice(byte[] q, int from) {
        return java.util.Arrays.copyOfRange(q, from, from + 32);
    }

    /** Copy of {@code VectorKernels.dotQ4_0} (16 float lanes): float activations. */
    static float floatQ4_0(MemorySegment seg, long off, float[] x, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < n / 32; b++, off += 18) {
            float d = Dequant.halfAt(seg, off);
            ByteVector q = ByteVector.fromMemorySegment(B16, seg, off + 2, LE);
            int xo = b * 32;
            IntVector qi = (IntVector) q.convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            FloatVector lo = (FloatVector) qi.and(0x0F).sub(8).convert(VectorOperators.I2F, 0);
            FloatVector hi = (FloatVector) qi.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0);
            FloatVector sum = lo.mul(FloatVector.fromArray(F, x, xo));
            sum = hi.fma(FloatVector.fromArray(F, x, xo + 16), sum);
            acc = sum.fma(FloatVector.broadcast(F, d), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * Q4_0 weights against Q8 activations: 16 bytes of nibbles zero-extended to 16 int16 lanes (256-bit),
     * low and high nibbles split there, multiplied by the two 16-byte halves of the activation block,
     * added in int16, widened once; the {@code -8} offset is taken from the block's {@code s = d * sum(q)}
     * ({@code d_w * (d_x * sum(q_w q_x) - 8 s)}), as llama.cpp does.
     */
    static float q4Add16(MemorySegment seg, long off, Q8 a, int n) {
        FloatVector acc = FloatVector.zero(F);
        byte[] aq = a.q();
        float[] ad = a.d(), as = a.s();
        float off8 = 0;
        for (int b = 0; b < n / 32; b++, off += 18) {
            float dw = Dequant.halfAt(seg, off);
            ShortVector q = (ShortVector) ByteVector.fromMemorySegment(B16, seg, off + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
            ShortVector x0 = (ShortVector) ByteVector.fromArray(B16, aq, b * 32).convertShape(VectorOperators.B2S, S256, 0);
            ShortVector x1 = (ShortVector) ByteVector.fromArray(B16, aq, b * 32 + 16).convertShape(VectorOperators.B2S, S256, 0);
            ShortVector p = q.and((short) 0x0F).mul(x0).add(q.lanewise(VectorOperators.LSHR, 4).mul(x1));
            IntVector s = (IntVector) p.convertShape(VectorOperators.S2I, I, 0);
            acc = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, dw * ad[b]), acc);
            off8 += dw * as[b];
        }
        return acc.reduceLanes(VectorOperators.ADD) - 8 * off8;
    }
    /**
     * {@link #floatQ8_0} with two blocks per step and two accumulators: the single accumulator's FMA
     * chain (one 4-cycle FMA per block) is the float path's limit, so this is the fair float baseline
     * for the two-chain int8 variants.
     */
    static float floatQ8_0x2(MemorySegment seg, long off, float[] x, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int b = 0;
        for (; b + 1 < n / 32; b += 2, off += 68) {
            float d0 = Dequant.halfAt(seg, off), d1 = Dequant.halfAt(seg, off + 34);
            ByteVector q0 = ByteVector.fromMemorySegment(B32, seg, off + 2, LE);
            ByteVector q1 = ByteVector.fromMemorySegment(B32, seg, off + 36, LE);
            int xo = b * 32;
            FloatVector sum0 = ((FloatVector) q0.castShape(F, 0)).mul(FloatVector.fromArray(F, x, xo));
            FloatVector sum1 = ((FloatVector) q1.castShape(F, 0)).mul(FloatVector.fromArray(F, x, xo + 32));
            sum0 = ((FloatVector) q0.castShape(F, 1)).fma(FloatVector.fromArray(F, x, xo + 16), sum0);
            sum1 = ((FloatVector) q1.castShape(F, 1)).fma(FloatVector.fromArray(F, x, xo + 48), sum1);
            acc0 = sum0.fma(FloatVector.broadcast(F, d0), acc0);
            acc1 = sum1.fma(FloatVector.broadcast(F, d1), acc1);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; b < n / 32; b++, off += 34) s += floatQ8_0(seg, off, java.util.Arrays.copyOfRange(x, b * 32, b * 32 + 32), 32);
        return s;
    }

    /** {@link #q8Add16} with two blocks per step and two accumulators. */
    static float q8Add16x2(MemorySegment seg, long off, Q8 a, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        byte[] aq = a.q();
        float[] ad = a.d();
        int b = 0;
        for (; b + 1 < n / 32; b += 2, off += 68) {
            float d0 = Dequant.halfAt(seg, off) * ad[b], d1 = Dequant.halfAt(seg, off + 34) * ad[b + 1];
            ShortVector p0 = mul16(seg, off + 2, aq, b * 32).add(mul16(seg, off + 18, aq, b * 32 + 16));
            ShortVector p1 = mul16(seg, off + 36, aq, b * 32 + 32).add(mul16(seg, off + 52, aq, b * 32 + 48));
            acc0 = ((FloatVector) p0.convertShape(VectorOperators.S2I, I, 0).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d0), acc0);
            acc1 = ((FloatVector) p1.convertShape(VectorOperators.S2I, I, 0).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d1), acc1);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        if (b < n / 32) s += q8Add16(seg, off, new Q8(slice(aq, b * 32), new float[] {ad[b]}, null), 32);
        return s;
    }

    private static ShortVector mul16(MemorySegment seg, long off, byte[] aq, int aOff) {
        ShortVector w = (ShortVector) ByteVector.fromMemorySegment(B16, seg, off, LE).convertShape(VectorOperators.B2S, S256, 0);
        return w.mul((ShortVector) ByteVector.fromArray(B16, aq, aOff).convertShape(VectorOperators.B2S, S256, 0));
    }

    /** {@link #q8Pairs2} with four blocks per step and four accumulators. */
    static float q8Pairs4(MemorySegment seg, long off, Q8 a, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F), acc2 = FloatVector.zero(F), acc3 = FloatVector.zero(F);
        byte[] aq = a.q();
        float[] ad = a.d();
        int b = 0;
        for (; b + 3 < n / 32; b += 4, off += 136) {
            float d0 = Dequant.halfAt(seg, off) * ad[b];
            IntVector p0 = ((ShortVector) ByteVector.fromMemorySegment(B32, seg, off + 2, LE).convertShape(VectorOperators.B2S, S512, 0))
                    .mul((ShortVector) ByteVector.fromArray(B32, aq, (b) * 32).convertShape(VectorOperators.B2S, S512, 0)).reinterpretAsInts();
            IntVector s0 = p0.lanewise(VectorOperators.ASHR, 16).add(p0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
            acc0 = ((FloatVector) s0.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d0), acc0);
            float d1 = Dequant.halfAt(seg, off + 34) * ad[b + 1];
            IntVector p1 = ((ShortVector) ByteVector.fromMemorySegment(B32, seg, off + 34 + 2, LE).convertShape(VectorOperators.B2S, S512, 0))
                    .mul((ShortVector) ByteVector.fromArray(B32, aq, (b + 1) * 32).convertShape(VectorOperators.B2S, S512, 0)).reinterpretAsInts();
            IntVector s1 = p1.lanewise(VectorOperators.ASHR, 16).add(p1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
            acc1 = ((FloatVector) s1.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d1), acc1);
            float d2 = Dequant.halfAt(seg, off + 68) * ad[b + 2];
            IntVector p2 = ((ShortVector) ByteVector.fromMemorySegment(B32, seg, off + 68 + 2, LE).convertShape(VectorOperators.B2S, S512, 0))
                    .mul((ShortVector) ByteVector.fromArray(B32, aq, (b + 2) * 32).convertShape(VectorOperators.B2S, S512, 0)).reinterpretAsInts();
            IntVector s2 = p2.lanewise(VectorOperators.ASHR, 16).add(p2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
            acc2 = ((FloatVector) s2.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d2), acc2);
            float d3 = Dequant.halfAt(seg, off + 102) * ad[b + 3];
            IntVector p3 = ((ShortVector) ByteVector.fromMemorySegment(B32, seg, off + 102 + 2, LE).convertShape(VectorOperators.B2S, S512, 0))
                    .mul((ShortVector) ByteVector.fromArray(B32, aq, (b + 3) * 32).convertShape(VectorOperators.B2S, S512, 0)).reinterpretAsInts();
            IntVector s3 = p3.lanewise(VectorOperators.ASHR, 16).add(p3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
            acc3 = ((FloatVector) s3.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d3), acc3);
        }
        for (; b < n / 32; b++, off += 34) acc0 = pairBlock(seg, off, aq, ad, b, acc0);
        return acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD);
    }

    private static FloatVector pairBlock(MemorySegment seg, long off, byte[] aq, float[] ad, int b, FloatVector acc) {
        float d = Dequant.halfAt(seg, off) * ad[b];
        ShortVector w = (ShortVector) ByteVector.fromMemorySegment(B32, seg, off + 2, LE).convertShape(VectorOperators.B2S, S512, 0);
        ShortVector x = (ShortVector) ByteVector.fromArray(B32, aq, b * 32).convertShape(VectorOperators.B2S, S512, 0);
        IntVector p = w.mul(x).reinterpretAsInts();
        IntVector s = p.lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
        return ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d), acc);
    }

    /** {@link #floatQ8_0} with four blocks per step and four accumulators. */
    static float floatQ8_0x4(MemorySegment seg, long off, float[] x, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F), acc2 = FloatVector.zero(F), acc3 = FloatVector.zero(F);
        int b = 0;
        for (; b + 3 < n / 32; b += 4, off += 136) {
            float d0 = Dequant.halfAt(seg, off);
            ByteVector q0 = ByteVector.fromMemorySegment(B32, seg, off + 2, LE);
            FloatVector sum0 = ((FloatVector) q0.castShape(F, 0)).mul(FloatVector.fromArray(F, x, (b) * 32));
            sum0 = ((FloatVector) q0.castShape(F, 1)).fma(FloatVector.fromArray(F, x, (b) * 32 + 16), sum0);
            acc0 = sum0.fma(FloatVector.broadcast(F, d0), acc0);
            float d1 = Dequant.halfAt(seg, off + 34);
            ByteVector q1 = ByteVector.fromMemorySegment(B32, seg, off + 34 + 2, LE);
            FloatVector sum1 = ((FloatVector) q1.castShape(F, 0)).mul(FloatVector.fromArray(F, x, (b + 1) * 32));
            sum1 = ((FloatVector) q1.castShape(F, 1)).fma(FloatVector.fromArray(F, x, (b + 1) * 32 + 16), sum1);
            acc1 = sum1.fma(FloatVector.broadcast(F, d1), acc1);
            float d2 = Dequant.halfAt(seg, off + 68);
            ByteVector q2 = ByteVector.fromMemorySegment(B32, seg, off + 68 + 2, LE);
            FloatVector sum2 = ((FloatVector) q2.castShape(F, 0)).mul(FloatVector.fromArray(F, x, (b + 2) * 32));
            sum2 = ((FloatVector) q2.castShape(F, 1)).fma(FloatVector.fromArray(F, x, (b + 2) * 32 + 16), sum2);
            acc2 = sum2.fma(FloatVector.broadcast(F, d2), acc2);
            float d3 = Dequant.halfAt(seg, off + 102);
            ByteVector q3 = ByteVector.fromMemorySegment(B32, seg, off + 102 + 2, LE);
            FloatVector sum3 = ((FloatVector) q3.castShape(F, 0)).mul(FloatVector.fromArray(F, x, (b + 3) * 32));
            sum3 = ((FloatVector) q3.castShape(F, 1)).fma(FloatVector.fromArray(F, x, (b + 3) * 32 + 16), sum3);
            acc3 = sum3.fma(FloatVector.broadcast(F, d3), acc3);
        }
        for (; b < n / 32; b++, off += 34) acc0 = floatBlock(seg, off, x, b, acc0);
        return acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD);
    }

    private static FloatVector floatBlock(MemorySegment seg, long off, float[] x, int b, FloatVector acc) {
        float d = Dequant.halfAt(seg, off);
        ByteVector q = ByteVector.fromMemorySegment(B32, seg, off + 2, LE);
        FloatVector sum = ((FloatVector) q.castShape(F, 0)).mul(FloatVector.fromArray(F, x, b * 32));
        sum = ((FloatVector) q.castShape(F, 1)).fma(FloatVector.fromArray(F, x, b * 32 + 16), sum);
        return sum.fma(FloatVector.broadcast(F, d), acc);
    }

    /** {@link #floatQ4_0} with two blocks per step and two accumulators. */
    static float floatQ4_0x2(MemorySegment seg, long off, float[] x, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int b = 0;
        for (; b + 1 < n / 32; b += 2, off += 36) {
            float d0 = Dequant.halfAt(seg, off), d1 = Dequant.halfAt(seg, off + 18);
            IntVector qi0 = (IntVector) ByteVector.fromMemorySegment(B16, seg, off + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            IntVector qi1 = (IntVector) ByteVector.fromMemorySegment(B16, seg, off + 20, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            FloatVector sum0 = ((FloatVector) qi0.and(0x0F).sub(8).convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(F, x, b * 32));
            FloatVector sum1 = ((FloatVector) qi1.and(0x0F).sub(8).convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(F, x, b * 32 + 32));
            sum0 = ((FloatVector) qi0.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, b * 32 + 16), sum0);
            sum1 = ((FloatVector) qi1.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, b * 32 + 48), sum1);
            acc0 = sum0.fma(FloatVector.broadcast(F, d0), acc0);
            acc1 = sum1.fma(FloatVector.broadcast(F, d1), acc1);
        }
        for (; b < n / 32; b++, off += 18) acc0 = q4FloatBlock(seg, off, x, b, acc0);
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    private static FloatVector q4FloatBlock(MemorySegment seg, long off, float[] x, int b, FloatVector acc) {
        float d = Dequant.halfAt(seg, off);
        IntVector qi = (IntVector) ByteVector.fromMemorySegment(B16, seg, off + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
        FloatVector lo = (FloatVector) qi.and(0x0F).sub(8).convert(VectorOperators.I2F, 0);
        FloatVector hi = (FloatVector) qi.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0);
        FloatVector sum = lo.mul(FloatVector.fromArray(F, x, b * 32));
        sum = hi.fma(FloatVector.fromArray(F, x, b * 32 + 16), sum);
        return sum.fma(FloatVector.broadcast(F, d), acc);
    }

    /** {@link #q4Add16} with two blocks per step and two accumulators. */
    static float q4Add16x2(MemorySegment seg, long off, Q8 a, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        byte[] aq = a.q();
        float[] ad = a.d(), as = a.s();
        float off8 = 0;
        int b = 0;
        for (; b + 1 < n / 32; b += 2, off += 36) {
            float dw0 = Dequant.halfAt(seg, off);
            ShortVector q0 = (ShortVector) ByteVector.fromMemorySegment(B16, seg, off + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
            ShortVector p0 = q0.and((short) 0x0F).mul((ShortVector) ByteVector.fromArray(B16, aq, (b) * 32).convertShape(VectorOperators.B2S, S256, 0))
                    .add(q0.lanewise(VectorOperators.LSHR, 4).mul((ShortVector) ByteVector.fromArray(B16, aq, (b) * 32 + 16).convertShape(VectorOperators.B2S, S256, 0)));
            acc0 = ((FloatVector) p0.convertShape(VectorOperators.S2I, I, 0).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, dw0 * ad[b]), acc0);
            off8 += dw0 * as[b];
            float dw1 = Dequant.halfAt(seg, off + 18);
            ShortVector q1 = (ShortVector) ByteVector.fromMemorySegment(B16, seg, off + 18 + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
            ShortVector p1 = q1.and((short) 0x0F).mul((ShortVector) ByteVector.fromArray(B16, aq, (b + 1) * 32).convertShape(VectorOperators.B2S, S256, 0))
                    .add(q1.lanewise(VectorOperators.LSHR, 4).mul((ShortVector) ByteVector.fromArray(B16, aq, (b + 1) * 32 + 16).convertShape(VectorOperators.B2S, S256, 0)));
            acc1 = ((FloatVector) p1.convertShape(VectorOperators.S2I, I, 0).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, dw1 * ad[b + 1]), acc1);
            off8 += dw1 * as[b + 1];
        }
        for (; b < n / 32; b++, off += 18) {
            float dw = Dequant.halfAt(seg, off);
            acc0 = q4IntBlock(seg, off, aq, b, dw * ad[b], acc0);
            off8 += dw * as[b];
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) - 8 * off8;
    }

    private static FloatVector q4IntBlock(MemorySegment seg, long off, byte[] aq, int b, float d, FloatVector acc) {
        ShortVector q = (ShortVector) ByteVector.fromMemorySegment(B16, seg, off + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
        ShortVector x0 = (ShortVector) ByteVector.fromArray(B16, aq, b * 32).convertShape(VectorOperators.B2S, S256, 0);
        ShortVector x1 = (ShortVector) ByteVector.fromArray(B16, aq, b * 32 + 16).convertShape(VectorOperators.B2S, S256, 0);
        ShortVector p = q.and((short) 0x0F).mul(x0).add(q.lanewise(VectorOperators.LSHR, 4).mul(x1));
        return ((FloatVector) p.convertShape(VectorOperators.S2I, I, 0).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d), acc);
    }
}
