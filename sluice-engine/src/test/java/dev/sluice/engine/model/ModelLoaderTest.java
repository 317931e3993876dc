package dev.sluice.engine.model;

import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.gguf.GGUFValueType;
import dev.sluice.engine.gguf.GGUFWriter;
import dev.sluice.engine.safetensors.SafetensorsFile;
import dev.sluice.engine.tensor.Dequant;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** ModelLoader on the reference Hugging Face checkpoints (made with transformers) and on hand-made GGUF files. */
class ModelLoaderTest {
    @TempDir Path tmp;

    static Path ref(String name) {
        // committed under src/test/resources/reference: absence is a failure, not a skip
        return ReferenceModels.dir(name).orElseThrow(() -> new AssertionError("reference fixture " + name + " missing from src/test/resources/reference"));
    }

    @Test
    void llamaReferenceConfig() {
        try (ModelWeights w = ModelLoader.load(ref("llama"))) {
            ModelConfig c = w.config();
            assertThat(c).isEqualTo(new ModelConfig("llama", 64, 2, 4, 2, 16, 128, 320, 512, 1e-5f, 500000f, true,
                    new ModelConfig.RopeScaling("llama3", 8f, 1f, 4f, 64), false, false, true, 0));
            assertThat(w.find(TensorNames.OUTPUT)).isEmpty(); // tied
            assertThat(w.tensor("blk.1.attn_k.weight").shape()).containsExactly(64, 32);
            assertThat(w.metadata()).containsEntry("general.architecture", "llama").containsEntry("llama.embedding_length", 64)
                    .containsEntry("llama.attention.head_count_kv", 2);
            assertThat(w.ropeFreqFactors()).get().satisfies(f -> assertThat(f).containsExactly(1.0f, 2.4422596f, 8f, 8f, 8f, 8f, 8f, 8f));
            for (Tensor t : w.tensors().values()) assertThat(t.data().isMapped()).as(t.name()).isTrue();
        }
    }

    @Test
    void qwenAndMistralReferenceConfigs() {
        try (ModelWeights w = ModelLoader.load(ref("qwen2"))) {
            assertThat(w.config()).isEqualTo(new ModelConfig("qwen2", 64, 2, 4, 2, 16, 160, 320, 512, 1e-6f, 1e6f, true, null, true, false, false, 0));
            assertThat(w.tensor("blk.0.attn_q.bias").shape()).containsExactly(64);
            assertThat(w.tensor(TensorNames.OUTPUT).shape()).containsExactly(64, 320);
            assertThat(w.ropeFreqFactors()).isEmpty();
        }
        try (ModelWeights w = ModelLoader.load(ref("qwen3"))) {
            assertThat(w.config()).isEqualTo(new ModelConfig("qwen3", 64, 3, 4, 2, 32, 128, 320, 512, 1e-6f, 1e6f, true, null, false, true, false, 0));
            assertThat(w.tensor("blk.2.attn_q_norm.weight").shape()).containsExactly(32);
            assertThat(w.tensor("blk.2.attn_q.weight").shape()).containsExactly(64, 128);
        }
        try (ModelWeights w = ModelLoader.load(ref("mistral"))) {
            assertThat(w.config()).isEqualTo(new ModelConfig("mistral", 96, 2, 6, 2, 16, 192, 320, 512, 1e-5f, 1e6f, true, null, false, false, false, 0));
            assertThat(w.metadata()).containsEntry("general.architecture", "mistral");
        }
        try (ModelWeights w = ModelLoader.load(ref("llama-bf16"))) {
            assertThat(w.tensor(TensorNames.TOKEN_EMBD).type()).isEqualTo(GGMLType.BF16);
        }
    }

    @Test
    void shardedCheckpointEqualsSingleFile() {
        try (ModelWeights a = ModelLoader.load(ref("qwen2")); ModelWeights b = ModelLoader.load(ref("qwen2-sharded"))) {
            assertThat(b.config()).isEqualTo(a.config());
            assertThat(b.tensors().keySet()).containsExactlyInAnyOrderElementsOf(a.tensors().keySet());
            for (String n : a.tensors().keySet()) {
                assertThat(b.tensor(n).data().mismatch(a.tensor(n).data())).as(n).isEqualTo(-1);
            }
        }
    }

    @Test
    void safetensorsFilePathLoadsItsDirectory() {
        try (ModelWeights w = ModelLoader.load(ref("qwen3").resolve("model.safetensors"))) {
            assertThat(w.config().architecture()).isEqualTo("qwen3");
        }
    }

    @Test
    void missingTensorIsNamed() {
        try (ModelWeights w = ModelLoader.load(ref("qwen3"))) {
            assertThatThrownBy(() -> w.tensor("blk.9.attn_q.weight")).isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining("blk.9.attn_q.weight").hasMessageContaining(w.source().toString());
        }
    }

    // ------------------------------------------------------------------ GGUF

    /** A minimal consistent GGUF llama: n_embd 32, 1 layer, 2 heads (1 kv), ff 64, vocab 8. */
    static GGUFWriter tinyGguf(String arch, GGMLType matType, boolean tied) {
        GGUFWriter g = new GGUFWriter();
        g.putString("general.architecture", arch);
        String a = arch + ".";
        g.putUInt32(a + "embedding_length", 32).putUInt32(a + "block_count", 1).putUInt32(a + "attention.head_count", 2)
                .putUInt32(a + "attention.head_count_kv", 1).putUInt32(a + "feed_forward_length", 64).putUInt32(a + "context_length", 128)
                .putFloat32(a + "attention.layer_norm_rms_epsilon", 1e-6f).putFloat32(a + "rope.freq_base", 1e6f);
        g.putArray("tokenizer.ggml.tokens", GGUFValueType.STRING, new String[] {"a", "b", "c", "d", "e", "f", "g", "h"});
        ModelConfig c = new ModelConfig(arch, 32, 1, 2, 1, 16, 64, 8, 128, 1e-6f, 1e6f, false, null,
                arch.equals("qwen2"), arch.equals("qwen3"), tied, 0);
        for (Map.Entry<String, long[]> e : TensorNames.expectedShapes(c).entrySet()) {
            GGMLType t = e.getValue().length == 1 ? GGMLType.F32 : matType;
            long n = 1;
            for (long d : e.getValue()) n *= d;
            g.addTensor(e.getKey(), t, e.getValue(), MemorySegment.ofArray(new byte[(int) t.byteSize(n)]));
        }
        return g;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3"})
    void ggufConfigFromMetadata(String arch) {
        Path p = tmp.resolve(arch + ".gguf");
        tinyGguf(arch, GGMLType.Q8_0, arch.equals("qwen2")).write(p);
        try (ModelWeights w = ModelLoader.load(p)) {
            ModelConfig c = w.config();
            assertThat(c.architecture()).isEqualTo(arch);
            assertThat(c.nEmbd()).isEqualTo(32);
            assertThat(c.nKvHeads()).isEqualTo(1);
            assertThat(c.headDim()).isEqualTo(16); // default n_embd / n_heads
            assertThat(c.vocabSize()).isEqualTo(8);
            assertThat(c.rmsEps()).isEqualTo(1e-6f);
            assertThat(c.ropeNeox()).isEqualTo(!arch.equals("llama"));
            assertThat(c.qkvBias()).isEqualTo(arch.equals("qwen2"));
            assertThat(c.qkNorm()).isEqualTo(arch.equals("qwen3"));
            assertThat(c.tiedEmbeddings()).isEqualTo(arch.equals("qwen2"));
            assertThat(w.metadata()).containsKey("tokenizer.ggml.tokens");
            assertThat(w.tensor("blk.0.attn_q.weight").type()).isEqualTo(GGMLType.Q8_0);
            assertThat(w.tensor("blk.0.attn_q.weight").data().isMapped()).isTrue();
        }
    }

    @Test
    void ggufRopeFreqsTensorIsUsedForFactors() {
        Path p = tmp.resolve("rf.gguf");
        float[] f = {1f, 2f, 4f, 8f, 8f, 8f, 8f, 8f};
        tinyGguf("llama", GGMLType.F16, false)
                .addTensor(TensorNames.ROPE_FREQS, GGMLType.F32, new long[] {8}, dev.sluice.engine.tensor.Quantizer.quantize(GGMLType.F32, f))
                .write(p);
        try (ModelWeights w = ModelLoader.load(p)) {
            assertThat(w.config().ropeScaling()).isNull();
            assertThat(w.ropeFreqFactors()).get().satisfies(x -> assertThat(x).containsExactly(f));
        }
    }

    @Test
    void wrongShapeAndUnsupportedTypeAreListed() {
        Path q = tmp.resolve("q5k.gguf");
        // a Q5_K output head: a valid GGUF type Sluice cannot compute with
        GGUFWriter h = new GGUFWriter();
        tinyGgufInto(h, GGMLType.F32, Map.of(TensorNames.OUTPUT, GGMLType.Q5_K, "blk.0.attn_k.weight", GGMLType.F32), Map.of("blk.0.attn_k.weight", new long[] {32, 32}));
        h.write(q);
        assertThatThrownBy(() -> ModelLoader.load(q)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(q.toString())
                .hasMessageContaining("'blk.0.attn_k.weight' has shape [32, 32], expected [32, 16]")
                .hasMessageContaining("'output.weight' has type Q5_K (supported: F32, F16, Q4_0, Q8_0, Q4_K, Q6_K, BF16)");
    }

    @Test
    void missingTensorsAreListed() {
        // drop the q/k norms by writing a qwen3 file whose tensors lack them
        GGUFWriter g = new GGUFWriter();
        tinyGgufInto(g, GGMLType.F32, Map.of(), Map.of());
        g.putString("general.architecture", "qwen3");
        for (String k : new String[] {"embedding_length", "block_count", "attention.head_count", "attention.head_count_kv", "feed_forward_length", "context_length"}) {
            g.putUInt32("qwen3." + k, switch (k) {
                case "embedding_length" -> 32;
                case "block_count" -> 1;
                case "attention.head_count" -> 2;
                case "attention.head_count_kv" -> 1;
                case "feed_forward_length" -> 64;
                default -> 128;
            });
        }
        Path r = tmp.resolve("noqknorm.gguf");
        g.write(r);
        assertThatThrownBy(() -> ModelLoader.load(r)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("missing tensor 'blk.0.attn_q_norm.weight' (expected shape [16])")
                .hasMessageContaining("missing tensor 'blk.0.attn_k_norm.weight'");
    }

    /** A llama GGUF whose tensors default to {@code matType}, with per-tensor type and shape overrides. */
    static void tinyGgufInto(GGUFWriter g, GGMLType matType, Map<String, GGMLType> types, Map<String, long[]> shapes) {
        g.putString("general.architecture", "llama");
        g.putUInt32("llama.embedding_length", 32).putUInt32("llama.block_count", 1).putUInt32("llama.attention.head_count", 2)
                .putUInt32("llama.attention.head_count_kv", 1).putUInt32("llama.feed_forward_length", 64).putUInt32("llama.context_length", 128);
        g.putArray("tokenizer.ggml.tokens", GGUFValueType.STRING, new String[] {"a", "b", "c", "d", "e", "f", "g", "h"});
        ModelConfig c = new ModelConfig("llama", 32, 1, 2, 1, 16, 64, 8, 128, 1e-5f, 1e4f, false, null, false, false, false, 0);
        for (Map.Entry<String, long[]> e : TensorNames.expectedShapes(c).entrySet()) {
            long[] shape = shapes.getOrDefault(e.getKey(), e.getValue());
            GGMLType t = types.getOrDefault(e.getKey(), shape.length == 1 ? GGMLType.F32 : matType);
            long n = 1;
            for (long d : shape) n *= d;
                g.addTensor(e.getKey(), t, shape, MemorySegment.ofArray(new byte[(int) t.byteSize(n)]));
        }
    }

    @Test
    void unrecognizedFilesListSupportedFormats() throws IOException {
        Path junk = Files.writeString(tmp.resolve("model.xyz"), "hello, not a model at all");
        assertThatThrownBy(() -> ModelLoader.load(junk)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(junk.toString()).hasMessageContaining("GGUF").hasMessageContaining("safetensors").hasMessageContaining("llama2.c");
        Path empty = Files.createDirectory(tmp.resolve("empty"));
        assertThatThrownBy(() -> ModelLoader.load(empty)).isInstanceOf(ModelFormatException.class).hasMessageContaining("config.json");
        assertThatThrownBy(() -> ModelLoader.load(tmp.resolve("nope.gguf"))).isInstanceOf(ModelFormatException.class).hasMessageContaining("no such file");
    }

    @Test
    void unsupportedHfArchitectureIsNamed() throws IOException {
        Path d = Files.createDirectory(tmp.resolve("gpt2"));
        Files.writeString(d.resolve("config.json"), "{\"architectures\": [\"GPT2LMHeadModel\"], \"hidden_size\": 8}");
        new dev.sluice.engine.safetensors.SafetensorsWriter().add("x", "F32", new long[] {1}, new float[] {1}).write(d.resolve("model.safetensors"));
        assertThatThrownBy(() -> ModelLoader.load(d)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("GPT2LMHeadModel").hasMessageContaining("LlamaForCausalLM").hasMessageContaining("Qwen3ForCausalLM");
    }

    /** Regression: an unsupported GGUF architecture used to fail with "missing mamba.embedding_length". */
    @Test
    void unsupportedGgufArchitectureIsNamedBeforeHyperParameters() {
        Path p = tmp.resolve("mamba.gguf");
        new GGUFWriter().putString("general.architecture", "mamba").write(p);
        assertThatThrownBy(() -> ModelLoader.load(p)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(p.toString()).hasMessageContaining("unsupported architecture 'mamba'")
                .hasMessageContaining("supported: " + String.join(", ", ModelConfig.SUPPORTED_ARCHITECTURES))
                .hasMessageNotContaining("missing");
    }

    /** Regression: the shared phi-3 vocab file (arch phi3) said "missing metadata" instead of naming the architecture. */
    @Test
    void phi3VocabFileIsAnUnsupportedArchitecture() {
        Path dir = dev.sluice.engine.TestFixtures.shared("tokenizers").orElse(null);
        assumeTrue(dir != null, "shared tokenizers fixtures folder not present");
        Path p = dir.resolve("ggml-vocab-phi-3.gguf");
        assertThat(p).exists();
        assertThatThrownBy(() -> ModelLoader.load(p)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(p.toString()).hasMessageContaining("unsupported architecture 'phi3'")
                .hasMessageNotContaining("missing");
    }

    @Test
    void hfShapeMismatchIsListed() throws IOException {
        Path src = ref("qwen2");
        Path d = Files.createDirectory(tmp.resolve("qwen2-bad"));
        Files.copy(src.resolve("config.json"), d.resolve("config.json"));
        // rewrite with one tensor transposed
        var w = new dev.sluice.engine.safetensors.SafetensorsWriter();
        try (SafetensorsFile st = SafetensorsFile.open(src)) {
            for (var e : st.entries().values()) {
                long[] shape = e.hfShape();
                if (e.name().equals("model.layers.1.mlp.down_proj.weight")) shape = new long[] {shape[1], shape[0]};
                w.add(e.name(), e.dtype(), shape, e.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            }
        }
        w.write(d.resolve("model.safetensors"));
        assertThatThrownBy(() -> ModelLoader.load(d)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("'blk.1.ffn_down.weight' has shape [64, 160], expected [160, 64]");
    }

    @Test
    void ropeFreqsMatchLlama31() {
        ModelConfig c = new ModelConfig("llama", 4096, 32, 32, 8, 128, 14336, 128256, 131072, 1e-5f, 500000f, false,
                new ModelConfig.RopeScaling("llama3", 8f, 1f, 4f, 8192), false, false, false, 0);
        float[] f = RopeFreqs.llama3Factors(c);
        assertThat(f).hasSize(64);
        // values llama.cpp's converter writes into rope_freqs.weight for Llama 3.1 8B (float32 numpy mirror of its torch code)
        float[] mid = {1.2074839f, 1.5534146f, 2.026313f, 2.69453f, 3.6842532f, 5.257327f};
        for (int i = 0; i < 29; i++) assertThat(f[i]).isEqualTo(1f);
        for (int i = 0; i < mid.length; i++) assertThat(f[29 + i]).isCloseTo(mid[i], org.assertj.core.data.Offset.offset(2e-6f));
        for (int i = 35; i < 64; i++) assertThat(f[i]).isEqualTo(8f);
        assertThat(RopeFreqs.llama3Factors(new ModelConfig("llama", 64, 1, 4, 4, 16, 64, 8, 64, 1e-5f, 1e4f, false, null, false, false, false, 0))).isNull();
    }

    @Test
    void hfNameMapping() {
        assertThat(TensorNames.fromHf("model.layers.12.self_attn.q_proj.weight")).isEqualTo("blk.12.attn_q.weight");
        assertThat(TensorNames.fromHf("model.layers.0.self_attn.v_proj.bias")).isEqualTo("blk.0.attn_v.bias");
        assertThat(TensorNames.fromHf("model.layers.3.self_attn.k_norm.weight")).isEqualTo("blk.3.attn_k_norm.weight");
        assertThat(TensorNames.fromHf("model.layers.3.post_attention_layernorm.weight")).isEqualTo("blk.3.ffn_norm.weight");
        assertThat(TensorNames.fromHf("model.layers.3.mlp.down_proj.weight")).isEqualTo("blk.3.ffn_down.weight");
        assertThat(TensorNames.fromHf("lm_head.weight")).isEqualTo("output.weight");
        assertThat(TensorNames.fromHf("model.rotary_emb.inv_freq")).isNull();
        assertThat(TensorNames.fromHf("model.layers.x.mlp.up_proj.weight")).isNull();
    }

    static float[] floats(Tensor t) {
        return Dequant.toFloats(t);
    }
}
