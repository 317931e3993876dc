package dev.sluice.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Without --model, generate and chat use the built-in demo model, extracted once into the cache. */
class DemoModelCommandTest {
    @Test
    void generateAndChatDefaultToTheDemoModel(@TempDir Path cache) throws Exception {
        Map<String, String> env = Map.of("SLUICE_CACHE", cache.toString());
        Cli.Result g = Cli.run("", env, "generate", "--chat", "-p", "What is 12 + 30?", "--temperature", "0", "-n", "32");
        assertThat(g.exit()).as(g.err()).isZero();
        assertThat(g.out()).contains("42");
        try (var files = Files.list(cache.resolve("models"))) {
            assertThat(files.map(p -> p.getFileName().toString())).singleElement().asString().startsWith("demo-").endsWith(".gguf");
        }
        Cli.Result c = Cli.run("What is 20 + 5?\n/exit\n", env, "chat", "--temperature", "0");
        assertThat(c.exit()).as(c.err()).isZero();
        assertThat(c.out()).contains("25");
    }
}
