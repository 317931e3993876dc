package dev.sluice.engine.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Scalar dequantization of ggml tensor data to {@code float}, following ggml's block layouts
 * ({@code ggml-quants.c: dequantize_row_*}) exactly. This is the reference every fast kernel is
 * tested against.
 *
 * <p>Block layouts (little-endian, no padding, blocks packed back to back):
 * <ul>
 *   <li>{@code Q8_0}: {@code half d; int8 qs[32]} — {@code y[j] = d * qs[j]}</li>
 *   <li>{@code Q4_0}: {@code half d; uint8 qs[16]} — {@code y[j] = d * ((qs[j] & 15) - 8)},
 *       {@code y[j+16] = d * ((qs[j] >> 4) - 8)}</li>
 *   <li>{@code Q4_K}: {@code half d; half dmin; uint8 scales[12]; uint8 qs[128]} — 8 sub-blocks of 32
 *       with 6-bit scale/min pairs packed by {@code get_scale_min_k4};
 *       {@code y = d * sc * q - dmin * m}</li>
 *   <li>{@code Q6_K}: {@code uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d} — 16 sub-blocks of 16,
 *       {@code y = d * scales[is] * (q6 - 32)}</li>
 * </ul>
 * All methods are stateless and thread-safe. Data is read with unaligned little-endian layouts
 * because tensors in a GGUF file are only 32-byte aligned as a whole, not per row.
 */
public final class Dequant {
    private Dequant() {}

    public static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Half (IEEE binary16) to float. */
    public static float f16(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** bfloat16 to float: the upper 16 bits of a float32. */
    public static float bf16(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** Reads a half at byte offset {@code off}. */
    public static float halfAt(MemorySegment seg, long off) {
        return Float.float16ToFloat(seg.get(I16, off));
    }

    /** Byte offset of row {@code row} within the tensor data (ggml's {@link Tensor.Layout#ROWS} layout). */
    public static long rowOffset(Tensor t, int row) {
        if (t.layout() != Tensor.Layout.ROWS) throw new IllegalArgumentException(t + ": a row of a panel tensor is not contiguous");
        return row * t.rowBytes();
    }

    /** Dequantizes row {@code row} of {@code t} (length {@code t.cols()}, either layout) into {@code dst[dstOff..]}. */
    public static void row(Tensor t, int row, float[] dst, int dstOff) {
        if (t.layout() == Tensor.Layout.PANELS) Panels.row(t, row, dst, dstOff);
        else row(t.type(), t.data(), rowOffset(t, row), dst, dstOff, t.cols());
    }

    /**
     * Dequantizes {@code n} consecutive elements, starting at byte {@code off} of {@code seg} (which must be
     * the start of a block), into {@code dst[dstOff..dstOff+n)}.
     *
     * @throws IllegalArgumentException when {@code n} is not a multiple of the block size, or for a type
     *         outside {@link GGMLType#SUPPORTED}
     */
    public static void row(GGMLType type, MemorySegment seg, long off, float[] dst, int dstOff, int n) {
        if (n % type.blockSize != 0) throw new IllegalArgumentException(n + " elements is not a multiple of " + type + " block size " + type.blockSize);
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) dst[dstOff + i] = seg.get(F32, off + 4L * i);
            }
            case F16 -> {
                for (int i = 0; i < n; i++) dst[dstOff + i] = Float.float16ToFloat(seg.get(I16, off + 2L * i));
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) dst[dstOff + i] = bf16(seg.get(I16, off + 2L * i));
            }
            case Q8_0 -> {
                for (int b = 0; b < n / 32; b++, off += 34) {
                    float d = halfAt(seg, off);
                    int o = dstOff + b * 32;
                    for (int j = 0; j < 32; j++) dst[o + j] = d * seg.get(ValueLayout.JAVA_BYTE, off + 2 + j);
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < n / 32; b++, off += 18) {
                    float d = halfAt(seg, off);
                    int o = dstOff + b * 32;
                    for (int j = 0; j < 16; j++) {
                        int q = seg.get(ValueLayout.JAVA_BYTE, off + 2 + j) & 0xFF;
                        dst[o + j] = d * ((q & 0x0F) - 8);
                        dst[o + j + 16] = d * ((q >>> 4) - 8);
                    }
                }
            }
            case Q4_K -> {
                for (int b = 0; b < n / 256; b++, off += 144) q4kBlock(seg, off, dst, dstOff + b * 256);
            }
            case Q6_K -> {
                for (int b = 0; b < n / 256; b++, off += 210) q6kBlock(seg, off, dst, dstOff + b * 256);
            }
            default -> throw new IllegalArgumentException(
                    "cannot dequantize " + type + " (supported: " + GGMLType.supportedList() + ")");
        }
    }

    /** One element, {@code index} counted from the start of the tensor (row-major). */
    public static float element(Tensor t, long index) {
        if (t.layout() == Tensor.Layout.PANELS) return Panels.element(t, (int) (index / t.cols()), (int) (index % t.cols()));
        GGMLType type = t.type();
        MemorySegment seg = t.data();
        int bs = type.blockSize;
        long block = index / bs;
        int j = (int) (index % bs);
        long off = block * type.typeSize;
        return switch (type) {
            case F32 -> seg.get(F32, 4 * index);
            case F16 -> Float.float16ToFloat(seg.get(I16, 2 * index));
            case BF16 -> bf16(seg.get(I16, 2 * index));
            case Q8_0 -> halfAt(seg, off) * seg.get(ValueLayout.JAVA_BYTE, off + 2 + j);
            case Q4_0 -> {
                int q = seg.get(ValueLayout.JAVA_BYTE, off + 2 + (j & 15)) & 0xFF;
                yield halfAt(seg, off) * ((j < 16 ? q & 0x0F : q >>> 4) - 8);
            }
            case Q4_K, Q6_K -> {
                float[] tmp = new float[256];
                row(type, seg, off, tmp, 0, 256);
                yield tmp[j];
            }
            default -> throw new IllegalArgumentException(
                    "cannot dequantize " + type + " (supported: " + GGMLType.supportedList() + ")");
        };
    }

    /** Row {@code r} of a 2-D (or higher, flattened) tensor as a new float array. */
    public static float[] row(Tensor t, int r) {
        float[] out = new float[t.cols()];
        row(t, r, out, 0);
        return out;
    }

    /** The whole tensor as floats, rows in order (small tensors and tests only: it is copied to the heap). */
    public static float[] toFloats(Tensor t) {
        float[] out = new float[Math.toIntExact(t.numElements())];
        if (t.layout() == Tensor.Layout.PANELS) {
            for (int r = 0; r < t.rows(); r++) Panels.row(t, r, out, r * t.cols());
        } else {
            row(t.type(), t.data(), 0, out, 0, out.length);
        }
        return out;
    }

    /** ggml {@code get_scale_min_k4}: the j-th 6-bit (scale, min) pair of a Q4_K block, packed as {@code sc | m << 8}. */
    public static int scaleMinK4(int j, MemorySegment seg, long scalesOff) {
        int sc, m;
        if (j < 4) {
            sc = u8(seg, scalesOff + j) & 63;
            m = u8(seg, scalesOff + j + 4) & 63;
        } else {
            sc = (u8(seg, scalesOff + j + 4) & 0xF) | ((u8(seg, scalesOff + j - 4) >>> 6) << 4);
            m = (u8(seg, scalesOff + j + 4) >>> 4) | ((u8(seg, scalesOff + j) >>> 6) << 4);
        }
        return sc | (m << 8);
    }

    static int u8(MemorySegment seg, long off) {
        return seg.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    private static void q4kBlock(MemorySegment seg, long off, float[] y, int yo) {
        float d = halfAt(seg, off);
        float min = halfAt(seg, off + 2);
        long scales = off + 4;
        long q = off + 16;
        int is = 0;
        for (int j = 0; j < 256; j += 64) {
            int sm0 = scaleMinK4(is, seg, scales);
            float d1 = d * (sm0 & 0xFF), m1 = min * (sm0 >>> 8);
            int sm1 = scaleMinK4(is + 1, seg, scales);
            float d2 = d * (sm1 & 0xFF), m2 = min * (sm1 >>> 8);
            for (int l = 0; l < 32; l++) y[yo++] = d1 * (u8(seg, q + l) & 0xF) - m1;
            for (int l = 0; l < 32; l++) y[yo++] = d2 * (u8(seg, q + l) >>> 4) - m2;
            q += 32;
            is += 2;
        }
    }

    private static void q6kBlock(MemorySegment seg, long off, float[] y, int yo) {
        long ql = off, qh = off + 128, sc = off + 192;
        float d = halfAt(seg, off + 208);
        for (int n = 0; n < 256; n += 128) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int h = u8(seg, qh + l);
                int q1 = ((u8(seg, ql + l) & 0xF) | (((h >>> 0) & 3) << 4)) - 32;
                int q2 = ((u8(seg, ql + l + 32) & 0xF) | (((h >>> 2) & 3) << 4)) - 32;
                int q3 = ((u8(seg, ql + l) >>> 4) | (((h >>> 4) & 3) << 4)) - 32;
                int q4 = ((u8(seg, ql + l + 32) >>> 4) | (((h >>> 6) & 3) << 4)) - 32;
                y[yo + l] = d * seg.get(ValueLayout.JAVA_BYTE, sc + is) * q1;
                y[yo + l + 32] = d * seg.get(ValueLayout.JAVA_BYTE, sc + is + 2) * q2;
                y[yo + l + 64] = d * seg.get(ValueLayout.JAVA_BYTE, sc + is + 4) * q3;
                y[yo + l + 96] = d * seg.get(ValueLayout.JAVA_BYTE, sc + is + 6) * q4;
            }
            yo += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}
