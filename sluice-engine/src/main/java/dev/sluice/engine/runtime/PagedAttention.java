package dev.sluice.engine.runtime;

import dev.sluice.engine.kernels.Kernels;
import dev.sluice.engine.kernels.Parallel;
import dev.sluice.engine.kernels.Scratch;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * Causal grouped-query attention for every token of a batched step, each reading its own
 * sequence's keys and values through the sequence's block table (no gather into a contiguous
 * copy). For token row {@code r} at position {@code p} of sequence {@code s}, query head
 * {@code h} reads kv head {@code h / (nHeads / nKvHeads)}:
 *
 * <pre>
 * score_j = dot(q[r, h], K_s[j, kvh]) / sqrt(headDim)     for first <= j <= p (first = p - window + 1 with a window)
 * out[r, h] = sum_j softmax(score)_j * V_s[j, kvh]
 * </pre>
 *
 * <p>Design note. Work is split over units of the whole step in one {@link Parallel} range: a unit
 * is one row and one kv head with the query heads of its group ({@code nHeads / nKvHeads}), so the
 * heads that read the same keys and values do so together. The vector code, per unit:
 *
 * <ul>
 *   <li><b>Scores, 16 positions per vector.</b> Keys are stored transposed in each block
 *       ({@link PagedKVCache}: element {@code d} of consecutive positions is contiguous), so for a
 *       chunk of up to {@code L} positions of one block, {@code score_g = sum_d q[g][d] * K[d][chunk]}
 *       is one FMA per {@code d} into one accumulator per head, all heads sharing the key load: no
 *       lane reduction per position (a {@code reduceLanes} per score used to cost more than the
 *       arithmetic). Chunks end at multiples of {@code L} within the block (aligned loads when the
 *       block size is a multiple of {@code L}); a partial chunk (window start, last position, small
 *       blocks) uses masked loads and stores. Up to 8 heads per pass over the keys (8 accumulators):
 *       a group of fewer heads repeats its last head in the spare accumulators, which costs little
 *       since fewer than 8 FMA chains would leave the FMA units waiting on latency anyway; more
 *       heads take several passes.</li>
 *   <li><b>Softmax</b> per head ({@link Kernels#softmax}).</li>
 *   <li><b>Weighted sum, register tiles of 4 heads x 4 vectors.</b> Per position the value row's
 *       4 vectors are loaded once and FMAed into the 16 accumulators of up to 4 heads (4 vectors of
 *       the head per pass; a {@code headDim} not a multiple of {@code 4L} ends with 1-vector
 *       passes), so a value row is read {@code ceil(heads / 4)} times per pass instead of once per
 *       head.</li>
 * </ul>
 *
 * <p>Batch invariance: every output lane is one fixed-order computation (scores: an FMA chain over
 * {@code d} in order; weighted sum: an FMA chain over the positions in order) that depends only on
 * its own query, its sequence's keys and values and its position, not on the chunk or tile it falls
 * in, nor on which other heads share a pass. So a row's result does not depend on the rest of the
 * batch, and a unit may be split into fewer heads when the step has fewer (row, kv head) pairs than
 * threads (a lone decode row) without changing a bit. A {@code headDim} that is not a multiple of
 * {@code L} takes the plain scalar twin ({@code vector == false}, also used with the scalar
 * backend); tests compare the two and the contiguous {@link Kernels#attention}.
 */
final class PagedAttention {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Heads per pass over the keys (score accumulators). */
    private static final int SCORE_HEADS = 8;
    /** Heads per pass over the values (weighted-sum tile rows; each holds 4 vectors of the head). */
    private static final int SUM_HEADS = 4;

    private PagedAttention() {}

    /**
     * Attention of the {@code n} rows into {@code out} (laid out as {@code q}). A unit is one (row, kv head)
     * pair with all its query heads, unless the step has fewer pairs than {@link Parallel#THREADS} (a lone
     * decode row): then each pair's heads are split into up to {@code THREADS / pairs} units, so that every
     * thread has work.
     *
     * @param rowSeq    sequence index of each of the {@code n} rows
     * @param rowPos    position of each row (its keys and values already written)
     * @param keys      one layer's keys ({@link PagedKVCache.Sequence#writeKeys}, transposed per block)
     * @param values    one layer's values ({@link PagedKVCache.Sequence#write})
     * @param blockSize positions per block of the pool
     * @param maxLen    longest attended span (positions), for the score scratch
     */
    static void run(float[] q, float[] out, int n, int[] rowSeq, int[] rowPos, PagedKVCache.Sequence[] seqs, float[] keys, float[] values,
                    int blockSize, int nHeads, int nKvHeads, int headDim, int window, int maxLen, Kernels kernels, boolean vector) {
        int group = nHeads / nKvHeads, pairs = n * nKvHeads;
        int parts = pairs >= Parallel.THREADS ? 1 : Math.min(group, (Parallel.THREADS + pairs - 1) / pairs);
        run(q, out, n, rowSeq, rowPos, seqs, keys, values, blockSize, nHeads, nKvHeads, headDim, window, maxLen, kernels, vector,
                (group + parts - 1) / parts);
    }

    /** As above with units of at most {@code heads} query heads of one group (bit-identical results for any {@code heads}). */
    static void run(float[] q, float[] out, int n, int[] rowSeq, int[] rowPos, PagedKVCache.Sequence[] seqs, float[] keys, float[] values,
                    int blockSize, int nHeads, int nKvHeads, int headDim, int window, int maxLen, Kernels kernels, boolean vector, int heads) {
        int group = nHeads / nKvHeads, qDim = nHeads * headDim, parts = (group + heads - 1) / heads;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        boolean useVector = vector && headDim % L == 0;
        Parallel.forRange(n * nKvHeads * parts, 1, (from, to) -> {
            float[] att = Scratch.floats(Scratch.SCORES, heads * maxLen + L);
            int[] offs = Scratch.ints(Scratch.KV_OFFSETS, maxLen);
            int lastRow = -1;
            for (int u = from; u < to; u++) {
                int r = u / (nKvHeads * parts), kvh = u / parts % nKvHeads, h0 = u % parts * heads, w = Math.min(heads, group - h0);
                PagedKVCache.Sequence s = seqs[rowSeq[r]];
                int pos = rowPos[r];
                int first = window > 0 ? Math.max(0, pos - window + 1) : 0;
                int len = pos - first + 1;
                // the value rows' offsets, once per row (the units of a row are consecutive)
                if (r != lastRow) {
                    s.offsets(first, pos, offs);
                    lastRow = r;
                }
                // the unit's heads kvh * group + h0 .. + w - 1: rows of q and out from qo; score rows of len from 0
                int qo = r * qDim + (kvh * group + h0) * headDim, kv = kvh * headDim;
                if (useVector) {
                    for (int g = 0; g < w; g += SCORE_HEADS) {
                        scores(q, qo + g * headDim, Math.min(SCORE_HEADS, w - g), headDim, keys, s, kv * blockSize, blockSize, first, pos,
                                scale, att, g * len, len);
                    }
                } else {
                    for (int g = 0; g < w; g++) scoresScalar(q, qo + g * headDim, headDim, keys, s, kv * blockSize, blockSize, first, pos, scale, att, g * len);
                }
                for (int g = 0; g < w; g++) kernels.softmax(att, g * len, len);
                if (useVector) {
                    for (int g = 0; g < w; g += SUM_HEADS) {
                        int wg = Math.min(SUM_HEADS, w - g), d = 0;
                        for (; d + 4 * L <= headDim; d += 4 * L) weightedSum4x4(att, g * len, len, wg, len, values, offs, kv + d, out, qo + g * headDim + d, headDim);
                        for (; d < headDim; d += L) weightedSum4x1(att, g * len, len, wg, len, values, offs, kv + d, out, qo + g * headDim + d, headDim);
                    }
                } else {
                    for (int g = 0; g < w; g++) {
                        for (int d = 0; d < headDim; d++) {
                            float sum = 0f;
                            for (int j = 0; j < len; j++) sum += att[g * len + j] * values[offs[j] + kv + d];
                            out[qo + g * headDim + d] = sum;
                        }
                    }
                }
            }
        });
    }

    /**
     * {@code att[a + g * stride + j - first] = scale * sum_d q[qo + g * headDim + d] * K[j][e0 + d]} for
     * {@code first <= j <= last} and the {@code w <= 8} heads {@code g}, where {@code K[j][e]} is element
     * {@code e} of position {@code j}'s key and {@code e0 = kvCol / blockSize}: per chunk of up to {@code L}
     * positions within a block, eight accumulators (heads past {@code w} repeat head {@code w - 1} and
     * are not stored), one key load per {@code d} shared by all of them, {@code d} in order.
     *
     * @param kvCol offset of the kv head's first key element within a block ({@code kvh * headDim * blockSize})
     */
    private static void scores(float[] q, int qo, int w, int headDim, float[] keys, PagedKVCache.Sequence s, int kvCol, int blockSize,
                               int first, int last, float scale, float[] att, int a, int stride) {
        int q1 = qo + Math.min(1, w - 1) * headDim, q2 = qo + Math.min(2, w - 1) * headDim, q3 = qo + Math.min(3, w - 1) * headDim;
        int q4 = qo + Math.min(4, w - 1) * headDim, q5 = qo + Math.min(5, w - 1) * headDim, q6 = qo + Math.min(6, w - 1) * headDim;
        int q7 = qo + Math.min(7, w - 1) * headDim;
        for (int j = first; j <= last; ) {
            int b = j / blockSize, i = j - b * blockSize, end = Math.min(last, (b + 1) * blockSize - 1);
            int kb = s.blockOffset(b) + kvCol;
            while (j <= end) {
                int c = Math.min(end - j + 1, L - i % L);
                VectorMask<Float> m = F.indexInRange(0, c);
                FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F), s2 = FloatVector.zero(F), s3 = FloatVector.zero(F);
                FloatVector s4 = FloatVector.zero(F), s5 = FloatVector.zero(F), s6 = FloatVector.zero(F), s7 = FloatVector.zero(F);
                for (int d = 0, k = kb + i; d < headDim; d++, k += blockSize) {
                    FloatVector kd = FloatVector.fromArray(F, keys, k, m);
                    s0 = kd.fma(FloatVector.broadcast(F, q[qo + d]), s0);
                    s1 = kd.fma(FloatVector.broadcast(F, q[q1 + d]), s1);
                    s2 = kd.fma(FloatVector.broadcast(F, q[q2 + d]), s2);
                    s3 = kd.fma(FloatVector.broadcast(F, q[q3 + d]), s3);
                    s4 = kd.fma(FloatVector.broadcast(F, q[q4 + d]), s4);
                    s5 = kd.fma(FloatVector.broadcast(F, q[q5 + d]), s5);
                    s6 = kd.fma(FloatVector.broadcast(F, q[q6 + d]), s6);
                    s7 = kd.fma(FloatVector.broadcast(F, q[q7 + d]), s7);
                }
                int o = a + j - first;
                s0.mul(scale).intoArray(att, o, m);
                if (w > 1) s1.mul(scale).intoArray(att, o + stride, m);
                if (w > 2) s2.mul(scale).intoArray(att, o + 2 * stride, m);
                if (w > 3) s3.mul(scale).intoArray(att, o + 3 * stride, m);
                if (w > 4) s4.mul(scale).intoArray(att, o + 4 * stride, m);
                if (w > 5) s5.mul(scale).intoArray(att, o + 5 * stride, m);
                if (w > 6) s6.mul(scale).intoArray(att, o + 6 * stride, m);
                if (w > 7) s7.mul(scale).intoArray(att, o + 7 * stride, m);
                j += c;
                i += c;
            }
        }
    }

    /** The scalar twin of {@link #scores} for one head: {@code att[a + j - first]}, {@code d} in order per position. */
    private static void scoresScalar(float[] q, int qo, int headDim, float[] keys, PagedKVCache.Sequence s, int kvCol, int blockSize,
                                     int first, int last, float scale, float[] att, int a) {
        for (int j = first; j <= last; ) {
            int b = j / blockSize, end = Math.min(last, (b + 1) * blockSize - 1);
            for (int k = s.blockOffset(b) + kvCol + j - b * blockSize; j <= end; j++, k++) {
                float sum = 0f;
                for (int d = 0; d < headDim; d++) sum += q[qo + d] * keys[k + d * blockSize];
                att[a + j - first] = sum * scale;
            }
        }
    }

    /**
     * {@code out[o + g * headDim + v * L ..] = sum_j att[a + g * stride + j] * values[offs[j] + vo + v * L ..]}
     * for the {@code w <= 4} heads {@code g} and the 4 vectors {@code v}: per position the value row's 4
     * vectors are loaded once and feed 16 accumulators, each lane summed over {@code j} in order.
     */
    private static void weightedSum4x4(float[] att, int a, int stride, int w, int len, float[] values, int[] offs, int vo,
                                       float[] out, int o, int headDim) {
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F), a03 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F), a12 = FloatVector.zero(F), a13 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a22 = FloatVector.zero(F), a23 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F), a32 = FloatVector.zero(F), a33 = FloatVector.zero(F);
        for (int j = 0; j < len; j++) {
            int r = offs[j] + vo;
            FloatVector v0 = FloatVector.fromArray(F, values, r), v1 = FloatVector.fromArray(F, values, r + L);
            FloatVector v2 = FloatVector.fromArray(F, values, r + 2 * L), v3 = FloatVector.fromArray(F, values, r + 3 * L);
            FloatVector p = FloatVector.broadcast(F, att[a + j]);
            a00 = v0.fma(p, a00);
            a01 = v1.fma(p, a01);
            a02 = v2.fma(p, a02);
            a03 = v3.fma(p, a03);
            if (w > 1) {
                p = FloatVector.broadcast(F, att[a + stride + j]);
                a10 = v0.fma(p, a10);
                a11 = v1.fma(p, a11);
                a12 = v2.fma(p, a12);
                a13 = v3.fma(p, a13);
            }
            if (w > 2) {
                p = FloatVector.broadcast(F, att[a + 2 * stride + j]);
                a20 = v0.fma(p, a20);
                a21 = v1.fma(p, a21);
                a22 = v2.fma(p, a22);
                a23 = v3.fma(p, a23);
            }
            if (w > 3) {
                p = FloatVector.broadcast(F, att[a + 3 * stride + j]);
                a30 = v0.fma(p, a30);
                a31 = v1.fma(p, a31);
                a32 = v2.fma(p, a32);
                a33 = v3.fma(p, a33);
            }
        }
        store4(a00, a01, a02, a03, out, o);
        if (w > 1) store4(a10, a11, a12, a13, out, o + headDim);
        if (w > 2) store4(a20, a21, a22, a23, out, o + 2 * headDim);
        if (w > 3) store4(a30, a31, a32, a33, out, o + 3 * headDim);
    }

    private static void store4(FloatVector x0, FloatVector x1, FloatVector x2, FloatVector x3, float[] out, int o) {
        x0.intoArray(out, o);
        x1.intoArray(out, o + L);
        x2.intoArray(out, o + 2 * L);
        x3.intoArray(out, o + 3 * L);
    }

    /** {@link #weightedSum4x4} for one vector of the head ({@code out[o + g * headDim ..]}, {@code L} lanes). */
    private static void weightedSum4x1(float[] att, int a, int stride, int w, int len, float[] values, int[] offs, int vo,
                                       float[] out, int o, int headDim) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        for (int j = 0; j < len; j++) {
            FloatVector v = FloatVector.fromArray(F, values, offs[j] + vo);
            a0 = v.fma(FloatVector.broadcast(F, att[a + j]), a0);
            if (w > 1) a1 = v.fma(FloatVector.broadcast(F, att[a + stride + j]), a1);
            if (w > 2) a2 = v.fma(FloatVector.broadcast(F, att[a + 2 * stride + j]), a2);
            if (w > 3) a3 = v.fma(FloatVector.broadcast(F, att[a + 3 * stride + j]), a3);
        }
        a0.intoArray(out, o);
        if (w > 1) a1.intoArray(out, o + headDim);
        if (w > 2) a2.intoArray(out, o + 2 * headDim);
        if (w > 3) a3.intoArray(out, o + 3 * headDim);
    }
}
