package dev.sluice.engine.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Scalar dequantization of ggml storage types to {@code float}: F32, F16, BF16, Q8_0, Q4_0,
 * Q4_K and Q6_K, transcribed from ggml's {@code dequantize_row_*} reference functions.
 *
 * <p>Design note: this is the plain reference used by model conversion, re-quantization and
 * tests; fast kernels live elsewhere and are checked against it. Stateless and thread-safe.
 */
public final class Dequant {
    private Dequant() {}

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public static float f16(short bits) {
        return Float.float16ToFloat(bits);
    }

    public static float bf16(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    private static float f16At(MemorySegment s, long off) {
        return Float.float16ToFloat(s.get(I16, off));
    }

    private static int u8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    /**
     * Dequantizes {@code n} elements stored as {@code type} at byte {@code off} of {@code src}
     * into {@code out[outOff..outOff+n)}. {@code n} must be a multiple of the type's block size.
     *
     * @throws IllegalArgumentException for a type outside {@link GGMLType#SUPPORTED}
     */
    public static void row(GGMLType type, MemorySegment src, long off, float[] out, int outOff, int n) {
        if (n % type.blockSize != 0) throw new IllegalArgumentException(n + " elements is not a multiple of " + type + " block size " + type.blockSize);
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) out[outOff + i] = src.get(F32, off + 4L * i);
            }
            case F16 -> {
                for (int i = 0; i < n; i++) out[outOff + i] = f16At(src, off + 2L * i);
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) out[outOff + i] = bf16(src.get(I16, off + 2L * i));
            }
            case Q8_0 -> {
                for (int b = 0; b < n / 32; b++) {
                    long o = off + (long) b * type.typeSize;
                    float d = f16At(src, o);
                    for (int j = 0; j < 32; j++) out[outOff + b * 32 + j] = src.get(ValueLayout.JAVA_BYTE, o + 2 + j) * d;
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < n / 32; b++) {
                    long o = off + (long) b * type.typeSize;
                    float d = f16At(src, o);
                    int y = outOff + b * 32;
                    for (int j = 0; j < 16; j++) {
                        int q = u8(src, o + 2 + j);
                        out[y + j] = ((q & 0x0F) - 8) * d;
                        out[y + j + 16] = ((q >>> 4) - 8) * d;
                    }
                }
            }
            case Q4_K -> q4K(src, off, out, outOff, n);
            case Q6_K -> q6K(src, off, out, outOff, n);
            default -> throw new IllegalArgumentException("cannot dequantize " + type + " (supported: " + GGMLType.supportedList() + ")");
        }
    }

    /** {@code block_q4_K}: f16 d, f16 dmin, u8 scales[12] (6-bit scale/min pairs), u8 qs[128]. */
    private static void q4K(MemorySegment src, long off, float[] out, int outOff, int n) {
        int[] scMin = new int[2];
        for (int b = 0; b < n / 256; b++) {
            long o = off + (long) b * GGMLType.Q4_K.typeSize;
            float d = f16At(src, o);
            float min = f16At(src, o + 2);
            long scales = o + 4;
            long q = o + 16;
            int y = outOff + b * 256;
            int is = 0;
            for (int j = 0; j < 256; j += 64) {
                scaleMinK4(is, src, scales, scMin);
                float d1 = d * scMin[0], m1 = min * scMin[1];
                scaleMinK4(is + 1, src, scales, scMin);
                float d2 = d * scMin[0], m2 = min * scMin[1];
                for (int l = 0; l < 32; l++) out[y++] = d1 * (u8(src, q + l) & 0xF) - m1;
                for (int l = 0; l < 32; l++) out[y++] = d2 * (u8(src, q + l) >>> 4) - m2;
                q += 32;
                is += 2;
            }
        }
    }

    /** ggml's {@code get_scale_min_k4}. */
    private static void scaleMinK4(int j, MemorySegment s, long q, int[] scMin) {
        if (j < 4) {
            scMin[0] = u8(s, q + j) & 63;
            scMin[1] = u8(s, q + j + 4) & 63;
        } else {
            scMin[0] = (u8(s, q + j + 4) & 0xF) | ((u8(s, q + j - 4) >>> 6) << 4);
            scMin[1] = (u8(s, q + j + 4) >>> 4) | ((u8(s, q + j) >>> 6) << 4);
        }
    }

    /** {@code block_q6_K}: u8 ql[128], u8 qh[64], int8 scales[16], f16 d. */
    private static void q6K(MemorySegment src, long off, float[] out, int outOff, int n) {
        for (int b = 0; b < n / 256; b++) {
            long o = off + (long) b * GGMLType.Q6_K.typeSize;
            float d = f16At(src, o + 128 + 64 + 16);
            long ql = o, qh = o + 128, sc = o + 192;
            int y = outOff + b * 256;
            for (int half = 0; half < 2; half++) {
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int h = u8(src, qh + l);
                    int q1 = ((u8(src, ql + l) & 0xF) | (((h >>> 0) & 3) << 4)) - 32;
                    int q2 = ((u8(src, ql + l + 32) & 0xF) | (((h >>> 2) & 3) << 4)) - 32;
                    int q3 = ((u8(src, ql + l) >>> 4) | (((h >>> 4) & 3) << 4)) - 32;
                    int q4 = ((u8(src, ql + l + 32) >>> 4) | (((h >>> 6) & 3) << 4)) - 32;
                    out[y + l] = d * src.get(ValueLayout.JAVA_BYTE, sc + is) * q1;
                    out[y + l + 32] = d * src.get(ValueLayout.JAVA_BYTE, sc + is + 2) * q2;
                    out[y + l + 64] = d * src.get(ValueLayout.JAVA_BYTE, sc + is + 4) * q3;
                    out[y + l + 96] = d * src.get(ValueLayout.JAVA_BYTE, sc + is + 6) * q4;
                }
                y += 128;
                ql += 64;
                qh += 32;
                sc += 8;
            }
        }
    }

    /** Row {@code r} of a 2-D (or higher, flattened) tensor as floats. */
    public static float[] row(Tensor t, int r) {
        float[] out = new float[t.cols()];
        row(t.type(), t.data(), r * t.rowBytes(), out, 0, t.cols());
        return out;
    }

    /** The whole tensor as floats, rows in order (tests and small tensors only: it is copied to the heap). */
    public static float[] toFloats(Tensor t) {
        float[] out = new float[Math.toIntExact(t.numElements())];
        row(t.type(), t.data(), 0, out, 0, out.length);
        return out;
    }
}
