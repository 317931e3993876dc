package dev.sluice.engine.model;

import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.tensor.Dequant;
import dev.sluice.engine.tensor.Tensor;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * The weights of one model, whatever file format they came from (GGUF, a Hugging Face
 * safetensors directory, a llama2.c checkpoint), named as in GGUF (see {@link TensorNames}) and
 * laid out as llama.cpp expects them, with the exceptions recorded in {@link #config()}:
 * {@link ModelConfig#ropeNeox()} tells whether Q/K rows are in Hugging Face (NeoX, rotate-half)
 * order or in GGUF Llama's interleaved-pair order.
 *
 * <p>Tensor data are slices of memory-mapped files, never copies on the Java heap; they stay
 * valid until {@link #close()}. Implementations are thread-safe for reading.
 */
public interface ModelWeights extends AutoCloseable {

    /** The model's hyper-parameters, validated against the tensors by {@link ModelLoader}. */
    ModelConfig config();

    /** The tensor with GGUF name {@code ggufName}, if present. */
    Optional<Tensor> find(String ggufName);

    /** Every tensor, by GGUF name, in file order. */
    Map<String, Tensor> tensors();

    /**
     * The tensor with GGUF name {@code ggufName}.
     *
     * @throws ModelFormatException naming the file and the tensor when it is missing
     */
    default Tensor tensor(String ggufName) {
        return find(ggufName).orElseThrow(() -> ModelFormatException.of(source(), "missing tensor '" + ggufName + "'"));
    }

    /**
     * GGUF-style metadata: for a GGUF file its own metadata; for other formats the equivalent
     * keys ({@code general.architecture}, {@code <arch>.embedding_length}, ...) derived from the
     * configuration.
     */
    Map<String, Object> metadata();

    /** The file or directory the weights were loaded from. */
    Path source();

    /**
     * Per-dimension-pair RoPE frequency divisors ({@code head_dim / 2} values), or empty when the
     * model uses plain RoPE. Taken from the {@code rope_freqs.weight} tensor when present (what
     * llama.cpp writes for Llama 3.1-style scaling), else computed from
     * {@link ModelConfig#ropeScaling()} of type {@code llama3}. The forward pass uses
     * {@code theta_i = pos * ropeTheta^(-2i/headDim) / factors[i]}, as llama.cpp's
     * {@code ggml_rope_ext} does with its {@code freq_factors} argument.
     */
    default Optional<float[]> ropeFreqFactors() {
        Optional<Tensor> t = find(TensorNames.ROPE_FREQS);
        if (t.isPresent()) return Optional.of(Dequant.toFloats(t.get()));
        return Optional.ofNullable(RopeFreqs.llama3Factors(config()));
    }

    /** Unmaps the files; tensors must not be used afterwards. */
    @Override
    void close();
}
