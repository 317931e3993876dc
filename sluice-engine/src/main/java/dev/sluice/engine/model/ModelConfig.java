package dev.sluice.engine.model;

import dev.sluice.engine.ModelFormatException;

/**
 * The hyper-parameters of a decoder-only transformer, named as in llama.cpp. Built from GGUF
 * metadata ({@code <arch>.embedding_length}, ...) or from a Hugging Face {@code config.json},
 * and validated on construction.
 *
 * @param architecture  GGUF architecture name: {@code llama}, {@code qwen2}, {@code qwen3}, {@code mistral}
 * @param nEmbd         model width ({@code hidden_size})
 * @param nLayers       transformer blocks
 * @param nHeads        query heads
 * @param nKvHeads      key/value heads (GQA when fewer than {@code nHeads})
 * @param headDim       per-head dimension (not always {@code nEmbd / nHeads}, e.g. Qwen3)
 * @param nFf           feed-forward width ({@code intermediate_size})
 * @param vocabSize     rows of the embedding and output matrices
 * @param contextLength maximum positions the model was trained for
 * @param rmsEps        RMSNorm epsilon
 * @param ropeTheta     RoPE base frequency
 * @param ropeNeox      true for NeoX-style rotation of the two half-vectors (Qwen; HF-layout Llama);
 *                      false for adjacent pairs (GGUF Llama, whose Q/K rows are permuted at conversion)
 * @param ropeScaling   llama3-style frequency scaling, or null
 * @param qkvBias       Q, K and V projections have biases (Qwen2)
 * @param qkNorm        per-head RMSNorm on Q and K before RoPE (Qwen3)
 * @param tiedEmbeddings the output head reuses the token embedding matrix
 * @param slidingWindow attention window in tokens, or 0 for full attention
 */
public record ModelConfig(
        String architecture,
        int nEmbd,
        int nLayers,
        int nHeads,
        int nKvHeads,
        int headDim,
        int nFf,
        int vocabSize,
        int contextLength,
        float rmsEps,
        float ropeTheta,
        boolean ropeNeox,
        RopeScaling ropeScaling,
        boolean qkvBias,
        boolean qkNorm,
        boolean tiedEmbeddings,
        int slidingWindow) {

    /** Architectures the forward pass implements. */
    public static final java.util.List<String> SUPPORTED_ARCHITECTURES = java.util.List.of("llama", "qwen2", "qwen3", "mistral");

    /**
     * Llama 3.1-style RoPE frequency scaling ({@code rope_type = "llama3"}).
     */
    public record RopeScaling(String type, float factor, float lowFreqFactor, float highFreqFactor, int originalContextLength) {}

    public ModelConfig {
        if (!SUPPORTED_ARCHITECTURES.contains(architecture)) {
            throw new ModelFormatException("unsupported architecture '" + architecture + "' (supported: " + String.join(", ", SUPPORTED_ARCHITECTURES) + ")");
        }
        positive("nEmbd", nEmbd);
        positive("nLayers", nLayers);
        positive("nHeads", nHeads);
        positive("nKvHeads", nKvHeads);
        positive("headDim", headDim);
        positive("nFf", nFf);
        positive("vocabSize", vocabSize);
        positive("contextLength", contextLength);
        if (nHeads % nKvHeads != 0) {
            throw new ModelFormatException("nHeads " + nHeads + " is not a multiple of nKvHeads " + nKvHeads);
        }
        if (headDim % 2 != 0) throw new ModelFormatException("headDim " + headDim + " must be even for RoPE");
        if (!(rmsEps > 0)) throw new ModelFormatException("rmsEps must be > 0, got " + rmsEps);
        if (!(ropeTheta > 0)) throw new ModelFormatException("ropeTheta must be > 0, got " + ropeTheta);
    }

    private static void positive(String key, int v) {
        if (v <= 0) throw new ModelFormatException("model config '" + key + "' must be > 0, got " + v);
    }

    /** Query width: {@code nHeads * headDim}. */
    public int qDim() { return nHeads * headDim; }

    /** Key/value width: {@code nKvHeads * headDim}. */
    public int kvDim() { return nKvHeads * headDim; }
}
