package dev.sluice.engine.llama2c;

import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.model.ModelConfig;
import dev.sluice.engine.model.ModelLoader;
import dev.sluice.engine.model.ModelWeights;
import dev.sluice.engine.model.TensorNames;
import dev.sluice.engine.tensor.Dequant;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** llama2.c checkpoints written byte by byte as karpathy's {@code export.py legacy_export} lays them out. */
class Llama2cCheckpointTest {
    @TempDir Path tmp;

    static final int DIM = 8, HIDDEN = 16, LAYERS = 2, HEADS = 2, KV_HEADS = 1, VOCAB = 5, SEQ = 4;
    static final int HEAD = DIM / HEADS, KV_DIM = KV_HEADS * HEAD;

    /** Section sizes in file order (floats): embedding .. freq_cis_imag, then wcls. */
    static int[] sections() {
        int L = LAYERS;
        return new int[] {VOCAB * DIM, L * DIM, L * DIM * DIM, L * DIM * KV_DIM, L * DIM * KV_DIM, L * DIM * DIM, L * DIM,
                L * DIM * HIDDEN, L * HIDDEN * DIM, L * DIM * HIDDEN, DIM, SEQ * HEAD / 2, SEQ * HEAD / 2, VOCAB * DIM};
    }

    /** Element {@code i} of section {@code s} holds {@code s * 10000 + i}: every weight says where it came from. */
    static float value(int s, int i) {
        return s * 10000 + i;
    }

    static byte[] checkpoint(boolean shared) {
        int[] sec = sections();
        int n = 0;
        for (int i = 0; i < sec.length - (shared ? 1 : 0); i++) n += sec[i];
        ByteBuffer b = ByteBuffer.allocate(28 + 4 * n).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(DIM).putInt(HIDDEN).putInt(LAYERS).putInt(HEADS).putInt(KV_HEADS).putInt(shared ? VOCAB : -VOCAB).putInt(SEQ);
        for (int s = 0; s < sec.length - (shared ? 1 : 0); s++) for (int i = 0; i < sec[s]; i++) b.putFloat(value(s, i));
        return b.array();
    }

    Path write(String name, byte[] b) throws IOException {
        return Files.write(tmp.resolve(name), b);
    }

    @Test
    void sharedClassifierCheckpoint() throws IOException {
        Path p = write("stories.bin", checkpoint(true));
        try (ModelWeights w = ModelLoader.load(p)) {
            assertThat(w).isInstanceOf(Llama2cCheckpoint.class);
            assertThat(w.config()).isEqualTo(new ModelConfig("llama", DIM, LAYERS, HEADS, KV_HEADS, HEAD, HIDDEN, VOCAB, SEQ, 1e-5f, 10000f,
                    false, null, false, false, true, 0));
            assertThat(w.find(TensorNames.OUTPUT)).isEmpty();
            assertThat(w.metadata()).containsEntry("general.architecture", "llama").containsEntry("llama.embedding_length", DIM)
                    .doesNotContainKey(Llama2cCheckpoint.TOKENIZER_PATH_KEY);
            // each tensor is the right slice of the right section
            checkSlice(w.tensor(TensorNames.TOKEN_EMBD), 0, 0, DIM, VOCAB);
            checkSlice(w.tensor("blk.1.attn_norm.weight"), 1, DIM, DIM);
            checkSlice(w.tensor("blk.1.attn_q.weight"), 2, DIM * DIM, DIM, DIM);
            checkSlice(w.tensor("blk.1.attn_k.weight"), 3, DIM * KV_DIM, DIM, KV_DIM);
            checkSlice(w.tensor("blk.0.attn_v.weight"), 4, 0, DIM, KV_DIM);
            checkSlice(w.tensor("blk.1.attn_output.weight"), 5, DIM * DIM, DIM, DIM);
            checkSlice(w.tensor("blk.1.ffn_norm.weight"), 6, DIM, DIM);
            checkSlice(w.tensor("blk.1.ffn_gate.weight"), 7, DIM * HIDDEN, DIM, HIDDEN);   // w1
            checkSlice(w.tensor("blk.1.ffn_down.weight"), 8, HIDDEN * DIM, HIDDEN, DIM);   // w2
            checkSlice(w.tensor("blk.0.ffn_up.weight"), 9, 0, DIM, HIDDEN);                // w3
            checkSlice(w.tensor(TensorNames.OUTPUT_NORM), 10, 0, DIM);
            for (Tensor t : w.tensors().values()) {
                assertThat(t.type()).isEqualTo(GGMLType.F32);
                assertThat(t.data().isMapped()).as(t.name()).isTrue();
            }
        }
    }

    @Test
    void unsharedClassifierFollowsTheRopeTables() throws IOException {
        Path p = write("unshared.bin", checkpoint(false));
        Files.write(tmp.resolve("tokenizer.bin"), new byte[] {1, 2, 3});
        try (ModelWeights w = ModelLoader.load(p)) {
            assertThat(w.config().tiedEmbeddings()).isFalse();
            assertThat(w.config().vocabSize()).isEqualTo(VOCAB);
            checkSlice(w.tensor(TensorNames.OUTPUT), 13, 0, DIM, VOCAB);
            assertThat(w.metadata().get(Llama2cCheckpoint.TOKENIZER_PATH_KEY)).isEqualTo(tmp.resolve("tokenizer.bin").toAbsolutePath().toString());
            assertThat(((Llama2cCheckpoint) w).tokenizerPath()).contains(tmp.resolve("tokenizer.bin").toAbsolutePath());
        }
    }

    static void checkSlice(Tensor t, int section, int start, long... shape) {
        assertThat(t.shape()).as(t.name()).containsExactly(shape);
        float[] f = Dequant.toFloats(t);
        for (int i = 0; i < f.length; i++) assertThat(f[i]).as("%s[%d]", t.name(), i).isEqualTo(value(section, start + i));
    }

    @Test
    void sizeMismatchesNameTheFileAndTheExpectedSize() throws IOException {
        byte[] good = checkpoint(true);
        Path cut = write("cut.bin", Arrays.copyOf(good, good.length - 4));
        assertThatThrownBy(() -> ModelLoader.load(cut)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(cut.toString()).hasMessageContaining("implies " + good.length + " bytes").hasMessageContaining("truncated");
        Path extra = write("extra.bin", Arrays.copyOf(good, good.length + 4));
        assertThatThrownBy(() -> ModelLoader.load(extra)).isInstanceOf(ModelFormatException.class).hasMessageContaining("implies");
        Path tiny = write("tiny.bin", new byte[10]);
        assertThatThrownBy(() -> ModelLoader.load(tiny)).isInstanceOf(ModelFormatException.class).hasMessageContaining("truncated");
        Path zeros = write("zeros.bin", new byte[64]);
        assertThatThrownBy(() -> ModelLoader.load(zeros)).isInstanceOf(ModelFormatException.class).hasMessageContaining("not a llama2.c checkpoint");
    }

    @Test
    void newerExportVersionsAreRejectedByName() throws IOException {
        byte[] b = new byte[256];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(0x616b3432).putInt(1);
        Path p = write("v1.bin", b);
        assertThatThrownBy(() -> ModelLoader.load(p)).isInstanceOf(ModelFormatException.class).hasMessageContaining("ak42").hasMessageContaining("legacy");
    }

    @Test
    void fuzzedHeadersOnlyRaiseModelFormatException() throws IOException {
        byte[] good = checkpoint(false);
        Random rnd = new Random(11);
        Path f = tmp.resolve("fuzz.bin");
        for (int iter = 0; iter < 500; iter++) {
            byte[] b = good.clone();
            for (int i = 0, n = 1 + rnd.nextInt(3); i < n; i++) b[rnd.nextInt(28)] = (byte) rnd.nextInt(256);
            if (rnd.nextInt(3) == 0) b = Arrays.copyOf(b, rnd.nextInt(b.length + 1));
            Files.write(f, b);
            try (Llama2cCheckpoint c = Llama2cCheckpoint.open(f)) {
                assertThat(c.tensors()).isNotEmpty();
            } catch (ModelFormatException e) {
                assertThat(e.getMessage()).contains(f.toString());
            } catch (Throwable t) {
                throw new AssertionError("iteration " + iter + ": " + t, t);
            }
        }
    }
}
