package dev.sluice.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.RequestHeaders;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.auth.IdentityStore;
import dev.sluice.server.openai.FakeModel;
import dev.sluice.server.openai.WsClient;
import dev.sluice.server.store.Store;
import dev.sluice.server.store.StoreConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * {@code /v1/ws} in the gateway role goes through the gateway like HTTP does: the upgrade needs a
 * credential, each request message is admitted (rate limits) and settled (usage records), and it
 * is routed by the registry (a public alias, not an engine model id). Wired as {@code sluice serve}
 * wires it ({@link GatewayAssembly#build}).
 */
class GatewayWebSocketTest {
    static final ObjectMapper JSON = new ObjectMapper();
    SluiceServer server;

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    static AggregatedHttpResponse get(WebClient c, String path, String key) {
        RequestHeaders h = RequestHeaders.builder(HttpMethod.GET, path).add("authorization", "Bearer " + key).build();
        return c.execute(HttpRequest.of(h, HttpData.empty())).aggregate().join();
    }

    static String request(String id, String model, int maxTokens) {
        return "{\"type\":\"request\",\"id\":\"" + id + "\",\"body\":{\"model\":\"" + model
                + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":" + maxTokens + ",\"stream_options\":{\"include_usage\":true}}}";
    }

    /** The messages of one request id up to its done or error event. */
    static List<JsonNode> until(WsClient ws, String id) throws InterruptedException {
        List<JsonNode> out = new ArrayList<>();
        while (true) {
            JsonNode m = ws.next();
            assertThat(m.path("id").asText()).isEqualTo(id);
            out.add(m);
            if (!m.path("type").asText().equals("chunk")) return out;
        }
    }

    @Test
    void socketMessagesAreAuthenticatedAdmittedRecordedAndRouted(@TempDir Path dir) throws Exception {
        String url = StoreConfig.defaultUrl(dir);
        dev.sluice.server.gateway.auth.TestIdentities.Keys ids = dev.sluice.server.gateway.auth.TestIdentities.acmeAndOperator(url);
        String key = ids.acmeKey(), keyId = ids.acmeKeyId(), operatorKey = ids.operatorKey();
        SluiceConfig config = SluiceConfig.parse("""
                store:
                  url: %s
                limits:
                  usageRecords: true
                  refill: interval
                  rules:
                    - {name: per-key, dimensions: [key], requestsPerMinute: 2}
                routing:
                  backends:
                    local: {type: local}
                  models:
                    chat:
                      versions: {v1: {backend: local, model: fake}}
                """.formatted(url), Map.of(), "t.yaml");
        ServerConfig cfg = ServerConfig.defaults().withPort(0);
        ServerMetrics metrics = new ServerMetrics();
        server = new SluiceServer(cfg, List.of(new FakeModel("fake", "Hello, world!", "", 4096)), () -> true, metrics,
                worker -> GatewayAssembly.build(config, cfg, metrics, worker)).start();
        WebClient c = WebClient.builder("http://127.0.0.1:" + server.port()).responseTimeout(Duration.ofSeconds(30)).build();

        // no credential: the upgrade is refused (401), so no message gets through
        assertThatThrownBy(() -> new WsClient(server.port())).isInstanceOf(CompletionException.class).hasStackTraceContaining("401");

        try (WsClient ws = new WsClient(server.port(), Map.of("Authorization", "Bearer " + key))) {
            // routed: "chat" is a public alias of the registry (the engine serves "fake"); a direct engine call would 404
            ws.send(request("a", "chat", 5));
            List<JsonNode> a = until(ws, "a");
            assertThat(a.getLast().path("type").asText()).as(a.toString()).isEqualTo("done");
            StringBuilder text = new StringBuilder();
            JsonNode usage = null;
            for (JsonNode m : a) {
                for (JsonNode ch : m.at("/data/choices")) text.append(ch.at("/delta/content").asText(""));
                if (m.at("/data/usage").isObject()) usage = m.at("/data/usage");
            }
            assertThat(text.toString()).isEqualTo("Hello");
            assertThat(usage).as("the usage chunk the client asked for").isNotNull();
            assertThat(usage.path("completion_tokens").asInt()).isEqualTo(5);

            ws.send(request("b", "chat", 3));
            assertThat(until(ws, "b").getLast().path("type").asText()).isEqualTo("done");
            // the key's third request in the minute: the rate limit's error event
            ws.send(request("c", "chat", 3));
            List<JsonNode> refused = until(ws, "c");
            assertThat(refused).hasSize(1);
            JsonNode err = refused.getFirst();
            assertThat(err.path("type").asText()).isEqualTo("error");
            assertThat(err.path("status").asInt()).isEqualTo(429);
            assertThat(err.at("/error/code").asText()).isEqualTo("rate_limit_exceeded"); // the same body as over HTTP
            // a model the registry does not have: 404, as over HTTP
            ws.send(request("d", "fake-unknown", 3));
            assertThat(until(ws, "d").getFirst().path("status").asInt()).isEqualTo(404);
        }

        // usage records: three requests of this key (two served with their tokens, one refused)
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            JsonNode rows = JSON.readTree(get(c, "/admin/v1/usage?group_by=key", operatorKey).contentUtf8()).path("data");
            for (JsonNode r : rows) if (r.path("key").asText().equals(keyId) && r.path("requests").asInt() == 3) return true;
            return false;
        });
        JsonNode row = null;
        for (JsonNode r : JSON.readTree(get(c, "/admin/v1/usage?group_by=key", operatorKey).contentUtf8()).path("data")) {
            if (r.path("key").asText().equals(keyId)) row = r;
        }
        assertThat(row.path("completion_tokens").asInt()).as(row.toString()).isEqualTo(5 + 3);
        assertThat(row.path("prompt_tokens").asInt()).as(row.toString()).isPositive();
        // each message was one routed request, and it ended: nothing is left in flight on the alias
        JsonNode route = JSON.readTree(get(c, "/admin/v1/routing/models/chat", operatorKey).contentUtf8());
        assertThat(route.path("in_flight").asInt()).as(route.toString()).isZero();
    }
}
