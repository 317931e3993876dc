package dev.sluice.engine;

import java.nio.file.Path;

/**
 * A model file (GGUF, safetensors, llama2.c, config.json) is malformed, truncated, or uses a
 * feature Sluice does not support. The message always names the file and, where relevant, the
 * tensor or key, and lists what is supported.
 */
public class ModelFormatException extends RuntimeException {
    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }

    public static ModelFormatException of(Path file, String message) {
        return new ModelFormatException(file + ": " + message);
    }
}
