package dev.sluice.engine.convert;

import dev.sluice.engine.gguf.GGUFFile;
import dev.sluice.engine.gguf.GGUFWriter;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;

import java.nio.file.Path;
import java.util.List;

/**
 * Re-encodes a GGUF model's weight matrices as Q8_0 or Q4_0, like llama.cpp's
 * {@code llama-quantize} with a pure type (no k-quant mixes).
 *
 * <p>Every tensor of two or more dimensions whose rows are whole blocks is quantized (the token
 * embedding and output head included), from any type {@link dev.sluice.engine.tensor.Dequant}
 * reads; 1-D tensors (norms, biases, {@code rope_freqs}) and matrices whose rows are not whole
 * blocks are copied unchanged. All metadata is copied with its type; {@code general.file_type}
 * and {@code general.quantization_version} are updated. Data are streamed row by row.
 */
public final class GGUFQuantize {
    private GGUFQuantize() {}

    /** Target types {@link #quantize} accepts. */
    public static final List<GGMLType> TARGETS = List.of(GGMLType.Q8_0, GGMLType.Q4_0);

    public static void quantize(Path in, Path out, GGMLType type) {
        if (!TARGETS.contains(type)) throw new IllegalArgumentException("cannot quantize to " + type + " (supported: " + TARGETS + ")");
        if (in.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) throw new IllegalArgumentException("input and output are the same file: " + in);
        try (GGUFFile src = GGUFFile.open(in)) {
            GGUFWriter g = new GGUFWriter().copyMetadata(src);
            g.putUInt32("general.file_type", TensorEncoder.fileType(type));
            g.putUInt32("general.quantization_version", 2);
            for (Tensor t : src.tensors().values()) {
                boolean quantize = t.shape().length >= 2 && t.shape()[0] % type.blockSize == 0 && t.type().isSupported() && t.type() != type;
                if (quantize) g.addTensor(t.name(), type, t.shape(), TensorEncoder.encode(t, type, r -> r));
                else g.addTensor(t.name(), t.type(), t.shape(), t.data());
            }
            g.write(out);
        }
    }
}
