package dev.sluice.engine.convert;

import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.gguf.GGUFFile;
import dev.sluice.engine.model.ModelConfig;
import dev.sluice.engine.model.ModelConfigs;
import dev.sluice.engine.model.ModelLoader;
import dev.sluice.engine.model.ModelWeights;
import dev.sluice.engine.model.ReferenceModels;
import dev.sluice.engine.model.TensorNames;
import dev.sluice.engine.tensor.Dequant;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Quantizer;
import dev.sluice.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Converts the reference Hugging Face checkpoints (written by transformers) to GGUF and checks
 * that every tensor of the GGUF equals the source, re-encoded by the reference quantizer and,
 * for Llama/Mistral Q and K, row-permuted as llama.cpp's {@code permute}.
 */
class SafetensorsToGGUFTest {
    @TempDir Path tmp;

    static Path ref(String name) {
        // committed under src/test/resources/reference: absence is a failure, not a skip
        return ReferenceModels.dir(name).orElseThrow(() -> new AssertionError("reference fixture " + name + " missing"));
    }

    static Stream<Arguments> cases() {
        Stream<Arguments> allF32 = Stream.of(ReferenceModels.NAMES).map(n -> Arguments.of(n, GGMLType.F32));
        Stream<Arguments> types = Stream.of(GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0)
                .flatMap(t -> Stream.of(Arguments.of("llama", t), Arguments.of("qwen3", t), Arguments.of("mistral", t)));
        return Stream.concat(allF32, Stream.concat(types, Stream.of(Arguments.of("llama-bf16", GGMLType.BF16), Arguments.of("qwen2", GGMLType.Q4_0))));
    }

    /** What loading the converted GGUF must give: same hyper-parameters, GGUF architecture, rope order and rope scaling as a tensor. */
    static ModelConfig expectedGgufConfig(ModelConfig hf) {
        String arch = ModelConfigs.ggufArchitecture(hf);
        return new ModelConfig(arch, hf.nEmbd(), hf.nLayers(), hf.nHeads(), hf.nKvHeads(), hf.headDim(), hf.nFf(), hf.vocabSize(),
                hf.contextLength(), hf.rmsEps(), hf.ropeTheta(), !arch.equals("llama"),
                hf.ropeScaling() != null && hf.ropeScaling().type().equals("llama3") ? null : hf.ropeScaling(),
                hf.qkvBias(), hf.qkNorm(), hf.tiedEmbeddings(), hf.slidingWindow());
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @MethodSource("cases")
    void convertedTensorsEqualTheSource(String name, GGMLType outType) {
        Path dir = ref(name);
        Path out = tmp.resolve(name + "-" + outType + ".gguf");
        SafetensorsToGGUF.convert(dir, out, outType);
        try (ModelWeights hf = ModelLoader.load(dir); ModelWeights gg = ModelLoader.load(out)) {
            ModelConfig c = hf.config();
            assertThat(gg.config()).isEqualTo(expectedGgufConfig(c));
            assertThat(gg.ropeFreqFactors().map(float[]::clone).orElse(null)).isEqualTo(hf.ropeFreqFactors().orElse(null));
            Set<String> names = new HashSet<>(gg.tensors().keySet());
            names.remove(TensorNames.ROPE_FREQS);
            assertThat(names).containsExactlyInAnyOrderElementsOf(hf.tensors().keySet());
            boolean permuted = gg.config().architecture().equals("llama");
            for (Tensor src : hf.tensors().values()) {
                Tensor dst = gg.tensor(src.name());
                assertThat(dst.shape()).as(src.name()).containsExactly(src.shape());
                boolean matrix = src.shape().length == 2;
                GGMLType want = matrix ? outType : GGMLType.F32;
                assertThat(dst.type()).as(src.name()).isEqualTo(want);
                assertThat(dst.data().isMapped()).isTrue();
                int rows = matrix ? src.rows() : 1, cols = matrix ? src.cols() : src.cols();
                int nHead = src.name().contains(".attn_q.") ? c.nHeads() : src.name().contains(".attn_k.") ? c.nKvHeads() : 0;
                float[] all = Dequant.toFloats(src);
                if (!matrix) {
                    // 1-D: F32 copy, biases of Q/K permuted element-wise for llama
                    float[] got = Dequant.toFloats(dst);
                    for (int i = 0; i < all.length; i++) {
                        int s = permuted && nHead > 0 ? SafetensorsToGGUF.llamaPermuteSourceRow(i, nHead, all.length) : i;
                        assertThat(got[i]).as("%s[%d]", src.name(), i).isEqualTo(all[s]);
                    }
                    continue;
                }
                long rowBytes = want.byteSize(cols);
                for (int r = 0; r < rows; r++) {
                    int s = permuted && nHead > 0 ? SafetensorsToGGUF.llamaPermuteSourceRow(r, nHead, rows) : r;
                    float[] row = new float[cols];
                    System.arraycopy(all, s * cols, row, 0, cols);
                    MemorySegment expect = Quantizer.quantize(want, row);
                    assertThat(dst.data().asSlice(r * rowBytes, rowBytes).mismatch(expect)).as("%s row %d", src.name(), r).isEqualTo(-1);
                }
                if (outType == GGMLType.F32) {
                    // un-permuting the GGUF rows gives back the Hugging Face tensor exactly
                    float[] got = Dequant.toFloats(dst);
                    float[] back = new float[got.length];
                    for (int r = 0; r < rows; r++) {
                        int t = permuted && nHead > 0 ? SafetensorsToGGUF.llamaPermuteTargetRow(r, nHead, rows) : r;
                        System.arraycopy(got, t * cols, back, r * cols, cols);
                    }
                    assertThat(back).as(src.name()).containsExactly(all);
                }
            }
        }
    }

    @Test
    void metadataIsWhatLlamaCppReads() throws java.io.IOException {
        Path dir = ref("mistral");
        Path out = tmp.resolve("m.gguf");
        SafetensorsToGGUF.convert(dir, out, GGMLType.Q8_0);
        try (GGUFFile f = GGUFFile.open(out)) {
            assertThat(f.getString("general.architecture", null)).isEqualTo("llama"); // llama.cpp converts Mistral as llama
            assertThat(f.getInt("general.file_type", -1)).isEqualTo(7);                // LLAMA_FTYPE_MOSTLY_Q8_0
            assertThat(f.getInt("general.quantization_version", -1)).isEqualTo(2);
            assertThat(f.getInt("llama.embedding_length", 0)).isEqualTo(96);
            assertThat(f.getInt("llama.attention.head_count", 0)).isEqualTo(6);
            assertThat(f.getInt("llama.attention.head_count_kv", 0)).isEqualTo(2);
            assertThat(f.getInt("llama.rope.dimension_count", 0)).isEqualTo(16);
            assertThat(f.getFloat("llama.rope.freq_base", 0)).isEqualTo(1e6f);
            assertThat(f.metadataTypes().get("llama.block_count")).isEqualTo(dev.sluice.engine.gguf.GGUFValueType.UINT32);
            assertThat(f.getInt("tokenizer.ggml.bos_token_id", -1)).isEqualTo(0);
            assertThat(f.getInt("tokenizer.ggml.eos_token_id", -1)).isEqualTo(1);
            // the template is copied verbatim from tokenizer_config.json
            String template = new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("tokenizer_config.json").toFile())
                    .get("chat_template").asText();
            assertThat(template).contains("add_generation_prompt");
            assertThat(f.getString("tokenizer.chat_template", null)).isEqualTo(template);
            assertThat(f.alignment()).isEqualTo(32);
        }
    }

    @Test
    void tokenizerIsCarriedIntoTheGguf() {
        for (String name : new String[] {"llama", "qwen3"}) {
            Path dir = ref(name);
            Path out = tmp.resolve(name + "-tok.gguf");
            SafetensorsToGGUF.convert(dir, out, GGMLType.F16);
            try (GGUFFile f = GGUFFile.open(out); ModelWeights w = ModelLoader.load(out)) {
                assertThat(f.getArray("tokenizer.ggml.tokens", String[].class)).hasSize(w.config().vocabSize());
                assertThat(f.getString("tokenizer.ggml.model", null)).isNotNull();
                var fromHf = dev.sluice.engine.tokenizer.Tokenizers.fromHuggingFace(dir);
                var fromGguf = dev.sluice.engine.tokenizer.Tokenizers.fromGGUF(f);
                String text = "Hello world, the quick brown fox! 123 <|eos|>";
                assertThat(fromGguf.encode(text, true, true)).containsExactly(fromHf.encode(text, true, true));
            }
        }
    }

    @Test
    void llamaPermuteIsNumpyReshapeSwapaxes() {
        // w.reshape(1, 2, 4).swapaxes(1, 2).reshape(8): rows [0..7] -> [0, 4, 1, 5, 2, 6, 3, 7]
        int[] want = {0, 4, 1, 5, 2, 6, 3, 7};
        for (int r = 0; r < 8; r++) assertThat(SafetensorsToGGUF.llamaPermuteSourceRow(r, 1, 8)).isEqualTo(want[r]);
        // two heads of 4: [0, 2, 1, 3, 4, 6, 5, 7]
        int[] two = {0, 2, 1, 3, 4, 6, 5, 7};
        for (int r = 0; r < 8; r++) assertThat(SafetensorsToGGUF.llamaPermuteSourceRow(r, 2, 8)).isEqualTo(two[r]);
        for (int r = 0; r < 96; r++) {
            assertThat(SafetensorsToGGUF.llamaPermuteTargetRow(SafetensorsToGGUF.llamaPermuteSourceRow(r, 6, 96), 6, 96)).isEqualTo(r);
        }
    }

    /** The point of the permutation: NeoX RoPE on HF rows equals interleaved RoPE on permuted rows, permuted. */
    @Test
    void permutedRowsWithInterleavedRopeEqualNeoxRope() {
        int hd = 16, nHead = 3, rows = hd * nHead;
        Random rnd = new Random(1);
        float[] x = new float[rows];
        for (int i = 0; i < rows; i++) x[i] = (float) rnd.nextGaussian();
        float[] p = new float[rows];
        for (int r = 0; r < rows; r++) p[r] = x[SafetensorsToGGUF.llamaPermuteSourceRow(r, nHead, rows)];
        int pos = 7;
        double theta = 10000;
        float[] neox = x.clone(), inter = p.clone();
        for (int h = 0; h < nHead; h++) {
            for (int i = 0; i < hd / 2; i++) {
                double a = pos * Math.pow(theta, -2.0 * i / hd), cos = Math.cos(a), sin = Math.sin(a);
                int b = h * hd;
                float x0 = x[b + i], x1 = x[b + i + hd / 2];
                neox[b + i] = (float) (x0 * cos - x1 * sin);
                neox[b + i + hd / 2] = (float) (x0 * sin + x1 * cos);
                float p0 = p[b + 2 * i], p1 = p[b + 2 * i + 1];
                inter[b + 2 * i] = (float) (p0 * cos - p1 * sin);
                inter[b + 2 * i + 1] = (float) (p0 * sin + p1 * cos);
            }
        }
        for (int r = 0; r < rows; r++) assertThat(inter[r]).isEqualTo(neox[SafetensorsToGGUF.llamaPermuteSourceRow(r, nHead, rows)]);
    }

    @Test
    void rejectsNonCheckpointsAndUnsupportedTypes() {
        assertThatThrownBy(() -> SafetensorsToGGUF.convert(tmp, tmp.resolve("x.gguf"), GGMLType.F16)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("config.json");
        assertThatThrownBy(() -> SafetensorsToGGUF.convert(ref("qwen3"), tmp.resolve("x.gguf"), GGMLType.Q4_K)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Q8_0");
        assertThat(Files.exists(tmp.resolve("x.gguf"))).isFalse();
    }
}
