package dev.sluice.engine.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Dequantization checked against blocks packed here from known values, the way ggml's
 * {@code quantize_row_*_ref} packs them, so a layout mistake on either side shows up.
 */
class DequantTest {
    private static final long SEED = System.nanoTime();
    private final SplittableRandom rnd = new SplittableRandom(SEED);

    private static MemorySegment alloc(long bytes) {
        return Arena.ofAuto().allocate(bytes + 3).asSlice(3, bytes); // unaligned on purpose
    }

    private static Tensor tensor(GGMLType type, int n, MemorySegment seg) {
        return new Tensor("t", type, new long[] {n}, seg);
    }

    @Test
    void floatTypes() {
        MemorySegment f32 = alloc(8), f16 = alloc(4), bf16 = alloc(4);
        f32.set(Dequant.F32, 0, 1.5f);
        f32.set(Dequant.F32, 4, -2.25f);
        f16.set(Dequant.I16, 0, Float.floatToFloat16(0.333f));
        f16.set(Dequant.I16, 2, (short) 0x0001); // smallest subnormal half, 2^-24
        bf16.set(Dequant.I16, 0, (short) 0x3FC0); // 1.5
        bf16.set(Dequant.I16, 2, (short) 0xC010); // -2.25
        assertThat(Dequant.toFloats(tensor(GGMLType.F32, 2, f32))).containsExactly(1.5f, -2.25f);
        assertThat(Dequant.toFloats(tensor(GGMLType.F16, 2, f16))).containsExactly(Float.float16ToFloat(Float.floatToFloat16(0.333f)), 0x1p-24f);
        assertThat(Dequant.toFloats(tensor(GGMLType.BF16, 2, bf16))).containsExactly(1.5f, -2.25f);
    }

    @Test
    void q8_0() {
        MemorySegment seg = alloc(34 * 2);
        float[] want = new float[64];
        for (int b = 0; b < 2; b++) {
            float d = Float.float16ToFloat(Float.floatToFloat16(0.01f * (b + 1)));
            seg.set(Dequant.I16, b * 34L, Float.floatToFloat16(d));
            for (int j = 0; j < 32; j++) {
                int q = rnd.nextInt(256) - 128;
                seg.set(ValueLayout.JAVA_BYTE, b * 34L + 2 + j, (byte) q);
                want[b * 32 + j] = d * q;
            }
        }
        Tensor t = tensor(GGMLType.Q8_0, 64, seg);
        assertThat(Dequant.toFloats(t)).containsExactly(want);
        for (int i = 0; i < 64; i++) assertThat(Dequant.element(t, i)).isEqualTo(want[i]);
    }

    @Test
    void q4_0() {
        MemorySegment seg = alloc(18);
        float d = Float.float16ToFloat(Float.floatToFloat16(0.125f));
        seg.set(Dequant.I16, 0, Float.floatToFloat16(d));
        int[] q = new int[32];
        for (int j = 0; j < 32; j++) q[j] = rnd.nextInt(16);
        for (int j = 0; j < 16; j++) seg.set(ValueLayout.JAVA_BYTE, 2 + j, (byte) (q[j] | (q[j + 16] << 4)));
        Tensor t = tensor(GGMLType.Q4_0, 32, seg);
        float[] got = Dequant.toFloats(t);
        for (int j = 0; j < 32; j++) {
            assertThat(got[j]).as("element %d, seed %d", j, SEED).isEqualTo(d * (q[j] - 8));
            assertThat(Dequant.element(t, j)).isEqualTo(d * (q[j] - 8));
        }
    }

    @Test
    void q4_K() {
        MemorySegment seg = alloc(144);
        float d = Float.float16ToFloat(Float.floatToFloat16(0.0123f)), dmin = Float.float16ToFloat(Float.floatToFloat16(0.0456f));
        seg.set(Dequant.I16, 0, Float.floatToFloat16(d));
        seg.set(Dequant.I16, 2, Float.floatToFloat16(dmin));
        int[] sc = new int[8], m = new int[8];
        byte[] scales = new byte[12];
        for (int j = 0; j < 8; j++) {
            sc[j] = rnd.nextInt(64);
            m[j] = rnd.nextInt(64);
            // the packing of ggml quantize_row_q4_K_ref
            if (j < 4) {
                scales[j] = (byte) sc[j];
                scales[j + 4] = (byte) m[j];
            } else {
                scales[j + 4] = (byte) ((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
                scales[j - 4] |= (byte) ((sc[j] >> 4) << 6);
                scales[j] |= (byte) ((m[j] >> 4) << 6);
            }
        }
        for (int i = 0; i < 12; i++) seg.set(ValueLayout.JAVA_BYTE, 4 + i, scales[i]);
        int[] q = new int[256];
        for (int i = 0; i < 256; i++) q[i] = rnd.nextInt(16);
        // element 64*c + l (l < 32) is the low nibble of qs[32c + l]; element 64*c + 32 + l the high nibble
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                seg.set(ValueLayout.JAVA_BYTE, 16 + 32 * c + l, (byte) (q[64 * c + l] | (q[64 * c + 32 + l] << 4)));
            }
        }
        float[] got = Dequant.toFloats(tensor(GGMLType.Q4_K, 256, seg));
        for (int i = 0; i < 256; i++) {
            int sub = i / 32;
            assertThat(got[i]).as("element %d, seed %d", i, SEED).isEqualTo(d * sc[sub] * q[i] - dmin * m[sub]);
        }
    }

    @Test
    void q6_K() {
        MemorySegment seg = alloc(210);
        float d = Float.float16ToFloat(Float.floatToFloat16(0.0078f));
        seg.set(Dequant.I16, 208, Float.floatToFloat16(d));
        int[] q = new int[256];
        for (int i = 0; i < 256; i++) q[i] = rnd.nextInt(64);
        byte[] sc = new byte[16];
        for (int i = 0; i < 16; i++) {
            sc[i] = (byte) (rnd.nextInt(256) - 128);
            seg.set(ValueLayout.JAVA_BYTE, 192 + i, sc[i]);
        }
        // the packing of ggml quantize_row_q6_K_ref
        for (int j = 0; j < 256; j += 128) {
            long ql = j / 2, qh = 128 + j / 4;
            for (int l = 0; l < 32; l++) {
                int q1 = q[j + l] & 0xF, q2 = q[j + l + 32] & 0xF, q3 = q[j + l + 64] & 0xF, q4 = q[j + l + 96] & 0xF;
                seg.set(ValueLayout.JAVA_BYTE, ql + l, (byte) (q1 | (q3 << 4)));
                seg.set(ValueLayout.JAVA_BYTE, ql + l + 32, (byte) (q2 | (q4 << 4)));
                seg.set(ValueLayout.JAVA_BYTE, qh + l, (byte) ((q[j + l] >> 4) | ((q[j + l + 32] >> 4) << 2)
                        | ((q[j + l + 64] >> 4) << 4) | ((q[j + l + 96] >> 4) << 6)));
            }
        }
        Tensor t = tensor(GGMLType.Q6_K, 256, seg);
        float[] got = Dequant.toFloats(t);
        for (int i = 0; i < 256; i++) {
            float want = d * sc[i / 16] * (q[i] - 32);
            assertThat(got[i]).as("element %d, seed %d", i, SEED).isEqualTo(want);
            assertThat(Dequant.element(t, i)).isEqualTo(want);
        }
    }

    @Test
    void rowsOfAMatrix() {
        MemorySegment seg = alloc(4 * 6);
        for (int i = 0; i < 6; i++) seg.set(Dequant.F32, 4L * i, i);
        Tensor t = new Tensor("m", GGMLType.F32, new long[] {3, 2}, seg);
        assertThat(Dequant.row(t, 1)).containsExactly(3f, 4f, 5f);
    }

    @Test
    void unsupportedTypeAndPartialBlockAreRejected() {
        MemorySegment seg = alloc(64);
        assertThatThrownBy(() -> Dequant.row(GGMLType.Q5_0, seg, 0, new float[32], 0, 32)).hasMessageContaining("Q5_0").hasMessageContaining("Q4_K");
        assertThatThrownBy(() -> Dequant.row(GGMLType.Q8_0, seg, 0, new float[16], 0, 16)).hasMessageContaining("block size");
    }
}
