package dev.sluice.engine.bench;

import dev.sluice.engine.gguf.GGUFFile;
import dev.sluice.engine.gguf.GGUFValueType;
import dev.sluice.engine.gguf.GGUFWriter;
import dev.sluice.engine.tensor.GGMLType;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Writes the engine benchmark model: Qwen2.5-0.5B's shape (qwen2, 24 layers, hidden 896,
 * 14 heads, 2 KV heads, head dim 64, FFN 4864, QKV bias, tied embeddings, rope theta 1e6,
 * RMS eps 1e-6) with the vocabulary and merges of a donor GGUF vocabulary file (DeepSeek's
 * 102400-token {@code ggml-vocab-deepseek-llm.gguf}), about 450M parameters.
 *
 * <p>Weights are N(0, 0.02) stored as F16, norms 1.0, biases N(0, 0.02) as F32. Every tensor
 * draws from its own {@link SplittableRandom} seeded from the model seed and the tensor name,
 * so the file is identical for a given seed, whatever order tensors are written in.
 */
public final class BenchmarkModel {
    /** Shape of the benchmark model; see the class comment. */
    public record Shape(int nLayers, int nEmbd, int nHeads, int nKvHeads, int headDim, int nFf, float ropeTheta, float rmsEps, int contextLength) {
        public static final Shape QWEN2_0_5B = new Shape(24, 896, 14, 2, 64, 4864, 1e6f, 1e-6f, 32768);
    }

    /** Standard deviation of weights and biases. */
    public static final double WEIGHT_STD = 0.02;
    /** Default seed of {@code sluice bench make-model}. */
    public static final long DEFAULT_SEED = 42;

    private BenchmarkModel() {}

    /**
     * Writes the F16 benchmark model to {@code out}.
     *
     * @param vocab a GGUF file whose {@code tokenizer.*} metadata is copied (tokens, merges, types, ids, pre)
     */
    public static void writeF16(Path vocab, Path out, Shape s, long seed) {
        try (GGUFFile v = GGUFFile.open(vocab)) {
            String[] tokens = v.getArray("tokenizer.ggml.tokens", String[].class);
            if (tokens == null) throw new IllegalArgumentException(vocab + ": no tokenizer.ggml.tokens");
            int nVocab = tokens.length;
            GGUFWriter w = new GGUFWriter();
            w.putString("general.architecture", "qwen2");
            w.putString("general.name", "sluice-bench-qwen2-" + s.nLayers() + "L-" + s.nEmbd());
            w.putUInt32("general.file_type", 1); // MOSTLY_F16
            w.putUInt32("qwen2.context_length", s.contextLength());
            w.putUInt32("qwen2.embedding_length", s.nEmbd());
            w.putUInt32("qwen2.block_count", s.nLayers());
            w.putUInt32("qwen2.feed_forward_length", s.nFf());
            w.putUInt32("qwen2.attention.head_count", s.nHeads());
            w.putUInt32("qwen2.attention.head_count_kv", s.nKvHeads());
            w.putUInt32("qwen2.attention.key_length", s.headDim());
            w.putUInt32("qwen2.attention.value_length", s.headDim());
            w.putFloat32("qwen2.rope.freq_base", s.ropeTheta());
            w.putFloat32("qwen2.attention.layer_norm_rms_epsilon", s.rmsEps());
            for (var e : v.metadata().entrySet()) {
                if (!e.getKey().startsWith("tokenizer.")) continue;
                GGUFValueType t = v.metadataTypes().get(e.getKey());
                if (t == GGUFValueType.ARRAY) w.putArray(e.getKey(), v.arrayType(e.getKey()), e.getValue());
                else w.put(e.getKey(), t, e.getValue());
            }
            int qDim = s.nHeads() * s.headDim();
            int kvDim = s.nKvHeads() * s.headDim();
            f16(w, seed, "token_embd.weight", s.nEmbd(), nVocab);
            for (int l = 0; l < s.nLayers(); l++) {
                String p = "blk." + l + ".";
                ones(w, p + "attn_norm.weight", s.nEmbd());
                f16(w, seed, p + "attn_q.weight", s.nEmbd(), qDim);
                f32(w, seed, p + "attn_q.bias", qDim);
                f16(w, seed, p + "attn_k.weight", s.nEmbd(), kvDim);
                f32(w, seed, p + "attn_k.bias", kvDim);
                f16(w, seed, p + "attn_v.weight", s.nEmbd(), kvDim);
                f32(w, seed, p + "attn_v.bias", kvDim);
                f16(w, seed, p + "attn_output.weight", qDim, s.nEmbd());
                ones(w, p + "ffn_norm.weight", s.nEmbd());
                f16(w, seed, p + "ffn_gate.weight", s.nEmbd(), s.nFf());
                f16(w, seed, p + "ffn_up.weight", s.nEmbd(), s.nFf());
                f16(w, seed, p + "ffn_down.weight", s.nFf(), s.nEmbd());
            }
            ones(w, "output_norm.weight", s.nEmbd());
            w.write(out);
        }
    }

    private static SplittableRandom rng(long seed, String name) {
        return new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ name.hashCode());
    }

    private static void f16(GGUFWriter w, long seed, String name, int cols, int rows) {
        w.addTensorFilled(name, GGMLType.F16, new long[] {cols, rows}, (ByteBuffer b) -> {
            SplittableRandom r = rng(seed, name);
            long n = (long) cols * rows;
            for (long i = 0; i < n; i++) b.putShort(Float.floatToFloat16((float) (r.nextGaussian() * WEIGHT_STD)));
        });
    }

    private static void f32(GGUFWriter w, long seed, String name, int n) {
        w.addTensorFilled(name, GGMLType.F32, new long[] {n}, (ByteBuffer b) -> {
            SplittableRandom r = rng(seed, name);
            for (int i = 0; i < n; i++) b.putFloat((float) (r.nextGaussian() * WEIGHT_STD));
        });
    }

    private static void ones(GGUFWriter w, String name, int n) {
        w.addTensorFilled(name, GGMLType.F32, new long[] {n}, (ByteBuffer b) -> {
            for (int i = 0; i < n; i++) b.putFloat(1.0f);
        });
    }
}
