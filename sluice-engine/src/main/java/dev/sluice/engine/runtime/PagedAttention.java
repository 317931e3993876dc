package dev.sluice.engine.runtime;

import dev.sluice.engine.kernels.Kernels;
import dev.sluice.engine.kernels.Parallel;
import dev.sluice.engine.kernels.Scratch;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
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
 * <p>Design note: work is split over (row, head) pairs of the whole step in one {@link Parallel}
 * range; each pair is computed by one thread in a fixed order that depends only on its own
 * position and sequence, so a row's result does not depend on the rest of the batch. The vector
 * code keeps a plain scalar twin ({@code vector == false}, used with the scalar backend); tests
 * compare the two and the contiguous {@link Kernels#attention}.
 */
final class PagedAttention {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();

    private PagedAttention() {}

    /**
     * @param rowSeq  sequence index of each of the {@code n} rows
     * @param rowPos  position of each row (its keys and values already written)
     * @param maxLen  longest attended span (positions), for the score scratch
     */
    static void run(float[] q, float[] out, int n, int[] rowSeq, int[] rowPos, PagedKVCache.Sequence[] seqs, float[] keys, float[] values,
                    int nHeads, int nKvHeads, int headDim, int window, int maxLen, Kernels kernels, boolean vector) {
        int group = nHeads / nKvHeads, qDim = nHeads * headDim;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        boolean useVector = vector && headDim % L == 0;
        Parallel.forRange(n * nHeads, 1, (from, to) -> {
            float[] att = Scratch.floats(Scratch.SCORES, maxLen);
            int[] offs = Scratch.ints(Scratch.KV_OFFSETS, maxLen);
            int lastRow = -1;
            for (int rh = from; rh < to; rh++) {
                int r = rh / nHeads, h = rh % nHeads;
                PagedKVCache.Sequence s = seqs[rowSeq[r]];
                int pos = rowPos[r];
                int first = window > 0 ? Math.max(0, pos - window + 1) : 0;
                int len = pos - first + 1;
                // the positions' offsets, once per row (the heads of a row are consecutive pairs)
                if (r != lastRow) {
                    s.offsets(first, pos, offs);
                    lastRow = r;
                }
                int qo = r * qDim + h * headDim, kvo = (h / group) * headDim;
                for (int j = 0; j < len; j++) {
                    int ko = offs[j] + kvo;
                    att[j] = (useVector ? dotVector(q, qo, keys, ko, headDim) : dotScalar(q, qo, keys, ko, headDim)) * scale;
                }
                kernels.softmax(att, 0, len);
                if (useVector) {
                    weightedSum(att, len, values, offs, kvo, headDim, out, qo);
                } else {
                    for (int d = 0; d < headDim; d++) {
                        float sum = 0f;
                        for (int j = 0; j < len; j++) sum += att[j] * values[offs[j] + kvo + d];
                        out[qo + d] = sum;
                    }
                }
            }
        });
    }

    /**
     * {@code out[o + d] = sum_j p[j] * values[offs[j] + kvo + d]} for {@code d < headDim} (a multiple of
     * {@code L}), each lane summed over {@code j} in order: up to four vectors of {@code d} per pass
     * over the positions, so that four independent FMA chains hide the FMA latency (one chain per
     * vector was latency-bound). The per-lane order is the same whatever the grouping.
     */
    static void weightedSum(float[] p, int len, float[] values, int[] offs, int kvo, int headDim, float[] out, int o) {
        int d = 0;
        for (; d + 4 * L <= headDim; d += 4 * L) {
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            for (int j = 0; j < len; j++) {
                FloatVector pj = FloatVector.broadcast(F, p[j]);
                int vo = offs[j] + kvo + d;
                a0 = FloatVector.fromArray(F, values, vo).fma(pj, a0);
                a1 = FloatVector.fromArray(F, values, vo + L).fma(pj, a1);
                a2 = FloatVector.fromArray(F, values, vo + 2 * L).fma(pj, a2);
                a3 = FloatVector.fromArray(F, values, vo + 3 * L).fma(pj, a3);
            }
            a0.intoArray(out, o + d);
            a1.intoArray(out, o + d + L);
            a2.intoArray(out, o + d + 2 * L);
            a3.intoArray(out, o + d + 3 * L);
        }
        for (; d < headDim; d += L) {
            FloatVector acc = FloatVector.zero(F);
            for (int j = 0; j < len; j++) acc = FloatVector.fromArray(F, values, offs[j] + kvo + d).fma(FloatVector.broadcast(F, p[j]), acc);
            acc.intoArray(out, o + d);
        }
    }

    static float dotScalar(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    static float dotVector(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int i = 0; i < n; i += L) acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc);
        return acc.reduceLanes(VectorOperators.ADD);
    }
}
