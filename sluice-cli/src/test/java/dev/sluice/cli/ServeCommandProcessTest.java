package dev.sluice.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code sluice serve}, the README's main job, as a real process: the demo model by default, and bad input. */
class ServeCommandProcessTest {
    static final Pattern READY = Pattern.compile("model '(.+)' ready: http://127\\.0\\.0\\.1:(\\d+)/v1");

    /**
     * The test classpath for a child JVM; without {@code serverTestFixtures}, less sluice-server's test classes (the fake
     * upstream's), whose logback-test.xml would replace the CLI's own logging configuration in a {@code sluice} process.
     */
    static String classpath(boolean serverTestFixtures) {
        List<String> out = new java.util.ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            String n = e.replace('\\', '/');
            boolean fixtures = n.contains("sluice-server") && (n.endsWith("/test-classes") || n.endsWith("/test-classes/") || n.endsWith("-tests.jar"));
            if (serverTestFixtures || !fixtures) out.add(e);
        }
        return String.join(java.io.File.pathSeparator, out);
    }

    static ProcessBuilder sluice(Path cache, String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx1g",
                "-cp", classpath(false), "dev.sluice.cli.Main"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("SLUICE_CACHE", cache.toString());
        return pb;
    }

    @Test
    void servesTheDemoModelByDefault(@TempDir Path cache) throws Exception {
        try (SluiceProcess p = SluiceProcess.start(sluice(cache, "serve", "--port", "0"))) {
            Matcher m = p.await(READY, Duration.ofSeconds(180));
            List<String> lines = p.lines();
            assertThat(m.group(1)).isEqualTo("demo");
            assertThat(lines).filteredOn(l -> l.contains("to serve a real one")).hasSize(1);
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + m.group(2);
            HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(base + "/health/ready")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).isEqualTo(200);
            HttpResponse<String> chat = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                    .timeout(Duration.ofSeconds(120)).header("content-type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"demo\",\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"What is 12 + 30?\"}]}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
            assertThat(chat.body()).contains("42").contains("\"finish_reason\":\"stop\"");
        }
    }

    @Test
    void aMissingModelIsAClearErrorNotAStackTrace(@TempDir Path cache) throws Exception {
        Path missing = cache.resolve("nope.gguf");
        Process p = sluice(cache, "serve", "--port", "0", "--model", missing.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isEqualTo(1);
        assertThat(out).contains("sluice: error:").contains("nope.gguf").doesNotContain("\tat ");
    }
}
