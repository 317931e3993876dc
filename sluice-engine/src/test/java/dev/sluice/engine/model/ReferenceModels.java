package dev.sluice.engine.model;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import java.util.Optional;

/** Locates the tiny reference checkpoints in {@code src/test/resources/reference/<name>/}. */
public final class ReferenceModels {
    private ReferenceModels() {}

    public static final String[] NAMES = {"llama", "llama-bf16", "mistral", "qwen2", "qwen2-sharded", "qwen3"};

    public static Optional<Path> dir(String name) {
        URL u = ReferenceModels.class.getResource("/reference/" + name + "/config.json");
        if (u == null) return Optional.empty();
        try {
            return Optional.of(Path.of(u.toURI()).getParent());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
