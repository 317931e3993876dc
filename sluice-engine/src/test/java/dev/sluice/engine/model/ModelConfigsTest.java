package dev.sluice.engine.model;

import dev.sluice.engine.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** config.json parsing: the transformers 4 and 5 layouts, defaults, and bad values named with their key. */
class ModelConfigsTest {
    @TempDir Path tmp;

    ModelConfig parse(String json, boolean hasLmHead) throws IOException {
        Path p = Files.writeString(tmp.resolve("config.json"), json);
        return ModelConfigs.fromHfConfig(p, n -> hasLmHead && n.equals("lm_head.weight"));
    }

    static final String LLAMA31 = """
            {"architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
             "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256, "max_position_embeddings": 131072,
             "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "tie_word_embeddings": false,
             "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                              "original_max_position_embeddings": 8192, "rope_type": "llama3"}}
            """;

    @Test
    void llama31Transformers4Layout() throws IOException {
        ModelConfig c = parse(LLAMA31, true);
        assertThat(c).isEqualTo(new ModelConfig("llama", 4096, 32, 32, 8, 128, 14336, 128256, 131072, 1e-5f, 500000f, true,
                new ModelConfig.RopeScaling("llama3", 8f, 1f, 4f, 8192), false, false, false, 0));
        // lm_head missing from the checkpoint: tied whatever the config says
        assertThat(parse(LLAMA31, false).tiedEmbeddings()).isTrue();
    }

    @Test
    void defaultsAndQwenSlidingWindow() throws IOException {
        ModelConfig c = parse("""
                {"architectures": ["Qwen2ForCausalLM"], "hidden_size": 896, "num_hidden_layers": 24, "num_attention_heads": 14,
                 "num_key_value_heads": 2, "intermediate_size": 4864, "vocab_size": 151936, "tie_word_embeddings": true,
                 "sliding_window": 32768, "use_sliding_window": false, "rope_scaling": null, "head_dim": null}
                """, false);
        assertThat(c.headDim()).isEqualTo(64);
        assertThat(c.ropeTheta()).isEqualTo(ModelConfigs.DEFAULT_ROPE_THETA);
        assertThat(c.rmsEps()).isEqualTo(ModelConfigs.DEFAULT_RMS_EPS);
        assertThat(c.slidingWindow()).isZero(); // use_sliding_window false
        assertThat(c.qkvBias()).isTrue();
        assertThat(c.ropeScaling()).isNull();
        ModelConfig m = parse("""
                {"architectures": ["MistralForCausalLM"], "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
                 "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 32000, "sliding_window": 4096}
                """, true);
        assertThat(m.slidingWindow()).isEqualTo(4096);
        assertThat(ModelConfigs.ggufArchitecture(m)).isEqualTo("llama");
        assertThat(ModelConfigs.ggufHparamsMap(m, "llama")).containsEntry("llama.attention.sliding_window", 4096);
    }

    @Test
    void badValuesNameTheKey() {
        assertThatThrownBy(() -> parse(LLAMA31.replace("\"hidden_size\": 4096", "\"hidden_size\": \"big\""), true))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("config.json").hasMessageContaining("'hidden_size'");
        assertThatThrownBy(() -> parse(LLAMA31.replace("\"num_hidden_layers\": 32,", ""), true))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("missing 'num_hidden_layers'");
        assertThatThrownBy(() -> parse(LLAMA31.replace("\"num_key_value_heads\": 8", "\"num_key_value_heads\": 5"), true))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("config.json").hasMessageContaining("nKvHeads 5");
        assertThatThrownBy(() -> parse(LLAMA31.replace("\"num_attention_heads\": 32", "\"num_attention_heads\": 0"), true))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("config.json");
        assertThatThrownBy(() -> parse(LLAMA31.replace("\"factor\": 8.0", "\"factor\": \"8\""), true))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("'factor'");
        assertThatThrownBy(() -> parse("[1, 2]", true)).isInstanceOf(ModelFormatException.class).hasMessageContaining("not a JSON object");
        assertThatThrownBy(() -> parse("{\"architectures\": \"LlamaForCausalLM\"", true)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("cannot parse");
        assertThatThrownBy(() -> parse("{\"architectures\": [\"PhiForCausalLM\"]}", true)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("PhiForCausalLM").hasMessageContaining("MistralForCausalLM");
    }
}
