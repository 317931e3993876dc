package dev.sluice.engine.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * GGUF tensor names (as llama.cpp's {@code llama-arch.cpp}) and the shapes a configuration
 * implies, in ggml order ({@code shape[0]} = columns = input features).
 */
public final class TensorNames {
    private TensorNames() {}

    public static final String TOKEN_EMBD = "token_embd.weight";
    public static final String OUTPUT_NORM = "output_norm.weight";
    public static final String OUTPUT = "output.weight";
    /** Llama 3.1-style RoPE frequency divisors, {@code head_dim / 2} F32 values. */
    public static final String ROPE_FREQS = "rope_freqs.weight";

    /** {@code blk.<layer>.<part>.weight}, e.g. {@code blk(3, "attn_q")}. */
    public static String blk(int layer, String part) {
        return "blk." + layer + "." + part + ".weight";
    }

    /** {@code blk.<layer>.<part>.bias}, e.g. {@code blkBias(0, "attn_q")}. */
    public static String blkBias(int layer, String part) {
        return "blk." + layer + "." + part + ".bias";
    }

    /**
     * Every tensor the forward pass needs for {@code c}, with its ggml-order shape. Excludes the
     * optional {@link #ROPE_FREQS}.
     */
    public static Map<String, long[]> expectedShapes(ModelConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long e = c.nEmbd(), q = c.qDim(), kv = c.kvDim(), ff = c.nFf(), v = c.vocabSize();
        m.put(TOKEN_EMBD, new long[] {e, v});
        for (int i = 0; i < c.nLayers(); i++) {
            m.put(blk(i, "attn_norm"), new long[] {e});
            m.put(blk(i, "attn_q"), new long[] {e, q});
            m.put(blk(i, "attn_k"), new long[] {e, kv});
            m.put(blk(i, "attn_v"), new long[] {e, kv});
            m.put(blk(i, "attn_output"), new long[] {q, e});
            if (c.qkvBias()) {
                m.put(blkBias(i, "attn_q"), new long[] {q});
                m.put(blkBias(i, "attn_k"), new long[] {kv});
                m.put(blkBias(i, "attn_v"), new long[] {kv});
            }
            if (c.qkNorm()) {
                m.put(blk(i, "attn_q_norm"), new long[] {c.headDim()});
                m.put(blk(i, "attn_k_norm"), new long[] {c.headDim()});
            }
            m.put(blk(i, "ffn_norm"), new long[] {e});
            m.put(blk(i, "ffn_gate"), new long[] {e, ff});
            m.put(blk(i, "ffn_up"), new long[] {e, ff});
            m.put(blk(i, "ffn_down"), new long[] {ff, e});
        }
        m.put(OUTPUT_NORM, new long[] {e});
        if (!c.tiedEmbeddings()) m.put(OUTPUT, new long[] {e, v});
        return m;
    }

    /**
     * The GGUF name of a Hugging Face tensor name ({@code model.layers.3.self_attn.q_proj.weight}
     * becomes {@code blk.3.attn_q.weight}), or null for names the engine does not use.
     */
    public static String fromHf(String hf) {
        switch (hf) {
            case "model.embed_tokens.weight": return TOKEN_EMBD;
            case "model.norm.weight": return OUTPUT_NORM;
            case "lm_head.weight": return OUTPUT;
            default: break;
        }
        if (!hf.startsWith("model.layers.")) return null;
        int dot = hf.indexOf('.', "model.layers.".length());
        if (dot < 0) return null;
        String layer = hf.substring("model.layers.".length(), dot);
        if (layer.isEmpty() || !layer.chars().allMatch(Character::isDigit) || layer.length() > 6) return null;
        String rest = hf.substring(dot + 1);
        String part = switch (rest) {
            case "input_layernorm.weight" -> "attn_norm.weight";
            case "self_attn.q_proj.weight" -> "attn_q.weight";
            case "self_attn.k_proj.weight" -> "attn_k.weight";
            case "self_attn.v_proj.weight" -> "attn_v.weight";
            case "self_attn.q_proj.bias" -> "attn_q.bias";
            case "self_attn.k_proj.bias" -> "attn_k.bias";
            case "self_attn.v_proj.bias" -> "attn_v.bias";
            case "self_attn.o_proj.weight" -> "attn_output.weight";
            case "self_attn.q_norm.weight" -> "attn_q_norm.weight";
            case "self_attn.k_norm.weight" -> "attn_k_norm.weight";
            case "post_attention_layernorm.weight" -> "ffn_norm.weight";
            case "mlp.gate_proj.weight" -> "ffn_gate.weight";
            case "mlp.up_proj.weight" -> "ffn_up.weight";
            case "mlp.down_proj.weight" -> "ffn_down.weight";
            default -> null;
        };
        return part == null ? null : "blk." + Integer.parseInt(layer) + "." + part;
    }
}
