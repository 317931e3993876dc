package dev.sluice.engine.kernels;

import dev.sluice.engine.model.ModelConfig;

/**
 * Precomputed rotary position embedding (RoPE) angles: {@code cos} and {@code sin} of
 * {@code pos * invFreq[i]} for every position below {@code maxPositions} and every rotated pair
 * {@code i < headDim / 2}.
 *
 * <p>{@code invFreq[i] = ropeTheta^(-2i / headDim)}, then adjusted, in this order of precedence:
 * <ol>
 *   <li>per-dimension divisors {@code freqFactors} (GGUF {@code rope_freqs.weight}, as llama.cpp:
 *       {@code theta = pos * invFreq[i] / freqFactors[i]});</li>
 *   <li>otherwise {@code rope_scaling.type = llama3}: Hugging Face's
 *       {@code _compute_llama3_parameters} (long wavelengths divided by {@code factor}, short ones
 *       kept, a smooth blend in between);</li>
 *   <li>{@code type = linear}: every frequency divided by {@code factor}.</li>
 * </ol>
 * Angles are computed in double and rounded once, which stays within a float ulp of PyTorch's
 * float32 table for the positions the reference tests cover.
 *
 * <p>{@code neox} selects the pairing: NeoX / Hugging Face {@code rotate_half} rotates
 * {@code (x[i], x[i + headDim/2])}; the original (GGUF Llama) layout rotates {@code (x[2i], x[2i+1])}.
 * Immutable and thread-safe.
 */
public final class RopeTable {
    public final int headDim;
    public final int maxPositions;
    public final boolean neox;
    /** {@code [pos * headDim/2 + i]} */
    final float[] cos, sin;
    private final double[] invFreq;

    public RopeTable(int headDim, int maxPositions, double theta, boolean neox, ModelConfig.RopeScaling scaling, float[] freqFactors) {
        if (headDim % 2 != 0) throw new IllegalArgumentException("headDim must be even, got " + headDim);
        if (freqFactors != null && freqFactors.length < headDim / 2) {
            throw new IllegalArgumentException("rope_freqs has " + freqFactors.length + " entries, need headDim/2 = " + headDim / 2);
        }
        this.headDim = headDim;
        this.maxPositions = maxPositions;
        this.neox = neox;
        int half = headDim / 2;
        invFreq = new double[half];
        for (int i = 0; i < half; i++) {
            // as PyTorch: base ** (arange(0, dim, 2).float() / dim), inverted
            double f = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
            if (freqFactors != null) {
                f = f / freqFactors[i];
            } else if (scaling != null && "llama3".equals(scaling.type())) {
                f = llama3(f, scaling);
            } else if (scaling != null && "linear".equals(scaling.type())) {
                f = f / scaling.factor();
            }
            invFreq[i] = f;
        }
        cos = new float[maxPositions * half];
        sin = new float[maxPositions * half];
        for (int p = 0; p < maxPositions; p++) {
            for (int i = 0; i < half; i++) {
                // float32 product as PyTorch does: position (float) * inv_freq (float)
                float angle = (float) p * (float) invFreq[i];
                cos[p * half + i] = (float) Math.cos(angle);
                sin[p * half + i] = (float) Math.sin(angle);
            }
        }
    }

    /** Hugging Face {@code _compute_llama3_parameters}, for one inverse frequency. */
    static double llama3(double invFreq, ModelConfig.RopeScaling s) {
        double factor = s.factor();
        double lowFreqWavelen = s.originalContextLength() / (double) s.lowFreqFactor();
        double highFreqWavelen = s.originalContextLength() / (double) s.highFreqFactor();
        double wavelen = 2 * Math.PI / invFreq;
        if (wavelen < highFreqWavelen) return invFreq;
        if (wavelen > lowFreqWavelen) return invFreq / factor;
        double smooth = (s.originalContextLength() / wavelen - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
        return (1 - smooth) * invFreq / factor + smooth * invFreq;
    }

    /** The inverse frequency of pair {@code i}, after scaling. */
    public double invFreq(int i) {
        return invFreq[i];
    }

    public float cos(int pos, int i) {
        return cos[pos * (headDim / 2) + i];
    }

    public float sin(int pos, int i) {
        return sin[pos * (headDim / 2) + i];
    }
}
