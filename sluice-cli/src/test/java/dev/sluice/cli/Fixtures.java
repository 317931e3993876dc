package dev.sluice.cli;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The engine's reference fixtures (tiny Hugging Face models), by relative path from the module folder. */
final class Fixtures {
    private Fixtures() {}

    static final Path REFERENCE = Path.of("..", "sluice-engine", "src", "test", "resources", "reference");

    /** A reference model folder, e.g. {@code qwen2}: committed in the engine, so absence fails the test. */
    static Path reference(String name) {
        Path p = REFERENCE.resolve(name);
        assertThat(p.resolve("config.json")).as("reference fixture " + p).isRegularFile();
        return p;
    }

    /**
     * A file of the project's shared tokenizer fixtures. The lookup is the engine's
     * {@code dev.sluice.engine.TestFixtures} (kept in step by hand: engine test classes are not
     * on this module's class path): {@code -Dsluice.fixtures=DIR}, which must be a directory, else
     * {@code shared/fixtures} in the nearest parent folder. Skips only when no fixtures folder or no
     * {@code tokenizers/} folder is found; a file missing from a present folder fails the test.
     */
    static Path sharedTokenizer(String file) {
        Path dir = null;
        String prop = System.getProperty("sluice.fixtures");
        if (prop != null) {
            if (!Files.isDirectory(Path.of(prop))) throw new IllegalStateException("-Dsluice.fixtures=" + prop + " is not a directory");
            dir = Path.of(prop);
        } else {
            for (Path p = Path.of("").toAbsolutePath(); p != null && dir == null; p = p.getParent()) {
                Path candidate = p.resolve("shared").resolve("fixtures");
                if (Files.isDirectory(candidate)) dir = candidate;
            }
        }
        assumeTrue(dir != null && Files.isDirectory(dir.resolve("tokenizers")), "shared tokenizer fixtures folder not present");
        Path f = dir.resolve("tokenizers").resolve(file);
        assertThat(f).as("shared tokenizer fixture").isRegularFile();
        return f;
    }
}
