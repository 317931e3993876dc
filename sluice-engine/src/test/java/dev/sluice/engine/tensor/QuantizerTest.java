package dev.sluice.engine.tensor;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Quantizer and Dequant against ggml's own reference code: {@code quant/ggml-reference.txt} is
 * the output of {@code quant/ggml_ref.c} (ggml's scalar {@code quantize_row_*_ref} and
 * {@code dequantize_row_*} compiled with gcc), so these tests are bit-exact comparisons with C.
 */
class QuantizerTest {
    static Map<String, String> ref = new LinkedHashMap<>();

    @BeforeAll
    static void load() throws IOException {
        try (InputStream in = QuantizerTest.class.getResourceAsStream("/quant/ggml-reference.txt")) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                int sp = line.indexOf(' ');
                ref.put(line.substring(0, sp), line.substring(sp + 1).trim());
            }
        }
    }

    static float[] floats(String key) {
        String[] parts = ref.get(key).split(" ");
        float[] f = new float[parts.length];
        for (int i = 0; i < parts.length; i++) f[i] = Float.intBitsToFloat(Integer.parseUnsignedInt(parts[i], 16));
        return f;
    }

    static byte[] bytes(String key) {
        return HexFormat.of().parseHex(ref.get(key));
    }

    static byte[] toBytes(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void q8_0MatchesGgmlBitForBit() {
        float[] x = floats("input");
        assertThat(HexFormat.of().formatHex(toBytes(Quantizer.quantize(GGMLType.Q8_0, x)))).isEqualTo(ref.get("q8_0"));
    }

    @Test
    void q4_0MatchesGgmlBitForBit() {
        float[] x = floats("input");
        assertThat(HexFormat.of().formatHex(toBytes(Quantizer.quantize(GGMLType.Q4_0, x)))).isEqualTo(ref.get("q4_0"));
    }

    @Test
    void q8_0RoundsHalfwayCasesAwayFromZeroLikeRoundf() {
        // block 1 of the input has amax 127 so id = 1 and x = k + 0.5 exactly
        byte[] q = toBytes(Quantizer.quantize(GGMLType.Q8_0, floats("input")));
        int base = 34 + 2;
        assertThat(q[base]).isEqualTo((byte) -15);   // -14.5 -> -15 (Math.round would give -14)
        assertThat(q[base + 15]).isEqualTo((byte) 1); //  0.5 -> 1
        assertThat(q[base + 14]).isEqualTo((byte) -1); // -0.5 -> -1
        assertThat(Quantizer.roundf(-2.5f)).isEqualTo(-3f);
        assertThat(Quantizer.roundf(2.5f)).isEqualTo(3f);
        assertThat(Quantizer.roundf(0.49999997f)).isEqualTo(0f);
        assertThat(Quantizer.roundf(-0.49999997f)).isEqualTo(-0f);
        Random rnd = new Random(5);
        for (int i = 0; i < 100_000; i++) {
            float v = (rnd.nextInt(2000) - 1000) / 8f + (i % 3 == 0 ? 0 : (float) rnd.nextGaussian());
            assertThat(Quantizer.roundfToInt(v)).as("roundf(%s)", v).isEqualTo((int) Quantizer.roundf(v));
        }
        for (float v : new float[] {0.5f, -0.5f, 1.5f, -1.5f, 126.5f, -127.5f, 0.49999997f, -0.49999997f, Math.nextDown(127.5f)}) {
            assertThat(Quantizer.roundfToInt(v)).as("roundf(%s)", v).isEqualTo((int) Quantizer.roundf(v));
        }
    }

    @Test
    void bf16AndF16RoundToNearestEvenLikeGgml() {
        float[] in = floats("bf16_input");
        String[] bf = ref.get("bf16").split(" ");
        String[] h = ref.get("f16").split(" ");
        for (int i = 0; i < in.length; i++) {
            assertThat(String.format("%04x", Quantizer.toBF16(in[i]) & 0xFFFF)).as("bf16(%s)", in[i]).isEqualTo(bf[i]);
            assertThat(String.format("%04x", Quantizer.toF16(in[i]) & 0xFFFF)).as("f16(%s)", in[i]).isEqualTo(h[i]);
        }
    }

    @Test
    void q4_KDequantMatchesGgml() {
        float[] out = new float[256];
        Dequant.row(GGMLType.Q4_K, MemorySegment.ofArray(bytes("q4_K_block")), 0, out, 0, 256);
        assertThat(out).containsExactly(floats("q4_K_out"));
    }

    @Test
    void q6_KDequantMatchesGgml() {
        float[] out = new float[256];
        Dequant.row(GGMLType.Q6_K, MemorySegment.ofArray(bytes("q6_K_block")), 0, out, 0, 256);
        assertThat(out).containsExactly(floats("q6_K_out"));
    }

    @Test
    void quantizeDequantizeErrorBounds() {
        Random rnd = new Random(7);
        int n = 32 * 256;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextGaussian() * (1 + (i / 32) % 7)) * (i % 97 == 0 ? 20 : 1);
        for (GGMLType t : new GGMLType[] {GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0}) {
            MemorySegment q = Quantizer.quantize(t, x);
            assertThat(q.byteSize()).isEqualTo(t.byteSize(n));
            float[] y = new float[n];
            Dequant.row(t, q, 0, y, 0, n);
            double sumSq = 0, errSq = 0;
            for (int b = 0; b < n / 32; b++) {
                float amax = 0;
                for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
                for (int j = 0; j < 32; j++) {
                    int i = b * 32 + j;
                    float err = Math.abs(x[i] - y[i]);
                    float bound = switch (t) {
                        case F32 -> 0f;
                        case F16 -> Math.abs(x[i]) * 0x1p-11f + 0x1p-24f;
                        case BF16 -> Math.abs(x[i]) * 0x1p-8f;
                        case Q8_0 -> amax / 127 * 0.5f + amax * 0x1p-10f; // half a step, plus the f16 rounding of d
                        case Q4_0 -> amax / 8 * 1.001f;                  // the clamp at 15 costs a whole step at -max
                        default -> throw new AssertionError();
                    };
                    assertThat(err).as("%s element %d: %s -> %s", t, i, x[i], y[i]).isLessThanOrEqualTo(bound);
                    sumSq += x[i] * (double) x[i];
                    errSq += err * (double) err;
                }
            }
            double rel = Math.sqrt(errSq / sumSq);
            switch (t) {
                case Q8_0 -> assertThat(rel).isLessThan(0.02); // blocks with a 20x outlier dominate
                case Q4_0 -> assertThat(rel).isLessThan(0.2);
                default -> assertThat(rel).isLessThan(0.004);
            }
        }
    }

    @Test
    void zeroBlocksQuantizeToZero() {
        float[] z = new float[64];
        for (GGMLType t : new GGMLType[] {GGMLType.Q8_0, GGMLType.Q4_0}) {
            float[] y = new float[64];
            Dequant.row(t, Quantizer.quantize(t, z), 0, y, 0, 64);
            for (float v : y) assertThat(v == 0f).as("%s gives %s", t, v).isTrue(); // +0 or -0 (Q4_0's d = 0 / -8 is -0)
        }
    }

    @Test
    void rejectsPartialBlocksAndUnsupportedTargets() {
        assertThatThrownBy(() -> Quantizer.quantize(GGMLType.Q8_0, new float[33])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Quantizer.quantize(GGMLType.Q4_K, new float[256])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Q8_0");
        assertThatThrownBy(() -> Dequant.row(GGMLType.Q5_K, MemorySegment.ofArray(new byte[176]), 0, new float[256], 0, 256))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("supported");
    }
}
