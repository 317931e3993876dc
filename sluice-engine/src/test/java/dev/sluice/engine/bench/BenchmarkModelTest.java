package dev.sluice.engine.bench;

import dev.sluice.engine.TestFixtures;
import dev.sluice.engine.gguf.GGUFFile;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class BenchmarkModelTest {
    static final BenchmarkModel.Shape TINY = new BenchmarkModel.Shape(2, 64, 4, 2, 16, 128, 1e6f, 1e-6f, 256);

    static Path vocab() {
        var dir = TestFixtures.shared("tokenizers");
        assumeTrue(dir.isPresent(), "shared tokenizer fixtures absent");
        return dir.get().resolve("ggml-vocab-gpt-2.gguf");
    }

    @Test
    void sameSeedGivesIdenticalFileAndOtherSeedDiffers(@TempDir Path tmp) throws Exception {
        Path a = tmp.resolve("a.gguf"), b = tmp.resolve("b.gguf"), c = tmp.resolve("c.gguf");
        BenchmarkModel.writeF16(vocab(), a, TINY, 7);
        BenchmarkModel.writeF16(vocab(), b, TINY, 7);
        BenchmarkModel.writeF16(vocab(), c, TINY, 8);
        assertThat(Files.mismatch(a, b)).isEqualTo(-1L);
        assertThat(Files.mismatch(a, c)).isNotEqualTo(-1L);
    }

    @Test
    void hasQwen2ShapeDonorVocabAndWeightStatistics(@TempDir Path tmp) {
        Path out = tmp.resolve("m.gguf");
        BenchmarkModel.writeF16(vocab(), out, TINY, 1);
        try (GGUFFile f = GGUFFile.open(out); GGUFFile v = GGUFFile.open(vocab())) {
            assertThat(f.getString("general.architecture", null)).isEqualTo("qwen2");
            assertThat(f.getInt("qwen2.block_count", 0)).isEqualTo(2);
            assertThat(f.getInt("qwen2.attention.head_count_kv", 0)).isEqualTo(2);
            String[] tokens = f.getArray("tokenizer.ggml.tokens", String[].class);
            assertThat(tokens).containsExactly(v.getArray("tokenizer.ggml.tokens", String[].class));
            assertThat(f.getArray("tokenizer.ggml.merges", String[].class)).containsExactly(v.getArray("tokenizer.ggml.merges", String[].class));
            assertThat(f.tensors()).doesNotContainKey("output.weight"); // tied
            Tensor embd = f.tensor("token_embd.weight");
            assertThat(embd.type()).isEqualTo(GGMLType.F16);
            assertThat(embd.shape()).containsExactly(64L, tokens.length);
            double sum = 0, sq = 0;
            long n = embd.numElements();
            for (long i = 0; i < n; i++) {
                float x = Float.float16ToFloat(embd.data().get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2 * i));
                sum += x;
                sq += x * x;
            }
            double mean = sum / n, std = Math.sqrt(sq / n - mean * mean);
            assertThat(mean).isBetween(-0.001, 0.001);
            assertThat(std).isBetween(0.0195, 0.0205);
            Tensor norm = f.tensor("blk.1.ffn_norm.weight");
            assertThat(norm.type()).isEqualTo(GGMLType.F32);
            assertThat(norm.data().get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0)).isEqualTo(1.0f);
            assertThat(f.tensor("blk.0.attn_k.bias").shape()).containsExactly(32L);
        }
    }
}
