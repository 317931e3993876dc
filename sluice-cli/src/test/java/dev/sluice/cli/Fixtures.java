package dev.sluice.cli;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The engine's reference fixtures (tiny Hugging Face models), by relative path from the module folder. */
final class Fixtures {
    private Fixtures() {}

    static final Path REFERENCE = Path.of("..", "sluice-engine", "src", "test", "resources", "reference");

    /** A reference model folder, e.g. {@code qwen2}; skips the test when absent. */
    static Path reference(String name) {
        Path p = REFERENCE.resolve(name);
        assumeTrue(Files.isRegularFile(p.resolve("config.json")), "reference fixture " + p + " not present");
        return p;
    }

    /**
     * A file of the project's shared tokenizer fixtures ({@code shared/fixtures/tokenizers} in a
     * parent folder, as the engine's {@code TestFixtures} finds them); skips the test when absent.
     */
    static Path sharedTokenizer(String file) {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("shared").resolve("fixtures").resolve("tokenizers").resolve(file);
            if (Files.isRegularFile(candidate)) return candidate;
        }
        assumeTrue(false, "shared tokenizer fixture " + file + " not present");
        return null;
    }
}
