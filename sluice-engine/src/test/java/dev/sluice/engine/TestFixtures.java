package dev.sluice.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Locates the project's shared fixtures ({@code ../shared/fixtures} beside the checkout), by
 * walking up from the working directory, so tests work from a clone, a worktree or CI.
 * Override with {@code -Dsluice.fixtures=DIR}.
 */
public final class TestFixtures {
    private TestFixtures() {}

    /** The llama.cpp vocabularies in {@code tokenizers/} ({@code ggml-vocab-NAME.gguf} with {@code .inp}/{@code .out}). */
    public static final List<String> VOCABS = List.of("deepseek-llm", "gpt-2", "llama-spm", "phi-3");

    /**
     * The shared fixtures folder, or empty when none is found (tests then skip). An explicit
     * {@code -Dsluice.fixtures} that is not a directory is a configuration error, not a skip.
     * (sluice-cli's test {@code Fixtures} repeats this lookup: keep the two in step.)
     */
    public static Optional<Path> sharedFixtures() {
        String prop = System.getProperty("sluice.fixtures");
        if (prop != null) {
            Path p = Path.of(prop);
            if (!Files.isDirectory(p)) throw new IllegalStateException("-Dsluice.fixtures=" + prop + " is not a directory");
            return Optional.of(p);
        }
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("shared").resolve("fixtures");
            if (Files.isDirectory(candidate)) return Optional.of(candidate);
        }
        return Optional.empty();
    }

    /** A subfolder of the shared fixtures, e.g. {@code tokenizers}, if present. */
    public static Optional<Path> shared(String sub) {
        return sharedFixtures().map(p -> p.resolve(sub)).filter(Files::isDirectory);
    }
}
