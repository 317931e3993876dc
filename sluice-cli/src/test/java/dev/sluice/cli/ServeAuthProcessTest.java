package dev.sluice.cli;

import dev.sluice.server.store.StoreConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;

import static org.assertj.core.api.Assertions.assertThat;

/** The operator's path as processes: {@code sluice keys create}, then {@code sluice serve} enforces keys on the demo model. */
class ServeAuthProcessTest {
    @Test
    void aKeyCreatedByTheCliIsRequiredByServe(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("sluice.yaml");
        Files.writeString(cfg, "store:\n  url: \"" + StoreConfig.defaultUrl(dir) + "\"\n");
        Cli.Result created = Cli.run("keys", "create", "--config", cfg.toString(), "--name", "proc", "-m", "demo");
        assertThat(created.exit()).as(created.err()).isZero();
        String key = created.out().strip();
        try (SluiceProcess p = SluiceProcess.start(ServeCommandProcessTest.sluice(dir, "serve", "--port", "0", "--config", cfg.toString()))) {
            Matcher m = p.await(ServeCommandProcessTest.READY, Duration.ofSeconds(180));
            List<String> lines = p.lines();
            String base = "http://127.0.0.1:" + m.group(2);
            HttpClient http = HttpClient.newHttpClient();
            String body = "{\"model\":\"demo\",\"temperature\":0,\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":\"What is 1 + 1?\"}]}";
            HttpResponse<String> none = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions")).header("content-type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(none.statusCode()).isEqualTo(401);
            assertThat(none.body()).contains("invalid_api_key");
            HttpResponse<String> ok = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions")).header("content-type", "application/json")
                    .header("authorization", "Bearer " + key).POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
            HttpResponse<String> live = http.send(HttpRequest.newBuilder(URI.create(base + "/health/live")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(live.statusCode()).isEqualTo(200);
            HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).header("authorization", "Bearer " + key).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(metrics.statusCode()).isEqualTo(403);
            assertThat(lines).anyMatch(l -> l.contains("auth: enforced")).noneMatch(l -> l.contains(key.substring(23)));
        }
    }
}
