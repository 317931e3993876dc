package dev.sluice.server.gateway.route;

import com.fasterxml.jackson.databind.JsonNode;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import dev.sluice.server.config.SluiceConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Reloading the routing config: in-flight streams finish on their old backend; a bad config is refused and the old one stays. */
class ReloadTest {
    static final String V1 = """
            routing:
              backends:
                a: {type: openai, endpoints: ["http://127.0.0.1:1/v1"]}
              models:
                chat: {versions: {v1: {backend: a}}}
            """;
    static final String V2 = """
            routing:
              backends:
                b: {type: openai, endpoints: ["http://127.0.0.1:2/v1"]}
              models:
                chat: {versions: {v2: {backend: b}}}
                chat-2: {versions: {v2: {backend: b}}}
            """;

    @TempDir
    Path dir;
    RouteHarness h;
    final CompletableFuture<Void> release = new CompletableFuture<>();

    @AfterEach
    void stop() {
        release.complete(null);
        if (h != null) h.close();
    }

    @Test
    void reloadKeepsInFlightStreamsAndRejectsABadConfig() throws Exception {
        Path file = dir.resolve("sluice.yaml");
        Files.writeString(file, V1);
        Map<String, FakeBackend> fakes = new LinkedHashMap<>();
        fakes.put("a", new FakeBackend("a"));
        fakes.put("b", new FakeBackend("b"));
        fakes.get("a").hold = release;
        h = new RouteHarness(V1, fakes, () -> SluiceConfig.load(file).routing());

        CompletableFuture<AggregatedHttpResponse> inFlight = h.chatAsync("chat", "u", true);
        await().until(() -> h.inFlight("chat") == 1);

        Files.writeString(file, V2);
        AggregatedHttpResponse reload = h.admin(HttpMethod.POST, "/admin/v1/routing/reload", null);
        assertThat(reload.status().code()).as(reload.contentUtf8()).isEqualTo(200);
        assertThat(RouteHarness.json(reload).path("models")).hasSize(2);

        // new requests use the new table
        AggregatedHttpResponse r = h.chat("chat", "u", false);
        assertThat(r.headers().get(RegistryRouter.SERVED_VERSION_HEADER)).isEqualTo("v2");
        assertThat(r.contentUtf8()).contains("\"b\"");
        assertThat(h.chat("chat-2", "u", false).status().code()).isEqualTo(200);
        // the old stream is still open, on the old backend, which is not closed under it
        assertThat(inFlight).isNotDone();
        assertThat(fakes.get("a").closed).isFalse();
        release.complete(null);
        AggregatedHttpResponse old = inFlight.join();
        assertThat(old.status().code()).isEqualTo(200);
        assertThat(old.headers().get(RegistryRouter.SERVED_VERSION_HEADER)).isEqualTo("v1");
        assertThat(old.contentUtf8()).contains("\"content\":\"a\"").endsWith("data: [DONE]\n\n");
        // ... and is closed once its last request ended
        await().until(() -> fakes.get("a").closed);
        assertThat(fakes.get("b").closed).isFalse();
        assertThat(h.counter("sluice.route.reloads", "result", "ok")).isEqualTo(1);

        // bad configs are refused with the reason; the current table stays
        for (String bad : new String[] {
                V2.replace("chat-2: {versions: {v2: {backend: b}}}", "chat-2: {versions: {v2: {backend: nope}}}"),
                "routing:\n  models: [\n",
                "routing:\n  backendz: {}\n",
                "store: {}\n"}) {
            Files.writeString(file, bad);
            AggregatedHttpResponse rejected = h.admin(HttpMethod.POST, "/admin/v1/routing/reload", null);
            assertThat(rejected.status().code()).as(bad).isEqualTo(400);
            JsonNode e = RouteHarness.json(rejected).path("error");
            assertThat(e.path("code").asText()).isEqualTo("invalid_config");
            assertThat(e.path("message").asText()).startsWith("Routing config rejected, the current one stays");
        }
        Files.writeString(file, V2.replace("chat-2: {versions: {v2: {backend: b}}}", "chat-2: {versions: {v2: {backend: nope}}}"));
        assertThat(RouteHarness.json(h.admin(HttpMethod.POST, "/admin/v1/routing/reload", null)).path("error").path("message").asText())
                .contains("routing.models.chat-2.versions.v2.backend").contains("nope");
        assertThat(h.counter("sluice.route.reloads", "result", "rejected")).isEqualTo(5);
        r = h.chat("chat", "u", false);
        assertThat(r.headers().get(RegistryRouter.SERVED_VERSION_HEADER)).isEqualTo("v2");
        assertThat(fakes.get("b").closed).isFalse();
    }

    @Test
    void aWatchedFileIsReloadedWhenItChangesAndABadEditIsNotApplied() throws Exception {
        Path file = dir.resolve("watched.yaml");
        Files.writeString(file, V1);
        Map<String, FakeBackend> fakes = new LinkedHashMap<>();
        fakes.put("a", new FakeBackend("a"));
        fakes.put("b", new FakeBackend("b"));
        h = new RouteHarness(V1, fakes, () -> SluiceConfig.load(file).routing());
        h.router.startTicking();
        h.router.watch(file, java.time.Duration.ofMillis(50));
        Files.writeString(file, V2);
        await().until(() -> h.router.describe().path("models").size() == 2);
        assertThat(h.chat("chat", "u", false).headers().get(RegistryRouter.SERVED_VERSION_HEADER)).isEqualTo("v2");
        Files.writeString(file, "routing:\n  models: {chat: {versions: {v3: {backend: gone}}}}\n");
        await().until(() -> h.counter("sluice.route.reloads", "result", "rejected") >= 1);
        assertThat(h.chat("chat", "u", false).headers().get(RegistryRouter.SERVED_VERSION_HEADER)).isEqualTo("v2");
        assertThat(RouteHarness.parse("routing: {watch: true}").watch()).isTrue();
        assertThat(RouteHarness.parse("routing: {watch: true}").isEmpty()).isFalse();
    }
}
