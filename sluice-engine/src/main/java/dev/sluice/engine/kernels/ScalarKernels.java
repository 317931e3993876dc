package dev.sluice.engine.kernels;

import dev.sluice.engine.tensor.Dequant;
import dev.sluice.engine.tensor.Tensor;

/**
 * The reference kernels: plain Java loops that read like the equations, with no reassociation
 * tricks. A weight row is dequantized with {@link Dequant#row} and then dotted left to right, so
 * quantized dots are exactly {@code sum(dequant(w[i]) * x[i])} in float.
 *
 * <p>Work is still split across {@link Parallel} (rows of a matmul, (token, head) pairs of
 * attention) because each output element is computed by one thread in a fixed order, which keeps
 * results identical to a single-threaded run.
 */
public final class ScalarKernels implements Kernels {

    @Override
    public String name() {
        return "cpu-scalar";
    }

    @Override
    public void matmul(Tensor w, float[] x, float[] out, int n) {
        int rows = w.rows(), cols = w.cols();
        checkMatmul(w, x, out, n);
        Parallel.forRange(rows, 16, (from, to) -> {
            float[] row = Scratch.floats(Scratch.ROW, cols);
            for (int r = from; r < to; r++) {
                Dequant.row(w, r, row, 0);
                for (int t = 0; t < n; t++) out[t * rows + r] = dot(row, 0, x, t * cols, cols);
            }
        });
    }

    static void checkMatmul(Tensor w, float[] x, float[] out, int n) {
        long cols = w.cols(), rows = w.rows();
        if (x.length < n * cols) throw new IllegalArgumentException("x holds " + x.length + " floats, need " + n + " x " + cols + " for " + w);
        if (out.length < n * rows) throw new IllegalArgumentException("out holds " + out.length + " floats, need " + n + " x " + rows + " for " + w);
    }

    @Override
    public float dot(Tensor w, int row, float[] x, int xOff) {
        float[] tmp = new float[w.cols()];
        Dequant.row(w, row, tmp, 0);
        return dot(tmp, 0, x, xOff, tmp.length);
    }

    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    @Override
    public void rmsnorm(float[] out, float[] x, float[] weight, int size, int n, float eps) {
        for (int t = 0; t < n; t++) {
            int o = t * size;
            float ss = 0f;
            for (int i = 0; i < size; i++) ss += x[o + i] * x[o + i];
            float inv = (float) (1.0 / Math.sqrt(ss / size + eps));
            for (int i = 0; i < size; i++) out[o + i] = weight[i] * (x[o + i] * inv);
        }
    }

    @Override
    public void rope(float[] x, int off, int nHeads, int pos, RopeTable table) {
        int headDim = table.headDim, half = headDim / 2;
        int base = pos * half;
        for (int h = 0; h < nHeads; h++) {
            int o = off + h * headDim;
            for (int i = 0; i < half; i++) {
                float c = table.cos[base + i], s = table.sin[base + i];
                int i0 = table.neox ? o + i : o + 2 * i;
                int i1 = table.neox ? o + i + half : o + 2 * i + 1;
                float x0 = x[i0], x1 = x[i1];
                x[i0] = x0 * c - x1 * s;
                x[i1] = x0 * s + x1 * c;
            }
        }
    }

    @Override
    public void softmax(float[] x, int off, int size) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < size; i++) max = Math.max(max, x[off + i]);
        float sum = 0f;
        for (int i = 0; i < size; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (int i = 0; i < size; i++) x[off + i] *= inv;
    }

    @Override
    public void swiglu(float[] gate, float[] up, int size) {
        for (int i = 0; i < size; i++) {
            float g = gate[i];
            gate[i] = g / (1f + (float) Math.exp(-g)) * up[i];
        }
    }

    @Override
    public void attention(float[] q, float[] out, int nTokens, int startPos, float[] k, float[] v,
                          int nHeads, int nKvHeads, int headDim, int window) {
        int group = nHeads / nKvHeads, qDim = nHeads * headDim, kvDim = nKvHeads * headDim;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        Parallel.forRange(nTokens * nHeads, 1, (from, to) -> {
            float[] att = Scratch.floats(Scratch.SCORES, startPos + nTokens);
            for (int th = from; th < to; th++) {
                int t = th / nHeads, h = th % nHeads;
                int pos = startPos + t;
                int first = window > 0 ? Math.max(0, pos - window + 1) : 0;
                int qo = t * qDim + h * headDim, kvo = (h / group) * headDim;
                int len = pos - first + 1;
                for (int j = first; j <= pos; j++) {
                    att[j - first] = dot(q, qo, k, j * kvDim + kvo, headDim) * scale;
                }
                softmax(att, 0, len);
                int oo = t * qDim + h * headDim;
                for (int d = 0; d < headDim; d++) out[oo + d] = 0f;
                for (int j = first; j <= pos; j++) {
                    float a = att[j - first];
                    int vo = j * kvDim + kvo;
                    for (int d = 0; d < headDim; d++) out[oo + d] += a * v[vo + d];
                }
            }
        });
    }
}
