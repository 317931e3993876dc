package dev.sluice.engine.sampling;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Picks the next token from a row of logits, for one sequence.
 *
 * <p>The steps, in order (llama.cpp / vLLM / OpenAI semantics):
 * <ol>
 *   <li><b>logit bias</b>: {@code z[id] += logitBias[id]};</li>
 *   <li><b>repetition penalty</b> (Hugging Face / CTRL) over every distinct token of the prompt and
 *       of the generated text: {@code z > 0 ? z / r : z * r};</li>
 *   <li><b>presence / frequency penalties</b> (OpenAI) over generated tokens only:
 *       {@code z[id] -= count[id] * frequency + (count[id] > 0 ? presence : 0)};</li>
 *   <li><b>temperature 0</b>: return the argmax (lowest id on ties) — greedy, no randomness;</li>
 *   <li><b>temperature</b>: {@code z /= T};</li>
 *   <li><b>top-k</b>: keep the k largest; <b>top-p</b>: of those, keep the smallest prefix (by
 *       descending probability) whose probability mass reaches p; <b>min-p</b>: drop tokens with
 *       {@code p < minP * p_max}. Probabilities are the softmax over the surviving candidates;</li>
 *   <li>draw from the renormalized survivors with a {@link SplittableRandom} seeded from
 *       {@link SamplingParams#seed()} (random when null): the same seed, logits and parameters give
 *       the same tokens.</li>
 * </ol>
 *
 * <p><b>Log probabilities</b> are the log-softmax of the <em>raw</em> logits given to
 * {@link #sample}: the model's own distribution, before bias, penalties, temperature and
 * filters (as vLLM's default {@code raw_logprobs}). They therefore sum to 1 over the vocabulary
 * and do not change with sampling settings, and a token the filters removed can still be listed
 * among the alternatives.
 *
 * <p>Not thread-safe: one sampler per sequence. It remembers the prompt and the tokens it has
 * returned, which the penalties read.
 */
public final class Sampler {
    private final SamplingParams p;
    private final int vocab;
    private final SplittableRandom rng;
    private final int[] generatedCount;
    private final boolean[] seen;
    private int[] distinctSeen = new int[64];
    private int nSeen;
    private int[] distinctGenerated = new int[64];
    private int nGenerated;

    /**
     * @param vocabSize    logits per row
     * @param promptTokens the prompt, read by the repetition penalty (may be empty)
     */
    public Sampler(SamplingParams params, int vocabSize, int[] promptTokens) {
        this.p = params;
        this.vocab = vocabSize;
        this.rng = params.seed() != null ? new SplittableRandom(params.seed()) : new SplittableRandom();
        this.generatedCount = new int[vocabSize];
        this.seen = new boolean[vocabSize];
        for (int t : promptTokens) markSeen(t);
    }

    public SamplingParams params() {
        return p;
    }

    /** A sampled token and, when {@link SamplingParams#logprobs()} is set, its log probability. */
    public record Sampled(int token, TokenLogprob logprob) {}

    /**
     * Chooses the next token from {@code logits} (at least {@code vocabSize} floats, not modified)
     * and records it as generated for the penalties. Allocates nothing but the result unless log
     * probabilities are asked for: the working copies live in per-thread {@link Buffers}.
     */
    public Sampled sample(float[] logits) {
        if (logits.length < vocab) throw new IllegalArgumentException("logits hold " + logits.length + " floats, vocabulary has " + vocab);
        boolean adjusted = !p.logitBias().isEmpty() || p.repetitionPenalty() != 1f || p.presencePenalty() != 0f || p.frequencyPenalty() != 0f;
        int token;
        if (p.greedy() && !adjusted) {
            token = argmax(logits, vocab);
        } else {
            Buffers b = BUFFERS.get();
            float[] z = b.z(vocab);
            System.arraycopy(logits, 0, z, 0, vocab);
            process(z);
            token = p.greedy() ? argmax(z, vocab) : draw(z, b);
        }
        TokenLogprob lp = p.logprobs() || p.topLogprobs() > 0 ? logprobs(logits, token, p.topLogprobs(), vocab) : null;
        accept(token);
        return new Sampled(token, lp);
    }

    /**
     * Per-thread working arrays of {@link #sample} (grow-only, {@code vocab}-sized): a sampler is used
     * by one thread at a time and the arrays never outlive a call, so samplers on the same thread (the
     * scheduler's engine thread runs all its sequences') share them instead of each holding its own.
     */
    static final class Buffers {
        private float[] z = new float[0];
        private long[] keys = new long[0], best = new long[0];
        private int[] ids = new int[0];
        private double[] w = new double[0];

        float[] z(int n) {
            if (z.length < n) z = new float[n];
            return z;
        }

        long[] keys(int n) {
            if (keys.length < n) keys = new long[n];
            return keys;
        }

        long[] best(int n) {
            if (best.length < n) best = new long[n];
            return best;
        }

        int[] ids(int n) {
            if (ids.length < n) ids = new int[n];
            return ids;
        }

        double[] w(int n) {
            if (w.length < n) w = new double[n];
            return w;
        }
    }

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

    /** Records {@code token} as generated without sampling (e.g. a forced token). */
    public void accept(int token) {
        if (token < 0 || token >= vocab) return;
        if (generatedCount[token]++ == 0) {
            if (nGenerated == distinctGenerated.length) distinctGenerated = Arrays.copyOf(distinctGenerated, nGenerated * 2);
            distinctGenerated[nGenerated++] = token;
        }
        markSeen(token);
    }

    private void markSeen(int t) {
        if (t < 0 || t >= vocab || seen[t]) return;
        seen[t] = true;
        if (nSeen == distinctSeen.length) distinctSeen = Arrays.copyOf(distinctSeen, nSeen * 2);
        distinctSeen[nSeen++] = t;
    }

    /** Steps 1-3: bias and penalties, in place. Package-private for tests. */
    void process(float[] z) {
        for (Map.Entry<Integer, Float> e : p.logitBias().entrySet()) {
            int id = e.getKey();
            if (id < vocab) z[id] += e.getValue();
        }
        float r = p.repetitionPenalty();
        if (r != 1f) {
            for (int i = 0; i < nSeen; i++) {
                int id = distinctSeen[i];
                z[id] = z[id] > 0 ? z[id] / r : z[id] * r;
            }
        }
        float presence = p.presencePenalty(), frequency = p.frequencyPenalty();
        if (presence != 0f || frequency != 0f) {
            for (int i = 0; i < nGenerated; i++) {
                int id = distinctGenerated[i];
                z[id] -= generatedCount[id] * frequency + presence;
            }
        }
    }

    static int argmax(float[] z) {
        return argmax(z, z.length);
    }

    /** Index of the largest of {@code z[0, n)}, the lowest on ties. */
    static int argmax(float[] z, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (z[i] > z[best]) best = i;
        return best;
    }

    private int draw(float[] z, Buffers b) {
        float invT = 1f / p.temperature();
        for (int i = 0; i < vocab; i++) z[i] *= invT;
        int m = candidates(z, vocab, b);
        int[] cand = b.ids;
        return cand[pick(z, cand, m, b)];
    }

    /**
     * Steps 5-6 on temperature-scaled logits: the surviving token ids, most likely first (or all
     * ids in index order when no filter is active). Package-private for tests.
     */
    int[] candidates(float[] z) {
        Buffers b = new Buffers();
        int m = candidates(z, z.length, b);
        return Arrays.copyOf(b.ids, m);
    }

    /** {@link #candidates(float[])} of {@code z[0, n)} into {@code b.ids}; returns how many. */
    private int candidates(float[] z, int n, Buffers b) {
        int k = p.topK() > 0 ? Math.min(p.topK(), n) : n;
        boolean filter = k < n || p.topP() < 1f || p.minP() > 0f;
        if (!filter) {
            int[] all = b.ids(n);
            for (int i = 0; i < n; i++) all[i] = i;
            return n;
        }
        int m = topIndices(z, n, k, b);
        int[] sorted = b.ids;
        // softmax over the top-k survivors
        double max = z[sorted[0]];
        double[] prob = b.w(m);
        double sum = 0;
        for (int i = 0; i < m; i++) sum += prob[i] = Math.exp(z[sorted[i]] - max);
        if (p.topP() < 1f) {
            double cum = 0;
            int keep = m;
            for (int i = 0; i < m; i++) {
                cum += prob[i] / sum;
                if (cum >= p.topP()) {
                    keep = i + 1;
                    break;
                }
            }
            m = keep;
        }
        if (p.minP() > 0f) {
            double threshold = p.minP() * prob[0];
            int keep = 1;
            while (keep < m && prob[keep] >= threshold) keep++;
            m = keep;
        }
        return m;
    }

    /** Draws an index into {@code cand[0, m)} with probability proportional to {@code exp(z[cand[i]])}. */
    private int pick(float[] z, int[] cand, int m, Buffers b) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < m; i++) max = Math.max(max, z[cand[i]]);
        double[] w = b.w(m);
        double sum = 0;
        for (int i = 0; i < m; i++) sum += w[i] = Math.exp(z[cand[i]] - max);
        double u = rng.nextDouble() * sum;
        for (int i = 0; i < m; i++) {
            u -= w[i];
            if (u < 0) return i;
        }
        // rounding left u >= 0: the last token with non-zero weight
        for (int i = m - 1; i >= 0; i--) if (w[i] > 0) return i;
        return 0;
    }

    /** The ids of the {@code k} largest values, largest first, lowest id first on ties. */
    static int[] topIndices(float[] z, int k) {
        Buffers b = new Buffers();
        int m = topIndices(z, z.length, k, b);
        return Arrays.copyOf(b.ids, m);
    }

    /** {@link #topIndices(float[], int)} over {@code z[0, n)} into {@code b.ids}; returns how many ({@code min(k, n)}). */
    private static int topIndices(float[] z, int n, int k, Buffers b) {
        long[] keys = b.keys(n);
        for (int i = 0; i < n; i++) keys[i] = ((long) ~sortable(z[i]) << 32) | i;
        int m;
        if (k < n / 8) {
            // partial selection: a bounded max-heap would be neater; a full sort of a prefix filter is simpler
            long[] best = b.best(k);
            int size = 0;
            for (int j = 0; j < n; j++) {
                long key = keys[j];
                if (size < k) {
                    best[size++] = key;
                    if (size == k) Arrays.sort(best, 0, k);
                } else if (key < best[k - 1]) {
                    int pos = Arrays.binarySearch(best, 0, k, key);
                    if (pos < 0) pos = -pos - 1;
                    System.arraycopy(best, pos, best, pos + 1, k - 1 - pos);
                    best[pos] = key;
                }
            }
            if (size < k) Arrays.sort(best, 0, size);
            keys = best;
            m = Math.min(k, size);
        } else {
            Arrays.sort(keys, 0, n);
            m = Math.min(k, n);
        }
        int[] out = b.ids(m);
        for (int i = 0; i < m; i++) out[i] = (int) keys[i];
        return m;
    }

    /** An int whose signed order is the float's order (NaN aside). */
    private static int sortable(float f) {
        int b = Float.floatToRawIntBits(f);
        return b ^ ((b >> 31) & 0x7FFFFFFF);
    }

    /** Log-softmax of the raw logits at {@code token}, with the {@code top} most likely alternatives. */
    public static TokenLogprob logprobs(float[] logits, int token, int top, int vocab) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[i]);
        double sum = 0;
        for (int i = 0; i < vocab; i++) sum += Math.exp(logits[i] - max);
        double lse = max + Math.log(sum);
        List<TokenLogprob.Alternative> alts = new ArrayList<>(top);
        if (top > 0) {
            for (int id : topIndices(logits.length == vocab ? logits : Arrays.copyOf(logits, vocab), top)) {
                alts.add(new TokenLogprob.Alternative(id, (float) (logits[id] - lse)));
            }
        }
        return new TokenLogprob(token, (float) (logits[token] - lse), List.copyOf(alts));
    }
}
