package dev.sluice.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.gguf.GGUFFile;
import dev.sluice.engine.gguf.GGUFValueType;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Builds {@link ModelConfig} from GGUF metadata or a Hugging Face {@code config.json}, and
 * writes a configuration back as llama.cpp's GGUF hyper-parameter keys.
 *
 * <p>Defaults when a key is absent (as llama.cpp and transformers use them):
 * {@code rms_eps = 1e-5} ({@link #DEFAULT_RMS_EPS}), {@code rope_theta = 10000}
 * ({@link #DEFAULT_ROPE_THETA}), {@code n_kv_heads = n_heads}, {@code head_dim = n_embd / n_heads}.
 */
public final class ModelConfigs {
    private ModelConfigs() {}

    /** RMSNorm epsilon when the file does not say (llama.cpp's and LlamaConfig's default). */
    public static final float DEFAULT_RMS_EPS = 1e-5f;
    /** RoPE base when the file does not say (the original RoPE paper's 10000). */
    public static final float DEFAULT_ROPE_THETA = 10000f;
    /** Hugging Face {@code architectures} entries and the GGUF architecture each maps to. */
    public static final Map<String, String> HF_ARCHITECTURES = Map.of(
            "LlamaForCausalLM", "llama",
            "MistralForCausalLM", "mistral",
            "Qwen2ForCausalLM", "qwen2",
            "Qwen3ForCausalLM", "qwen3");

    /** One typed GGUF metadata entry. */
    public record MetaEntry(String key, GGUFValueType type, Object value) {}

    // ---------------------------------------------------------------- GGUF

    /** The configuration of a GGUF model file; raises {@link ModelFormatException} naming the file and key. */
    public static ModelConfig fromGguf(GGUFFile f) {
        Path p = f.path();
        String arch = f.requireString("general.architecture");
        // Checked before any hyper-parameter: an unsupported model must say so, not "missing <arch>.block_count".
        if (!ModelConfig.SUPPORTED_ARCHITECTURES.contains(arch)) {
            throw ModelFormatException.of(p, "unsupported architecture '" + arch + "' (supported: "
                    + String.join(", ", ModelConfig.SUPPORTED_ARCHITECTURES) + ")");
        }
        String a = arch + ".";
        try {
            int nEmbd = f.requireInt(a + "embedding_length");
            int nLayers = f.requireInt(a + "block_count");
            int nHeads = f.requireInt(a + "attention.head_count");
            int nKv = f.getInt(a + "attention.head_count_kv", nHeads);
            int headDim = f.getInt(a + "attention.key_length", nHeads > 0 ? nEmbd / nHeads : 0);
            int nFf = f.requireInt(a + "feed_forward_length");
            int ctx = f.requireInt(a + "context_length");
            float eps = f.getFloat(a + "attention.layer_norm_rms_epsilon", DEFAULT_RMS_EPS);
            float theta = f.getFloat(a + "rope.freq_base", DEFAULT_ROPE_THETA);
            int vocab;
            String[] tokens = f.has("tokenizer.ggml.tokens") ? f.getArray("tokenizer.ggml.tokens", String[].class) : null;
            if (tokens != null) vocab = tokens.length;
            else if (f.has(a + "vocab_size")) vocab = f.getInt(a + "vocab_size", 0);
            else if (f.tensors().containsKey(TensorNames.TOKEN_EMBD)) vocab = f.tensors().get(TensorNames.TOKEN_EMBD).rows();
            else throw ModelFormatException.of(p, "cannot tell the vocabulary size: no tokenizer.ggml.tokens, " + a + "vocab_size or " + TensorNames.TOKEN_EMBD);
            ModelConfig.RopeScaling scaling = null;
            String st = f.getString(a + "rope.scaling.type", null);
            if (st != null && !st.equals("none")) {
                scaling = new ModelConfig.RopeScaling(st, f.getFloat(a + "rope.scaling.factor", 1f),
                        f.getFloat(a + "rope.scaling.low_freq_factor", 1f), f.getFloat(a + "rope.scaling.high_freq_factor", 4f),
                        f.getInt(a + "rope.scaling.original_context_length", ctx));
            }
            boolean neox = arch.equals("qwen2") || arch.equals("qwen3");
            boolean qkvBias = f.tensors().containsKey(TensorNames.blkBias(0, "attn_q"));
            boolean qkNorm = arch.equals("qwen3") || f.tensors().containsKey(TensorNames.blk(0, "attn_q_norm"));
            boolean tied = !f.tensors().containsKey(TensorNames.OUTPUT);
            int window = f.getInt(a + "attention.sliding_window", 0);
            return new ModelConfig(arch, nEmbd, nLayers, nHeads, nKv, headDim, nFf, vocab, ctx, eps, theta, neox, scaling,
                    qkvBias, qkNorm, tied, window);
        } catch (ModelFormatException e) {
            if (e.getMessage().startsWith(p.toString())) throw e;
            throw ModelFormatException.of(p, e.getMessage());
        }
    }

    // ---------------------------------------------------------------- Hugging Face

    /**
     * The configuration in a Hugging Face {@code config.json}. {@code hasTensor} answers whether
     * a Hugging Face tensor name exists in the checkpoint (used to detect a missing
     * {@code lm_head.weight}, which means tied embeddings whatever the config says).
     * Hugging Face checkpoints keep Q/K in rotate-half order, so {@code ropeNeox} is always true.
     */
    public static ModelConfig fromHfConfig(Path configJson, Predicate<String> hasTensor) {
        JsonNode c;
        try {
            c = new ObjectMapper().readTree(configJson.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(configJson + ": cannot parse config.json: " + e.getMessage(), e);
        }
        if (c == null || !c.isObject()) throw ModelFormatException.of(configJson, "not a JSON object");
        JsonNode archs = c.get("architectures");
        String hfArch = archs != null && archs.isArray() && !archs.isEmpty() ? archs.get(0).asText() : null;
        String arch = hfArch == null ? null : HF_ARCHITECTURES.get(hfArch);
        if (arch == null) {
            throw ModelFormatException.of(configJson, "unsupported architectures " + archs + " (supported: "
                    + String.join(", ", HF_ARCHITECTURES.keySet().stream().sorted().toList()) + ")");
        }
        int nEmbd = reqInt(c, "hidden_size", configJson);
        int nLayers = reqInt(c, "num_hidden_layers", configJson);
        int nHeads = reqInt(c, "num_attention_heads", configJson);
        int nKv = optInt(c, "num_key_value_heads", nHeads, configJson);
        int headDim = optInt(c, "head_dim", nHeads > 0 ? nEmbd / nHeads : 0, configJson);
        int nFf = reqInt(c, "intermediate_size", configJson);
        int vocab = reqInt(c, "vocab_size", configJson);
        int ctx = optInt(c, "max_position_embeddings", 2048, configJson);
        float eps = (float) optDouble(c, "rms_norm_eps", DEFAULT_RMS_EPS, configJson);
        // transformers >= 5 moves rope_theta and rope_scaling into rope_parameters
        JsonNode rp = c.get("rope_parameters");
        JsonNode ropeHolder = rp != null && rp.isObject() ? rp : c;
        float theta = (float) optDouble(ropeHolder, "rope_theta", optDouble(c, "rope_theta", DEFAULT_ROPE_THETA, configJson), configJson);
        JsonNode rs = ropeHolder == rp ? rp : c.get("rope_scaling");
        ModelConfig.RopeScaling scaling = null;
        if (rs != null && rs.isObject()) {
            String type = rs.hasNonNull("rope_type") ? rs.get("rope_type").asText() : rs.hasNonNull("type") ? rs.get("type").asText() : "default";
            if (!type.equals("default")) {
                scaling = new ModelConfig.RopeScaling(type,
                        (float) optDouble(rs, "factor", 1, configJson),
                        (float) optDouble(rs, "low_freq_factor", 1, configJson),
                        (float) optDouble(rs, "high_freq_factor", 4, configJson),
                        optInt(rs, "original_max_position_embeddings", 8192, configJson));
            }
        }
        boolean tied = optBool(c, "tie_word_embeddings", false) || !hasTensor.test("lm_head.weight");
        boolean qkvBias = arch.equals("qwen2") || optBool(c, "attention_bias", false);
        boolean qkNorm = arch.equals("qwen3");
        int window = 0;
        if (arch.equals("mistral")) window = optInt(c, "sliding_window", 0, configJson);
        else if ((arch.equals("qwen2") || arch.equals("qwen3")) && optBool(c, "use_sliding_window", false)) window = optInt(c, "sliding_window", 0, configJson);
        try {
            return new ModelConfig(arch, nEmbd, nLayers, nHeads, nKv, headDim, nFf, vocab, ctx, eps, theta, true, scaling,
                    qkvBias, qkNorm, tied, window);
        } catch (ModelFormatException e) {
            throw ModelFormatException.of(configJson, e.getMessage());
        }
    }

    private static int reqInt(JsonNode c, String key, Path p) {
        if (!c.hasNonNull(key)) throw ModelFormatException.of(p, "missing '" + key + "'");
        return optInt(c, key, 0, p);
    }

    private static int optInt(JsonNode c, String key, int dflt, Path p) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) return dflt;
        if (!v.isIntegralNumber() || !v.canConvertToInt()) throw ModelFormatException.of(p, "'" + key + "' must be an integer, got " + v);
        return v.asInt();
    }

    private static double optDouble(JsonNode c, String key, double dflt, Path p) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) return dflt;
        if (!v.isNumber()) throw ModelFormatException.of(p, "'" + key + "' must be a number, got " + v);
        return v.asDouble();
    }

    private static boolean optBool(JsonNode c, String key, boolean dflt) {
        JsonNode v = c.get(key);
        return v == null || v.isNull() ? dflt : v.asBoolean(dflt);
    }

    // ---------------------------------------------------------------- back to GGUF

    /**
     * The GGUF architecture llama.cpp uses for {@code c}: Mistral checkpoints become
     * {@code llama} (llama.cpp's converter registers MistralForCausalLM as a Llama model).
     */
    public static String ggufArchitecture(ModelConfig c) {
        return c.architecture().equals("mistral") ? "llama" : c.architecture();
    }

    /**
     * llama.cpp's hyper-parameter keys for {@code c} under architecture {@code arch}, typed as
     * its {@code convert_hf_to_gguf.py} writes them (UINT32 / FLOAT32). Llama 3.1 RoPE scaling
     * is not written as keys but as the {@code rope_freqs.weight} tensor (see {@link RopeFreqs});
     * linear scaling is written as {@code rope.scaling.type/factor}.
     */
    public static List<MetaEntry> ggufHparams(ModelConfig c, String arch) {
        List<MetaEntry> m = new ArrayList<>();
        String a = arch + ".";
        m.add(new MetaEntry("general.architecture", GGUFValueType.STRING, arch));
        m.add(new MetaEntry(a + "vocab_size", GGUFValueType.UINT32, c.vocabSize()));
        m.add(new MetaEntry(a + "context_length", GGUFValueType.UINT32, c.contextLength()));
        m.add(new MetaEntry(a + "embedding_length", GGUFValueType.UINT32, c.nEmbd()));
        m.add(new MetaEntry(a + "block_count", GGUFValueType.UINT32, c.nLayers()));
        m.add(new MetaEntry(a + "feed_forward_length", GGUFValueType.UINT32, c.nFf()));
        m.add(new MetaEntry(a + "attention.head_count", GGUFValueType.UINT32, c.nHeads()));
        m.add(new MetaEntry(a + "attention.head_count_kv", GGUFValueType.UINT32, c.nKvHeads()));
        m.add(new MetaEntry(a + "attention.key_length", GGUFValueType.UINT32, c.headDim()));
        m.add(new MetaEntry(a + "attention.value_length", GGUFValueType.UINT32, c.headDim()));
        m.add(new MetaEntry(a + "attention.layer_norm_rms_epsilon", GGUFValueType.FLOAT32, c.rmsEps()));
        m.add(new MetaEntry(a + "rope.freq_base", GGUFValueType.FLOAT32, c.ropeTheta()));
        m.add(new MetaEntry(a + "rope.dimension_count", GGUFValueType.UINT32, c.headDim()));
        if (c.ropeScaling() != null && c.ropeScaling().type().equals("linear")) {
            m.add(new MetaEntry(a + "rope.scaling.type", GGUFValueType.STRING, "linear"));
            m.add(new MetaEntry(a + "rope.scaling.factor", GGUFValueType.FLOAT32, c.ropeScaling().factor()));
        }
        if (c.slidingWindow() > 0) m.add(new MetaEntry(a + "attention.sliding_window", GGUFValueType.UINT32, c.slidingWindow()));
        return m;
    }

    /** {@link #ggufHparams} as a plain key → value map. */
    public static Map<String, Object> ggufHparamsMap(ModelConfig c, String arch) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (MetaEntry e : ggufHparams(c, arch)) m.put(e.key(), e.value());
        return m;
    }
}
