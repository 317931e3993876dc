package dev.sluice.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Locates the project's shared fixtures ({@code ../shared/fixtures} beside the checkout), by
 * walking up from the working directory, so tests work from a clone, a worktree or CI.
 * Override with {@code -Dsluice.fixtures=DIR}.
 */
public final class TestFixtures {
    private TestFixtures() {}

    public static Optional<Path> sharedFixtures() {
        String prop = System.getProperty("sluice.fixtures");
        if (prop != null) return Optional.of(Path.of(prop)).filter(Files::isDirectory);
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
