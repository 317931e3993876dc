package dev.sluice.engine;

import dev.sluice.engine.gguf.GGUFFile;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.net.URL;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The built-in demo model (resource {@code models/demo.gguf}, made by tools/demo-model/train.py)
 * opens through the normal GGUF path and carries what the engine needs: qwen2 hyper-parameters,
 * a byte-level BPE vocabulary with the DeepSeek-R1 special tokens, the chat template, and
 * Q8_0 weights with F32 norms and biases.
 */
class DemoModelFileTest {
    static final String RESOURCE = "/models/demo.gguf";
    static final long MAX_BYTES = 25L * 1000 * 1000; // the size limit for the Q8_0 file
    static final int LAYERS = 8;

    static GGUFFile gguf;

    @BeforeAll
    static void open() throws Exception {
        URL url = DemoModelFileTest.class.getResource(RESOURCE);
        assertThat(url).as("resource " + RESOURCE).isNotNull();
        Path path = Path.of(url.toURI());
        assertThat(Files.size(path)).isLessThanOrEqualTo(MAX_BYTES);
        gguf = GGUFFile.open(path);
    }

    @AfterAll
    static void close() {
        if (gguf != null) gguf.close();
    }

    @Test
    void hyperParametersAreQwen2() {
        assertThat(gguf.version()).isEqualTo(3);
        assertThat(gguf.requireString("general.architecture")).isEqualTo("qwen2");
        assertThat(gguf.requireString("general.name")).isEqualTo("sluice-demo");
        assertThat(gguf.requireInt("qwen2.block_count")).isEqualTo(LAYERS);
        assertThat(gguf.requireInt("qwen2.embedding_length")).isEqualTo(384);
        assertThat(gguf.requireInt("qwen2.feed_forward_length")).isEqualTo(1024);
        assertThat(gguf.requireInt("qwen2.attention.head_count")).isEqualTo(6);
        assertThat(gguf.requireInt("qwen2.attention.head_count_kv")).isEqualTo(2);
        assertThat(gguf.requireInt("qwen2.context_length")).isEqualTo(512);
        assertThat(gguf.getFloat("qwen2.attention.layer_norm_rms_epsilon", 0f)).isEqualTo(1e-6f);
        assertThat(gguf.getFloat("qwen2.rope.freq_base", 0f)).isEqualTo(10000f);
    }

    @Test
    void tensorsHaveTheQwen2LayoutWithTiedOutput() {
        assertThat(gguf.tensors()).hasSize(2 + 12 * LAYERS);
        assertThat(gguf.tensors()).doesNotContainKey("output.weight"); // tied to token_embd
        int vocab = gguf.getArray("tokenizer.ggml.tokens", String[].class).length;
        Tensor embd = gguf.tensor("token_embd.weight");
        assertThat(embd.shape()).containsExactly(384, vocab);
        assertThat(embd.type()).isEqualTo(GGMLType.Q8_0);
        for (int i = 0; i < LAYERS; i++) {
            String b = "blk." + i + ".";
            assertThat(gguf.tensor(b + "attn_q.weight").shape()).containsExactly(384, 384);
            assertThat(gguf.tensor(b + "attn_k.weight").shape()).containsExactly(384, 128);
            assertThat(gguf.tensor(b + "attn_v.weight").shape()).containsExactly(384, 128);
            assertThat(gguf.tensor(b + "attn_q.bias").shape()).containsExactly(384);
            assertThat(gguf.tensor(b + "attn_k.bias").type()).isEqualTo(GGMLType.F32);
            assertThat(gguf.tensor(b + "attn_output.weight").shape()).containsExactly(384, 384);
            assertThat(gguf.tensor(b + "ffn_gate.weight").shape()).containsExactly(384, 1024);
            assertThat(gguf.tensor(b + "ffn_up.weight").shape()).containsExactly(384, 1024);
            assertThat(gguf.tensor(b + "ffn_down.weight").shape()).containsExactly(1024, 384);
            assertThat(gguf.tensor(b + "ffn_down.weight").type()).isEqualTo(GGMLType.Q8_0);
            assertThat(gguf.tensor(b + "attn_norm.weight").type()).isEqualTo(GGMLType.F32);
            assertThat(gguf.tensor(b + "ffn_norm.weight").shape()).containsExactly(384);
        }
        assertThat(gguf.tensor("output_norm.weight").shape()).containsExactly(384);
    }

    @Test
    void weightsAreTrainedValues() {
        // a trained RMSNorm gain is finite and no longer all ones; a Q8_0 block scale is finite and > 0
        Tensor norm = gguf.tensor("output_norm.weight");
        boolean moved = false;
        for (int i = 0; i < 384; i++) {
            float g = norm.data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i);
            assertThat(Float.isFinite(g)).isTrue();
            moved |= Math.abs(g - 1f) > 1e-3f;
        }
        assertThat(moved).isTrue();
        Tensor q = gguf.tensor("blk.0.attn_q.weight");
        short d = q.data().get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        float scale = Float.float16ToFloat(d);
        assertThat(scale).isFinite().isPositive();
    }

    @Test
    void tokenizerIsByteLevelBpeWithDeepSeekSpecialTokens() {
        assertThat(gguf.requireString("tokenizer.ggml.model")).isEqualTo("gpt2");
        assertThat(gguf.requireString("tokenizer.ggml.pre")).isEqualTo("qwen2");
        String[] tokens = gguf.getArray("tokenizer.ggml.tokens", String[].class);
        int[] types = gguf.getArray("tokenizer.ggml.token_type", int[].class);
        String[] merges = gguf.getArray("tokenizer.ggml.merges", String[].class);
        assertThat(tokens.length).isBetween(4000, 8192);
        assertThat(types).hasSameSizeAs(tokens);
        assertThat(merges).isNotEmpty().allMatch(m -> m.indexOf(' ') > 0);
        int bos = gguf.requireInt("tokenizer.ggml.bos_token_id");
        int eos = gguf.requireInt("tokenizer.ggml.eos_token_id");
        assertThat(tokens[bos]).isEqualTo("<｜begin▁of▁sentence｜>");
        assertThat(tokens[eos]).isEqualTo("<｜end▁of▁sentence｜>");
        assertThat(gguf.getBool("tokenizer.ggml.add_bos_token", false)).isTrue();
        for (String special : new String[] {"<｜User｜>", "<｜Assistant｜>", "<think>", "</think>"}) {
            int id = java.util.Arrays.asList(tokens).indexOf(special);
            assertThat(id).as(special).isNotNegative();
            // role markers are control tokens (hidden in output); the reasoning tags are user-defined,
            // as in DeepSeek-R1's tokenizer, so generated text keeps them for reasoning_content
            int expected = special.contains("think") ? 4 : 3;
            assertThat(types[id]).as(special + " token type").isEqualTo(expected);
        }
        // digits are single tokens (the qwen2 pre-tokenizer splits numbers into digits)
        for (char c = '0'; c <= '9'; c++) assertThat(tokens).contains(String.valueOf(c));
        assertThat(tokens).noneMatch(t -> t.length() > 1 && t.chars().allMatch(Character::isDigit));
    }

    @Test
    void chatTemplateIsDeepSeekR1DistillStyle() {
        String template = gguf.requireString("tokenizer.chat_template");
        assertThat(template).contains("<｜User｜>", "<｜Assistant｜>", "<think>\\n", "bos_token", "add_generation_prompt");
    }
}
