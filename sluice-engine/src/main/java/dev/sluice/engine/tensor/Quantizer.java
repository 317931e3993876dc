package dev.sluice.engine.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Float to ggml storage types: {@code F16}, {@code BF16} (round-to-nearest-even), {@code Q8_0}
 * and {@code Q4_0} (bit-exact with ggml's {@code quantize_row_q8_0_ref} and
 * {@code quantize_row_q4_0_ref}).
 *
 * <p>Design note: everything here is scalar reference code, written to read like ggml's C:
 * arithmetic is done in {@code float} in the same order as the C code so that the produced
 * blocks are byte-identical to llama.cpp's {@code llama-quantize}/{@code convert_hf_to_gguf}
 * output. Stateless and thread-safe.
 *
 * <p>Block layouts (little-endian):
 * <ul>
 *   <li>{@code Q8_0}: {@code f16 d; int8 qs[32]} with {@code x ≈ d * qs[j]}, {@code d = amax / 127}.</li>
 *   <li>{@code Q4_0}: {@code f16 d; uint8 qs[16]}: low nibble of {@code qs[j]} is element {@code j},
 *       high nibble element {@code j + 16}; {@code x ≈ d * (q - 8)} with {@code d = max / -8}, where
 *       {@code max} is the element of largest magnitude (sign kept).</li>
 * </ul>
 */
public final class Quantizer {
    private Quantizer() {}

    /** Elements per {@code Q8_0}/{@code Q4_0} block ({@code QK8_0 = QK4_0 = 32} in ggml). */
    public static final int QK = 32;

    private static final ValueLayout.OfShort F16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** IEEE half precision bits of {@code f}, rounded to nearest even (as ggml's {@code GGML_FP32_TO_FP16}). */
    public static short toF16(float f) {
        return Float.floatToFloat16(f);
    }

    /** bfloat16 bits of {@code f}, rounded to nearest even; NaN stays a quiet NaN (ggml's {@code ggml_compute_fp32_to_bf16}). */
    public static short toBF16(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) return (short) ((u >>> 16) | 64);
        return (short) ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16);
    }

    /** C's {@code roundf}: round half away from zero. Exact for every float. */
    static float roundf(float x) {
        double ax = Math.abs((double) x);
        double r = Math.floor(ax);
        if (ax - r >= 0.5) r += 1;
        return (float) Math.copySign(r, x);
    }

    /**
     * {@code (int) roundf(x)} for {@code |x| < 2^31}: adding ±0.5 in double is exact for every
     * float, so truncation rounds half away from zero exactly as C does.
     */
    static int roundfToInt(float x) {
        return (int) (x + Math.copySign(0.5, x));
    }

    /**
     * Quantizes {@code n} floats of {@code x} from {@code xOff} into {@code n / 32} Q8_0 blocks
     * written to {@code out} at byte {@code outOff}. {@code n} must be a multiple of 32.
     */
    public static void quantizeQ8_0(float[] x, int xOff, int n, MemorySegment out, long outOff) {
        checkBlocks(n);
        for (int b = 0; b < n / QK; b++) {
            int base = xOff + b * QK;
            float amax = 0f;
            for (int j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[base + j]));
            float d = amax / ((1 << 7) - 1);
            float id = d != 0f ? 1.0f / d : 0.0f;
            long o = outOff + (long) b * GGMLType.Q8_0.typeSize;
            out.set(F16_LE, o, toF16(d));
            byte[] qs = new byte[QK];
            for (int j = 0; j < QK; j++) {
                float x0 = x[base + j] * id;
                qs[j] = (byte) roundfToInt(x0);
            }
            MemorySegment.copy(qs, 0, out, ValueLayout.JAVA_BYTE, o + 2, QK);
        }
    }

    /**
     * Quantizes {@code n} floats of {@code x} from {@code xOff} into {@code n / 32} Q4_0 blocks
     * written to {@code out} at byte {@code outOff}. {@code n} must be a multiple of 32.
     */
    public static void quantizeQ4_0(float[] x, int xOff, int n, MemorySegment out, long outOff) {
        checkBlocks(n);
        for (int b = 0; b < n / QK; b++) {
            int base = xOff + b * QK;
            float amax = 0f;
            float max = 0f;
            for (int j = 0; j < QK; j++) {
                float v = x[base + j];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -8;
            float id = d != 0f ? 1.0f / d : 0.0f;
            long o = outOff + (long) b * GGMLType.Q4_0.typeSize;
            out.set(F16_LE, o, toF16(d));
            for (int j = 0; j < QK / 2; j++) {
                float x0 = x[base + j] * id;
                float x1 = x[base + QK / 2 + j] * id;
                int xi0 = Math.min(15, (byte) (int) (x0 + 8.5f));
                int xi1 = Math.min(15, (byte) (int) (x1 + 8.5f));
                out.set(ValueLayout.JAVA_BYTE, o + 2 + j, (byte) (xi0 | (xi1 << 4)));
            }
        }
    }

    /**
     * Encodes {@code n} floats as {@code type} (F32, F16, BF16, Q8_0 or Q4_0) into {@code out}
     * at {@code outOff}; writes {@code type.byteSize(n)} bytes.
     *
     * @throws IllegalArgumentException for another type, or when {@code n} is not a multiple of the block size
     */
    public static void quantize(GGMLType type, float[] x, int xOff, int n, MemorySegment out, long outOff) {
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) out.set(F32_LE, outOff + 4L * i, x[xOff + i]);
            }
            case F16 -> {
                for (int i = 0; i < n; i++) out.set(F16_LE, outOff + 2L * i, toF16(x[xOff + i]));
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) out.set(F16_LE, outOff + 2L * i, toBF16(x[xOff + i]));
            }
            case Q8_0 -> quantizeQ8_0(x, xOff, n, out, outOff);
            case Q4_0 -> quantizeQ4_0(x, xOff, n, out, outOff);
            default -> throw new IllegalArgumentException("cannot quantize to " + type + " (supported: " + String.join(", ", QUANTIZE_TARGETS) + ")");
        }
    }

    /** Types {@link #quantize} can produce. */
    public static final java.util.List<String> QUANTIZE_TARGETS = java.util.List.of("F32", "F16", "BF16", "Q8_0", "Q4_0");

    /** Convenience: quantizes a whole array into a new heap segment (tests, small tensors). */
    public static MemorySegment quantize(GGMLType type, float[] x) {
        MemorySegment out = MemorySegment.ofArray(new byte[Math.toIntExact(type.byteSize(x.length))]);
        quantize(type, x, 0, x.length, out, 0);
        return out;
    }

    private static void checkBlocks(int n) {
        if (n % QK != 0) throw new IllegalArgumentException(n + " elements is not a multiple of the block size " + QK);
    }
}
