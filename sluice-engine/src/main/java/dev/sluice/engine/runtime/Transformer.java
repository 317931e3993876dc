package dev.sluice.engine.runtime;

import dev.sluice.engine.kernels.Kernels;
import dev.sluice.engine.kernels.RopeTable;
import dev.sluice.engine.model.ModelConfig;
import dev.sluice.engine.model.ModelWeights;
import dev.sluice.engine.model.TensorNames;
import dev.sluice.engine.tensor.Dequant;
import dev.sluice.engine.tensor.Tensor;

import org.slf4j.LoggerFactory;

import java.util.Optional;

/**
 * The decoder-only transformer forward pass shared by {@code llama}, {@code mistral}, {@code qwen2}
 * and {@code qwen3}, which differ only by flags in {@link ModelConfig}:
 *
 * <pre>
 * x = token_embd[tokens]
 * for each layer:
 *   h = rmsnorm(x) * attn_norm
 *   q = Wq h (+ bq), k = Wk h (+ bk), v = Wv h (+ bv)          qkvBias: Qwen2
 *   q, k = rmsnorm per head * attn_{q,k}_norm                  qkNorm: Qwen3
 *   q, k = rope(q, k, pos)                                     NeoX or interleaved pairs
 *   cache[pos] = k, v
 *   x += Wo attention(q, cache)                                causal, GQA, optional sliding window
 *   h = rmsnorm(x) * ffn_norm
 *   x += Wdown (silu(Wgate h) * Wup h)
 * logits = output (rmsnorm(x) * output_norm)                   output = token_embd when tied
 * </pre>
 *
 * <p>Design note: a call processes a chunk of tokens at once (batched prefill): every projection
 * is one {@link Kernels#matmul} over all tokens of the chunk (Q/K/V, and gate/up, each as one call of the multi-matrix form: one parallel job), and attention is causal within the
 * chunk. Chunks longer than {@link #PREFILL_CHUNK} are split to bound activation memory. Weights
 * stay in their mapped segments; only 1-D tensors (norms, biases) are copied to float arrays at
 * construction. A {@code Transformer} is immutable and may be shared by threads, each with its
 * own {@link KVCache}; activation buffers are allocated per call.
 */
public final class Transformer {
    /** Default cap on KV cache positions (tokens): bounds cache memory for models trained on long contexts. */
    public static final int DEFAULT_MAX_CONTEXT = 4096;
    /** Tokens per internal forward chunk: activations take about {@code chunk * (3 * nEmbd + 2 * nFf + qDim + 2 * kvDim)} floats. */
    public static final int PREFILL_CHUNK = 256;

    private final ModelConfig c;
    private final Kernels kernels;
    private final RopeTable rope;
    private final int maxContext;
    private final Tensor tokenEmbd, output;
    private final float[] outputNorm;
    private final Layer[] layers;

    private record Layer(float[] attnNorm, Tensor wq, Tensor wk, Tensor wv, Tensor wo,
                         float[] bq, float[] bk, float[] bv, float[] qNorm, float[] kNorm,
                         float[] ffnNorm, Tensor wGate, Tensor wUp, Tensor wDown) {}

    /** A model with a KV cache capped at {@link #DEFAULT_MAX_CONTEXT} positions. */
    public Transformer(ModelWeights weights, Kernels kernels) {
        this(weights, kernels, DEFAULT_MAX_CONTEXT);
    }

    /**
     * @param maxContextCap upper bound on positions; the model's own {@code contextLength} applies when smaller
     */
    public Transformer(ModelWeights weights, Kernels kernels, int maxContextCap) {
        if (maxContextCap <= 0) throw new IllegalArgumentException("maxContextCap must be > 0, got " + maxContextCap);
        this.c = weights.config();
        this.kernels = kernels;
        this.maxContext = Math.min(maxContextCap, c.contextLength());
        this.tokenEmbd = weights.tensor(TensorNames.TOKEN_EMBD);
        this.output = c.tiedEmbeddings() ? tokenEmbd : weights.find(TensorNames.OUTPUT).orElse(tokenEmbd);
        this.outputNorm = vec(weights, TensorNames.OUTPUT_NORM);
        Optional<float[]> freqFactors = weights.ropeFreqFactors();
        ModelConfig.RopeScaling scaling = c.ropeScaling();
        if (freqFactors.isEmpty() && scaling != null && !"llama3".equals(scaling.type()) && !"linear".equals(scaling.type())) {
            LoggerFactory.getLogger(Transformer.class).warn(
                    "{}: RoPE scaling type '{}' is not implemented (supported: llama3, linear); using unscaled RoPE, which is exact only within the original context length",
                    weights.source(), scaling.type());
        }
        // ropeFreqFactors() already folds llama3 scaling into divisors; pass the scaling only when there are none
        this.rope = new RopeTable(c.headDim(), maxContext, c.ropeTheta(), c.ropeNeox(),
                freqFactors.isPresent() ? null : c.ropeScaling(), freqFactors.orElse(null));
        this.layers = new Layer[c.nLayers()];
        for (int i = 0; i < c.nLayers(); i++) {
            layers[i] = new Layer(
                    vec(weights, TensorNames.blk(i, "attn_norm")),
                    weights.tensor(TensorNames.blk(i, "attn_q")),
                    weights.tensor(TensorNames.blk(i, "attn_k")),
                    weights.tensor(TensorNames.blk(i, "attn_v")),
                    weights.tensor(TensorNames.blk(i, "attn_output")),
                    c.qkvBias() ? vec(weights, TensorNames.blkBias(i, "attn_q")) : null,
                    c.qkvBias() ? vec(weights, TensorNames.blkBias(i, "attn_k")) : null,
                    c.qkvBias() ? vec(weights, TensorNames.blkBias(i, "attn_v")) : null,
                    c.qkNorm() ? vec(weights, TensorNames.blk(i, "attn_q_norm")) : null,
                    c.qkNorm() ? vec(weights, TensorNames.blk(i, "attn_k_norm")) : null,
                    vec(weights, TensorNames.blk(i, "ffn_norm")),
                    weights.tensor(TensorNames.blk(i, "ffn_gate")),
                    weights.tensor(TensorNames.blk(i, "ffn_up")),
                    weights.tensor(TensorNames.blk(i, "ffn_down")));
        }
    }

    private static float[] vec(ModelWeights w, String name) {
        return Dequant.toFloats(w.tensor(name));
    }

    public ModelConfig config() {
        return c;
    }

    public Kernels kernels() {
        return kernels;
    }

    /** Positions a cache from {@link #newCache()} holds: {@code min(cap, contextLength)}. */
    public int maxContext() {
        return maxContext;
    }

    /**
     * Runs a short prefill and a few decode steps on a throw-away cache so that the JIT compiles
     * the kernels before the first real request: the very first forward pass of a JVM is several
     * times slower while the Vector API code is interpreted. Takes about as long as a 16-token
     * prompt plus 4 tokens of output; results are discarded.
     */
    public void warmUp() {
        KVCache scratch = new KVCache(c, Math.min(maxContext, 32));
        int n = Math.min(16, scratch.capacity() - 4);
        if (n < 1) return;
        int[] prompt = new int[n];
        for (int i = 0; i < n; i++) prompt[i] = i % c.vocabSize();
        forwardLast(prompt, 0, scratch);
        for (int i = 0; i < 4 && n + i < scratch.capacity(); i++) forwardLast(new int[] {i % c.vocabSize()}, n + i, scratch);
    }

    /** A fresh, empty KV cache of {@link #maxContext()} positions. */
    public KVCache newCache() {
        return new KVCache(c, maxContext);
    }

    /**
     * Runs {@code tokens} at positions {@code startPos ..} and returns the logits of every token,
     * {@code [tokens.length][vocabSize]} row-major.
     *
     * @throws ContextOverflowException when {@code startPos + tokens.length} exceeds the cache
     */
    public float[] forward(int[] tokens, int startPos, KVCache cache) {
        float[] logits = new float[tokens.length * c.vocabSize()];
        run(tokens, startPos, cache, logits, false);
        return logits;
    }

    /** As {@link #forward} but computes and returns only the last token's logits ({@code vocabSize} floats). */
    public float[] forwardLast(int[] tokens, int startPos, KVCache cache) {
        float[] logits = new float[c.vocabSize()];
        run(tokens, startPos, cache, logits, true);
        return logits;
    }

    private void run(int[] tokens, int startPos, KVCache cache, float[] logits, boolean lastOnly) {
        if (tokens.length == 0) throw new IllegalArgumentException("no tokens to forward");
        if (startPos < 0 || startPos > cache.length()) {
            throw new IllegalArgumentException("startPos " + startPos + " must be within [0, cache length " + cache.length() + "]");
        }
        int end = startPos + tokens.length;
        if (end > Math.min(cache.capacity(), maxContext)) throw new ContextOverflowException(end, Math.min(cache.capacity(), maxContext));
        for (int t : tokens) {
            if (t < 0 || t >= c.vocabSize()) throw new IllegalArgumentException("token id " + t + " outside vocabulary [0, " + c.vocabSize() + ")");
        }
        for (int from = 0; from < tokens.length; from += PREFILL_CHUNK) {
            int n = Math.min(PREFILL_CHUNK, tokens.length - from);
            float[] x = chunk(tokens, from, n, startPos + from, cache);
            boolean last = from + n == tokens.length;
            if (lastOnly && !last) continue;
            int E = c.nEmbd(), V = c.vocabSize();
            if (lastOnly) {
                float[] xl = new float[E];
                System.arraycopy(x, (n - 1) * E, xl, 0, E);
                kernels.rmsnorm(xl, xl, outputNorm, E, 1, c.rmsEps());
                kernels.matmul(output, xl, logits, 1);
            } else {
                kernels.rmsnorm(x, x, outputNorm, E, n, c.rmsEps());
                float[] out = new float[n * V];
                kernels.matmul(output, x, out, n);
                System.arraycopy(out, 0, logits, from * V, n * V);
            }
        }
    }

    /** All layers for {@code n} tokens at positions {@code pos0 ..}; returns the final hidden states {@code [n][nEmbd]}. */
    private float[] chunk(int[] tokens, int from, int n, int pos0, KVCache cache) {
        int E = c.nEmbd(), qDim = c.qDim(), kvDim = c.kvDim(), F = c.nFf(), hd = c.headDim();
        float eps = c.rmsEps();
        float[] x = new float[n * E];
        for (int t = 0; t < n; t++) Dequant.row(tokenEmbd, tokens[from + t], x, t * E);
        float[] h = new float[n * E];
        float[] q = new float[n * qDim], k = new float[n * kvDim], v = new float[n * kvDim];
        float[] att = new float[n * qDim];
        float[] gate = new float[n * F], up = new float[n * F];
        float[] tmp = new float[n * E];
        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            // attention
            kernels.rmsnorm(h, x, L.attnNorm, E, n, eps);
            projectQkv(L, h, q, k, v, n, n);
            float[] kc = cache.k[l], vc = cache.v[l];
            for (int t = 0; t < n; t++) {
                kernels.rope(q, t * qDim, c.nHeads(), pos0 + t, rope);
                kernels.rope(k, t * kvDim, c.nKvHeads(), pos0 + t, rope);
            }
            System.arraycopy(k, 0, kc, pos0 * kvDim, n * kvDim);
            System.arraycopy(v, 0, vc, pos0 * kvDim, n * kvDim);
            kernels.attention(q, att, n, pos0, kc, vc, c.nHeads(), c.nKvHeads(), hd, c.slidingWindow());
            kernels.matmul(L.wo, att, tmp, n);
            kernels.add(x, tmp, n * E);
            // feed-forward
            kernels.rmsnorm(h, x, L.ffnNorm, E, n, eps);
            kernels.matmul(new Tensor[] {L.wGate, L.wUp}, h, new float[][] {gate, up}, n);
            kernels.swiglu(gate, up, n * F);
            kernels.matmul(L.wDown, gate, tmp, n);
            kernels.add(x, tmp, n * E);
        }
        cache.setLength(pos0 + n);
        return x;
    }

    // ---------------------------------------------------------------- batched multi-sequence forward (scheduler)

    /**
     * Rows below which {@link #forwardBatch} pads its matmuls with zero rows when asked to be
     * batch-invariant: {@link Kernels#matmul} may take a separate single-vector path at {@code n == 1}
     * (in-register dequantization, e.g. {@link dev.sluice.engine.kernels.VectorKernels}) whose
     * rounding differs from its batched path; at {@code n >= 2} every row is computed by the same
     * code in the same order whatever the other rows are.
     */
    public static final int MIN_INVARIANT_ROWS = 2;

    /**
     * {@link #forwardBatch} rounds the rows of its batched matmuls up to a multiple of this (zero
     * rows; results unchanged): the vector GEMM's register tile takes 4 input vectors at a time and
     * runs a leftover 1 to 3 vectors at a fraction of its speed (measured: a padded 4-row step
     * costs less than a 2-row one), so e.g. a lone decode token costs a 4-row pass, not a 2-row one.
     */
    public static final int BATCH_ROW_MULTIPLE = 4;

    /**
     * One forward step over several sequences at once (continuous batching): sequence {@code i}
     * runs its chunk {@code tokens[i]} (one token when decoding, several for a chunk of prefill)
     * at positions {@code seqs[i].length() ..} against its own paged KV. Every projection is one
     * {@link Kernels#matmul} over the stacked tokens of all sequences, so each weight matrix is
     * read once per step; attention ({@link PagedAttention}) reads each sequence's own blocks in place. The caller must have
     * {@link PagedKVCache.Sequence#reserve reserved} room for the chunk; lengths advance by the chunk.
     *
     * <p>Guarantee: with {@code batchInvariant}, each token's row goes through the same kernels in
     * the same order whatever the other sequences in the step are (every matmul runs on at least
     * {@link #MIN_INVARIANT_ROWS} rows; norms, RoPE and attention are per row or per sequence), so
     * a sequence's logits are bit-identical alone or in any batch, and however its prompt was
     * chunked; this holds as long as the kernels' batched matmul computes each output row
     * independently of the other input rows (tested for the shipped backends). Without it, a step
     * of one token uses the faster single-vector path and results may differ by rounding.
     *
     * @param wantLogits which sequences need the logits of their last token (e.g. not a prefill chunk
     *                   short of the prompt's end); null for all
     * @return per sequence, the logits of its last token of the step ({@code vocabSize} floats), or
     *         null where not wanted
     * @throws ContextOverflowException when a sequence would pass {@link #maxContext()}
     */
    public float[][] forwardBatch(int[][] tokens, PagedKVCache.Sequence[] seqs, PagedKVCache pool, boolean[] wantLogits, boolean batchInvariant) {
        int B = seqs.length;
        if (B == 0 || tokens.length != B) throw new IllegalArgumentException("need one token chunk per sequence, got " + tokens.length + " for " + B);
        int n = 0, maxLen = 0;
        int[] rowOf = new int[B];
        for (int i = 0; i < B; i++) {
            int m = tokens[i].length;
            if (m == 0) throw new IllegalArgumentException("empty token chunk for sequence " + i);
            int end = seqs[i].length() + m;
            if (end > maxContext) throw new ContextOverflowException(end, maxContext);
            if (end > seqs[i].capacity()) throw new IllegalStateException("sequence " + i + " has room for " + seqs[i].capacity() + " positions, needs " + end);
            for (int t : tokens[i]) {
                if (t < 0 || t >= c.vocabSize()) throw new IllegalArgumentException("token id " + t + " outside vocabulary [0, " + c.vocabSize() + ")");
            }
            rowOf[i] = n;
            n += m;
            maxLen = Math.max(maxLen, end);
        }
        int rows = paddedRows(n, batchInvariant);
        int E = c.nEmbd(), qDim = c.qDim(), kvDim = c.kvDim(), F = c.nFf(), hd = c.headDim();
        float eps = c.rmsEps();
        float[] x = new float[rows * E], h = new float[rows * E], tmp = new float[rows * E];
        float[] q = new float[rows * qDim], k = new float[rows * kvDim], v = new float[rows * kvDim];
        float[] att = new float[rows * qDim];
        float[] gate = new float[rows * F], up = new float[rows * F];
        int[] rowSeq = new int[n], rowPos = new int[n];
        for (int i = 0; i < B; i++) {
            for (int t = 0; t < tokens[i].length; t++) {
                Dequant.row(tokenEmbd, tokens[i][t], x, (rowOf[i] + t) * E);
                rowSeq[rowOf[i] + t] = i;
                rowPos[rowOf[i] + t] = seqs[i].length() + t;
            }
        }
        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            kernels.rmsnorm(h, x, L.attnNorm, E, n, eps);
            projectQkv(L, h, q, k, v, rows, n);
            float[] poolK = pool.k[l], poolV = pool.v[l];
            for (int i = 0; i < B; i++) {
                PagedKVCache.Sequence s = seqs[i];
                int m = tokens[i].length, r0 = rowOf[i], pos0 = s.length();
                for (int t = 0; t < m; t++) {
                    kernels.rope(q, (r0 + t) * qDim, c.nHeads(), pos0 + t, rope);
                    kernels.rope(k, (r0 + t) * kvDim, c.nKvHeads(), pos0 + t, rope);
                }
                s.write(poolK, pos0, k, r0 * kvDim, m);
                s.write(poolV, pos0, v, r0 * kvDim, m);
            }
            PagedAttention.run(q, att, n, rowSeq, rowPos, seqs, poolK, poolV, c.nHeads(), c.nKvHeads(), hd, c.slidingWindow(), maxLen,
                    kernels, !"cpu-scalar".equals(kernels.name()));
            kernels.matmul(L.wo, att, tmp, rows);
            kernels.add(x, tmp, n * E);
            kernels.rmsnorm(h, x, L.ffnNorm, E, n, eps);
            kernels.matmul(new Tensor[] {L.wGate, L.wUp}, h, new float[][] {gate, up}, rows);
            kernels.swiglu(gate, up, n * F);
            kernels.matmul(L.wDown, gate, tmp, rows);
            kernels.add(x, tmp, n * E);
        }
        for (int i = 0; i < B; i++) seqs[i].setLength(seqs[i].length() + tokens[i].length);
        int nOut = 0;
        for (int i = 0; i < B; i++) if (wantLogits == null || wantLogits[i]) nOut++;
        float[][] result = new float[B][];
        if (nOut == 0) return result;
        int outRows = paddedRows(nOut, batchInvariant);
        int V = c.vocabSize();
        float[] last = new float[outRows * E];
        for (int i = 0, o = 0; i < B; i++) {
            if (wantLogits == null || wantLogits[i]) System.arraycopy(x, (rowOf[i] + tokens[i].length - 1) * E, last, o++ * E, E);
        }
        kernels.rmsnorm(last, last, outputNorm, E, nOut, eps);
        float[] logits = new float[outRows * V];
        kernels.matmul(output, last, logits, outRows);
        for (int i = 0, o = 0; i < B; i++) {
            if (wantLogits == null || wantLogits[i]) result[i] = java.util.Arrays.copyOfRange(logits, o * V, ++o * V);
        }
        return result;
    }

    /** Rows a batched matmul of {@code n} vectors runs on: see {@link #MIN_INVARIANT_ROWS} and {@link #BATCH_ROW_MULTIPLE}. */
    static int paddedRows(int n, boolean batchInvariant) {
        if (n == 1 && !batchInvariant) return 1;
        int m = Math.max(n, MIN_INVARIANT_ROWS);
        return (m + BATCH_ROW_MULTIPLE - 1) / BATCH_ROW_MULTIPLE * BATCH_ROW_MULTIPLE;
    }

    /**
     * Q, K and V of {@code n} tokens: one multi-matrix matmul over {@code rows} input rows (rows
     * beyond {@code n} are batch-invariance padding), then the QKV biases (Qwen2) and the per-head
     * QK-norm (Qwen3) on the {@code n} real rows.
     */
    private void projectQkv(Layer L, float[] h, float[] q, float[] k, float[] v, int rows, int n) {
        kernels.matmul(new Tensor[] {L.wq, L.wk, L.wv}, h, new float[][] {q, k, v}, rows);
        if (L.bq != null) {
            addBias(q, L.bq, n);
            addBias(k, L.bk, n);
            addBias(v, L.bv, n);
        }
        if (L.qNorm != null) {
            kernels.rmsnorm(q, q, L.qNorm, c.headDim(), n * c.nHeads(), c.rmsEps());
            kernels.rmsnorm(k, k, L.kNorm, c.headDim(), n * c.nKvHeads(), c.rmsEps());
        }
    }

    private static void addBias(float[] y, float[] b, int n) {
        int d = b.length;
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < d; i++) y[t * d + i] += b[i];
        }
    }
}
