package dev.sluice.engine.model;

/**
 * Llama 3.1-style RoPE frequency scaling, computed as llama.cpp's {@code convert_hf_to_gguf.py}
 * does when it writes the {@code rope_freqs.weight} tensor (and as transformers'
 * {@code _compute_llama3_parameters}): for each pair {@code i} with base frequency
 * {@code f = ropeTheta^(-2i/headDim)} and wavelength {@code w = 2π/f}:
 * factor {@code 1} when {@code w < ctx0/highFreqFactor}, {@code factor} when
 * {@code w > ctx0/lowFreqFactor}, else {@code 1 / ((1 - s)/factor + s)} with
 * {@code s = (ctx0/w - lowFreqFactor) / (highFreqFactor - lowFreqFactor)}.
 * The rotation angle is divided by the factor.
 */
public final class RopeFreqs {
    private RopeFreqs() {}

    /** The {@code headDim / 2} divisors for {@code c}, or null when it has no llama3 scaling. */
    public static float[] llama3Factors(ModelConfig c) {
        ModelConfig.RopeScaling s = c.ropeScaling();
        if (s == null || !"llama3".equals(s.type())) return null;
        int dim = c.headDim();
        float[] out = new float[dim / 2];
        // float32 throughout, as the torch tensors in llama.cpp's converter
        float ctx0 = s.originalContextLength();
        float lowWavelen = ctx0 / s.lowFreqFactor();
        float highWavelen = ctx0 / s.highFreqFactor();
        for (int i = 0; i < dim / 2; i++) {
            float freq = 1.0f / (float) Math.pow(c.ropeTheta(), (float) (2 * i) / dim);
            float wavelen = (float) (2 * Math.PI) / freq;
            if (wavelen < highWavelen) {
                out[i] = 1f;
            } else if (wavelen > lowWavelen) {
                out[i] = s.factor();
            } else {
                float smooth = (ctx0 / wavelen - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
                out[i] = 1 / ((1 - smooth) / s.factor() + smooth);
            }
        }
        return out;
    }
}
