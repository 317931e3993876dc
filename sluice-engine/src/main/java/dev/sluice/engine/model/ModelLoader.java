package dev.sluice.engine.model;

import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.gguf.GGUFFile;
import dev.sluice.engine.llama2c.Llama2cCheckpoint;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Opens a model from a path, whatever its format, and checks that its tensors match its
 * configuration.
 *
 * <p>Detection: a file starting with the {@code GGUF} magic is GGUF; a directory with
 * {@code config.json} (or a {@code .safetensors} file inside one) is a Hugging Face checkpoint;
 * a directory holding exactly one {@code .gguf} file is that file; any other file is tried as a
 * llama.2c checkpoint ({@code .bin}). Anything else raises {@link ModelFormatException} listing
 * the supported formats.
 *
 * <p>Validation: every tensor the forward pass needs ({@link TensorNames#expectedShapes}) must
 * exist with exactly the expected ggml shape, have a type in {@link GGMLType#SUPPORTED}, and
 * (for quantized types) rows that are whole blocks. All problems are collected into one
 * {@link ModelFormatException} naming the file, so a bad conversion is diagnosed in one go.
 */
public final class ModelLoader {
    private ModelLoader() {}

    /** What {@link #load} accepts, for error messages and docs. */
    public static final String SUPPORTED_FORMATS =
            "GGUF v2/v3 file, Hugging Face directory (config.json + *.safetensors), llama2.c checkpoint (.bin)";

    /** At most this many problems are listed in one validation error. */
    static final int MAX_LISTED_PROBLEMS = 20;

    /** Opens and validates the model at {@code path}. The caller closes the result. */
    public static ModelWeights load(Path path) {
        ModelWeights w = open(path);
        try {
            validate(w);
            return w;
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    /** Opens without validating the tensors (for tools that inspect broken files). */
    public static ModelWeights open(Path path) {
        if (!Files.exists(path)) throw ModelFormatException.of(path, "no such file or directory");
        if (Files.isDirectory(path)) {
            if (Files.isRegularFile(path.resolve("config.json"))) return new HfModelWeights(path);
            List<Path> ggufs;
            try (Stream<Path> s = Files.list(path)) {
                ggufs = s.filter(p -> p.getFileName().toString().endsWith(".gguf")).toList();
            } catch (IOException e) {
                throw new ModelFormatException(path + ": cannot list directory: " + e.getMessage(), e);
            }
            if (ggufs.size() == 1) return open(ggufs.getFirst());
            throw ModelFormatException.of(path, "directory has no config.json and " + ggufs.size() + " .gguf files (supported: " + SUPPORTED_FORMATS + ")");
        }
        if (isGguf(path)) return new GGUFModelWeights(GGUFFile.open(path));
        if (path.getFileName().toString().endsWith(".safetensors")) {
            Path dir = path.toAbsolutePath().getParent();
            if (dir != null && Files.isRegularFile(dir.resolve("config.json"))) return new HfModelWeights(dir);
            throw ModelFormatException.of(path, "a safetensors file needs a config.json beside it");
        }
        try {
            return Llama2cCheckpoint.open(path);
        } catch (ModelFormatException e) {
            if (path.getFileName().toString().endsWith(".bin")) throw e;
            throw ModelFormatException.of(path, "unrecognized model format (supported: " + SUPPORTED_FORMATS + ")");
        }
    }

    private static boolean isGguf(Path path) {
        try (InputStream in = Files.newInputStream(path)) {
            byte[] b = in.readNBytes(4);
            return b.length == 4 && b[0] == 'G' && b[1] == 'G' && b[2] == 'U' && b[3] == 'F';
        } catch (IOException e) {
            throw new ModelFormatException(path + ": cannot read: " + e.getMessage(), e);
        }
    }

    /**
     * Checks every expected tensor's presence, shape and type against {@code w.config()}.
     *
     * @throws ModelFormatException listing every mismatch (up to {@value #MAX_LISTED_PROBLEMS})
     */
    public static void validate(ModelWeights w) {
        ModelConfig c = w.config();
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, long[]> e : TensorNames.expectedShapes(c).entrySet()) {
            var t = w.find(e.getKey());
            if (t.isEmpty()) {
                problems.add("missing tensor '" + e.getKey() + "' (expected shape " + Arrays.toString(e.getValue()) + ")");
                continue;
            }
            checkTensor(t.get(), e.getValue(), problems);
        }
        w.find(TensorNames.ROPE_FREQS).ifPresent(t -> checkTensor(t, new long[] {c.headDim() / 2}, problems));
        if (!problems.isEmpty()) {
            int n = problems.size();
            String list = String.join("; ", problems.subList(0, Math.min(n, MAX_LISTED_PROBLEMS)));
            if (n > MAX_LISTED_PROBLEMS) list += "; ... and " + (n - MAX_LISTED_PROBLEMS) + " more";
            throw ModelFormatException.of(w.source(), "tensors do not match the " + c.architecture() + " configuration (n_embd=" + c.nEmbd()
                    + ", n_layers=" + c.nLayers() + ", n_heads=" + c.nHeads() + ", n_kv_heads=" + c.nKvHeads() + ", head_dim=" + c.headDim()
                    + ", n_ff=" + c.nFf() + ", vocab=" + c.vocabSize() + "): " + list);
        }
    }

    private static void checkTensor(Tensor t, long[] expected, List<String> problems) {
        if (!Arrays.equals(t.shape(), expected)) {
            problems.add("tensor '" + t.name() + "' has shape " + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(expected));
        }
        if (!t.type().isSupported()) {
            problems.add("tensor '" + t.name() + "' has type " + t.type() + " (supported: " + GGMLType.supportedList() + ")");
        } else if (t.shape()[0] % t.type().blockSize != 0) {
            problems.add("tensor '" + t.name() + "' rows of " + t.shape()[0] + " are not whole " + t.type() + " blocks of " + t.type().blockSize);
        }
    }
}
