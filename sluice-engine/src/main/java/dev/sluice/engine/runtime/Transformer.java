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
 * own {@link KVCache}. Activation and logits buffers live in a {@link Workspace}, one per calling
 * thread, reused from step to step: the scheduler's decode step allocates nothing (issue 3); the
 * convenience overloads without one allocate a fresh workspace per call.
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
    /** {@link PagedAttention}'s vector code with the vector backend, its scalar twin with {@code cpu-scalar}. */
    private final boolean vectorAttention;

    private record Layer(float[] attnNorm, Tensor wq, Tensor wk, Tensor wv, Tensor wo,
                         float[] bq, float[] bk, float[] bv, float[] qNorm, float[] kNorm,
                         float[] ffnNorm, Tensor wGate, Tensor wUp, Tensor wDown, Tensor[] qkv, Tensor[] gateUp) {
        Layer(float[] attnNorm, Tensor wq, Tensor wk, Tensor wv, Tensor wo,
              float[] bq, float[] bk, float[] bv, float[] qNorm, float[] kNorm,
              float[] ffnNorm, Tensor wGate, Tensor wUp, Tensor wDown) {
            this(attnNorm, wq, wk, wv, wo, bq, bk, bv, qNorm, kNorm, ffnNorm, wGate, wUp, wDown,
                    new Tensor[] {wq, wk, wv}, new Tensor[] {wGate, wUp});
        }
    }

    /**
     * Activation, logits and index buffers of the forward pass, reused from call to call so that a
     * decode step allocates nothing. Grow-only: sized to the largest step seen (about
     * {@code rows * (3 * nEmbd + 2 * nFf + 2 * qDim + 2 * kvDim)} floats plus {@code outRows * vocab}
     * for the logits). Not thread-safe: one per calling thread (the scheduler's engine thread, a
     * {@link Generator}); {@link #newWorkspace()} makes one.
     */
    public static final class Workspace {
        private final ModelConfig c;
        private int rows, outRows, seqs;
        float[] x, h, tmp, q, k, v, att, gate, up, last, logits;
        float[][] qkvOut, gateUpOut;
        int[] rowSeq, rowPos, rowOf;

        private Workspace(ModelConfig c) {
            this.c = c;
            ensure(0, 0, 0);
        }

        /** Room for {@code rows} activation rows, {@code outRows} rows of logits and {@code seqs} sequences. */
        void ensure(int rows, int outRows, int seqs) {
            if (x == null || rows > this.rows) {
                this.rows = rows;
                int E = c.nEmbd();
                x = new float[rows * E];
                h = new float[rows * E];
                tmp = new float[rows * E];
                last = new float[Math.max(outRows, this.outRows) * E];
                q = new float[rows * c.qDim()];
                att = new float[rows * c.qDim()];
                k = new float[rows * c.kvDim()];
                v = new float[rows * c.kvDim()];
                gate = new float[rows * c.nFf()];
                up = new float[rows * c.nFf()];
                rowSeq = new int[rows];
                rowPos = new int[rows];
                qkvOut = new float[][] {q, k, v};
                gateUpOut = new float[][] {gate, up};
            }
            if (logits == null || outRows > this.outRows) {
                this.outRows = outRows;
                logits = new float[outRows * c.vocabSize()];
                if (last.length < outRows * c.nEmbd()) last = new float[outRows * c.nEmbd()];
            }
            if (rowOf == null || seqs > this.seqs) {
                this.seqs = seqs;
                rowOf = new int[seqs];
            }
        }
    }

    /** Buffers for {@link #forwardBatch(int[][], PagedKVCache.Sequence[], PagedKVCache, boolean[], boolean, Workspace, float[][])} and {@link #forwardLast(int[], int, KVCache, Workspace, float[])}. */
    public Workspace newWorkspace() {
        return new Workspace(c);
    }

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
        this.vectorAttention = !"cpu-scalar".equals(kernels.name());
        this.maxContext = Math.min(maxContextCap, c.contextLength());
        // matrices in the kernels' layout (kernels.prepare: Q8_0/Q4_0/F16 panels on 16-lane CPUs); the embedding
        // table is repacked only when it is also the output head (its rows read either way)
        Tensor embd = weights.tensor(TensorNames.TOKEN_EMBD);
        Optional<Tensor> head = c.tiedEmbeddings() ? Optional.empty() : weights.find(TensorNames.OUTPUT);
        this.output = kernels.prepare(head.orElse(embd));
        this.tokenEmbd = head.isPresent() ? embd : output;
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
                    kernels.prepare(weights.tensor(TensorNames.blk(i, "attn_q"))),
                    kernels.prepare(weights.tensor(TensorNames.blk(i, "attn_k"))),
                    kernels.prepare(weights.tensor(TensorNames.blk(i, "attn_v"))),
                    kernels.prepare(weights.tensor(TensorNames.blk(i, "attn_output"))),
                    c.qkvBias() ? vec(weights, TensorNames.blkBias(i, "attn_q")) : null,
                    c.qkvBias() ? vec(weights, TensorNames.blkBias(i, "attn_k")) : null,
                    c.qkvBias() ? vec(weights, TensorNames.blkBias(i, "attn_v")) : null,
                    c.qkNorm() ? vec(weights, TensorNames.blk(i, "attn_q_norm")) : null,
                    c.qkNorm() ? vec(weights, TensorNames.blk(i, "attn_k_norm")) : null,
                    vec(weights, TensorNames.blk(i, "ffn_norm")),
                    kernels.prepare(weights.tensor(TensorNames.blk(i, "ffn_gate"))),
                    kernels.prepare(weights.tensor(TensorNames.blk(i, "ffn_up"))),
                    kernels.prepare(weights.tensor(TensorNames.blk(i, "ffn_down"))));
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
        forwardLast(tokens, startPos, cache, newWorkspace(), logits);
        return logits;
    }

    /**
     * As {@link #forwardLast(int[], int, KVCache)}, into {@code logits} (at least {@code vocabSize}
     * floats) with the buffers of {@code ws}: allocates nothing once {@code ws} has grown to the chunk size.
     */
    public void forwardLast(int[] tokens, int startPos, KVCache cache, Workspace ws, float[] logits) {
        run(tokens, startPos, cache, logits, true, ws);
    }

    private void run(int[] tokens, int startPos, KVCache cache, float[] logits, boolean lastOnly) {
        run(tokens, startPos, cache, logits, lastOnly, newWorkspace());
    }

    private void run(int[] tokens, int startPos, KVCache cache, float[] logits, boolean lastOnly, Workspace ws) {
        if (tokens.length == 0) throw new IllegalArgumentException("no tokens to forward");
        if (startPos < 0 || startPos > cache.length()) {
            throw new IllegalArgumentException("startPos " + startPos + " must be within [0, cache length " + cache.length() + "]");
        }
        int end = startPos + tokens.length;
        if (end > Math.min(cache.capacity(), maxContext)) throw new ContextOverflowException(end, Math.min(cache.capacity(), maxContext));
        for (int t : tokens) {
            if (t < 0 || t >= c.vocabSize()) throw new IllegalArgumentException("token id " + t + " outside vocabulary [0, " + c.vocabSize() + ")");
        }
        if (logits.length < (lastOnly ? 1 : tokens.length) * c.vocabSize()) {
            throw new IllegalArgumentException("logits hold " + logits.length + " floats, need " + (lastOnly ? 1 : tokens.length) * c.vocabSize());
        }
        for (int from = 0; from < tokens.length; from += PREFILL_CHUNK) {
            int n = Math.min(PREFILL_CHUNK, tokens.length - from);
            ws.ensure(n, lastOnly ? 1 : n, 0);
            float[] x = chunk(tokens, from, n, startPos + from, cache, ws);
            boolean last = from + n == tokens.length;
            if (lastOnly && !last) continue;
            int E = c.nEmbd(), V = c.vocabSize();
            if (lastOnly) {
                float[] xl = ws.last;
                System.arraycopy(x, (n - 1) * E, xl, 0, E);
                kernels.rmsnorm(xl, xl, outputNorm, E, 1, c.rmsEps());
                kernels.matmul(output, xl, logits, 1);
            } else {
                kernels.rmsnorm(x, x, outputNorm, E, n, c.rmsEps());
                float[] out = ws.logits;
                kernels.matmul(output, x, out, n);
                System.arraycopy(out, 0, logits, from * V, n * V);
            }
        }
    }

    /** All layers for {@code n} tokens at positions {@code pos0 ..}; returns the final hidden states {@code [n][nEmbd]} ({@code ws.x}). */
    private float[] chunk(int[] tokens, int from, int n, int pos0, KVCache cache, Workspace ws) {
        int E = c.nEmbd(), qDim = c.qDim(), kvDim = c.kvDim(), F = c.nFf(), hd = c.headDim();
        float eps = c.rmsEps();
        float[] x = ws.x, h = ws.h, q = ws.q, k = ws.k, v = ws.v, att = ws.att, gate = ws.gate, up = ws.up, tmp = ws.tmp;
        for (int t = 0; t < n; t++) Dequant.row(tokenEmbd, tokens[from + t], x, t * E);
        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            // attention
            kernels.rmsnorm(h, x, L.attnNorm, E, n, eps);
            projectQkv(L, h, ws.qkvOut, n, n);
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
            kernels.matmul(L.gateUp, h, ws.gateUpOut, n);
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
        float[][] result = new float[seqs.length][];
        for (int i = 0; i < result.length; i++) if (wantLogits == null || wantLogits[i]) result[i] = new float[c.vocabSize()];
        forwardBatch(tokens, seqs, pool, wantLogits, batchInvariant, newWorkspace(), result);
        return result;
    }

    /**
     * As {@link #forwardBatch(int[][], PagedKVCache.Sequence[], PagedKVCache, boolean[], boolean)}, with
     * the buffers of {@code ws} and the logits written into {@code logits[i]} (at least {@code vocabSize}
     * floats, for each sequence that wants them; other entries are not touched and may be null).
     * Allocates nothing once {@code ws} has grown to the step's size: this is the scheduler's hot path.
     */
    public void forwardBatch(int[][] tokens, PagedKVCache.Sequence[] seqs, PagedKVCache pool, boolean[] wantLogits, boolean batchInvariant,
                             Workspace ws, float[][] logits) {
        forwardBatch(tokens, seqs, seqs.length, pool, wantLogits, batchInvariant, ws, logits);
    }

    /**
     * As above for the first {@code B} entries of {@code tokens}, {@code seqs}, {@code wantLogits} and
     * {@code logits} (arrays may be longer, so that a caller can reuse them from step to step).
     */
    public void forwardBatch(int[][] tokens, PagedKVCache.Sequence[] seqs, int B, PagedKVCache pool, boolean[] wantLogits, boolean batchInvariant,
                             Workspace ws, float[][] logits) {
        if (B <= 0 || tokens.length < B || seqs.length < B || logits.length < B || (wantLogits != null && wantLogits.length < B)) {
            throw new IllegalArgumentException("need one token chunk, sequence and logits slot per sequence for " + B + " sequences");
        }
        int V = c.vocabSize();
        int n = 0, maxLen = 0, nOut = 0;
        for (int i = 0; i < B; i++) {
            int m = tokens[i].length;
            if (m == 0) throw new IllegalArgumentException("empty token chunk for sequence " + i);
            int end = seqs[i].length() + m;
            if (end > maxContext) throw new ContextOverflowException(end, maxContext);
            if (end > seqs[i].capacity()) throw new IllegalStateException("sequence " + i + " has room for " + seqs[i].capacity() + " positions, needs " + end);
            for (int t : tokens[i]) {
                if (t < 0 || t >= c.vocabSize()) throw new IllegalArgumentException("token id " + t + " outside vocabulary [0, " + c.vocabSize() + ")");
            }
            if (wantLogits == null || wantLogits[i]) {
                if (logits[i] == null || logits[i].length < V) throw new IllegalArgumentException("logits for sequence " + i + " must hold " + V + " floats");
                nOut++;
            }
            n += m;
            maxLen = Math.max(maxLen, end);
        }
        int rows = paddedRows(n, batchInvariant), outRows = nOut == 0 ? 0 : paddedRows(nOut, batchInvariant);
        ws.ensure(rows, outRows, B);
        int E = c.nEmbd(), qDim = c.qDim(), kvDim = c.kvDim(), F = c.nFf(), hd = c.headDim();
        float eps = c.rmsEps();
        float[] x = ws.x, h = ws.h, tmp = ws.tmp, q = ws.q, k = ws.k, v = ws.v, att = ws.att, gate = ws.gate, up = ws.up;
        int[] rowSeq = ws.rowSeq, rowPos = ws.rowPos, rowOf = ws.rowOf;
        // padding rows (batch invariance) are zero inputs: the matmuls keep them zero, the real rows never read them
        java.util.Arrays.fill(h, n * E, rows * E, 0f);
        java.util.Arrays.fill(att, n * qDim, rows * qDim, 0f);
        java.util.Arrays.fill(gate, n * F, rows * F, 0f);
        for (int i = 0, r = 0; i < B; i++) {
            rowOf[i] = r;
            for (int t = 0; t < tokens[i].length; t++, r++) {
                Dequant.row(tokenEmbd, tokens[i][t], x, r * E);
                rowSeq[r] = i;
                rowPos[r] = seqs[i].length() + t;
            }
        }
        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            kernels.rmsnorm(h, x, L.attnNorm, E, n, eps);
            projectQkv(L, h, ws.qkvOut, rows, n);
            float[] poolK = pool.k[l], poolV = pool.v[l];
            for (int i = 0; i < B; i++) {
                PagedKVCache.Sequence s = seqs[i];
                int m = tokens[i].length, r0 = rowOf[i], pos0 = s.length();
                for (int t = 0; t < m; t++) {
                    kernels.rope(q, (r0 + t) * qDim, c.nHeads(), pos0 + t, rope);
                    kernels.rope(k, (r0 + t) * kvDim, c.nKvHeads(), pos0 + t, rope);
                }
                s.writeKeys(poolK, pos0, k, r0 * kvDim, m);
                s.write(poolV, pos0, v, r0 * kvDim, m);
            }
            PagedAttention.run(q, att, n, rowSeq, rowPos, seqs, poolK, poolV, pool.blockSize(), c.nHeads(), c.nKvHeads(), hd, c.slidingWindow(), maxLen,
                    kernels, vectorAttention);
            kernels.matmul(L.wo, att, tmp, rows);
            kernels.add(x, tmp, n * E);
            kernels.rmsnorm(h, x, L.ffnNorm, E, n, eps);
            kernels.matmul(L.gateUp, h, ws.gateUpOut, rows);
            kernels.swiglu(gate, up, n * F);
            kernels.matmul(L.wDown, gate, tmp, rows);
            kernels.add(x, tmp, n * E);
        }
        for (int i = 0; i < B; i++) seqs[i].setLength(seqs[i].length() + tokens[i].length);
        if (nOut == 0) return;
        float[] last = ws.last, out = ws.logits;
        java.util.Arrays.fill(last, nOut * E, outRows * E, 0f);
        for (int i = 0, o = 0; i < B; i++) {
            if (wantLogits == null || wantLogits[i]) System.arraycopy(x, (rowOf[i] + tokens[i].length - 1) * E, last, o++ * E, E);
        }
        kernels.rmsnorm(last, last, outputNorm, E, nOut, eps);
        kernels.matmul(output, last, out, outRows);
        for (int i = 0, o = 0; i < B; i++) {
            if (wantLogits == null || wantLogits[i]) System.arraycopy(out, o++ * V, logits[i], 0, V);
        }
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
    private void projectQkv(Layer L, float[] h, float[][] qkv, int rows, int n) {
        kernels.matmul(L.qkv, h, qkv, rows);
        float[] q = qkv[0], k = qkv[1];
        if (L.bq != null) {
            addBias(q, L.bq, n);
            addBias(k, L.bk, n);
            addBias(qkv[2], L.bv, n);
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
