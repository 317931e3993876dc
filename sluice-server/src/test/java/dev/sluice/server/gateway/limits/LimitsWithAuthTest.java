package dev.sluice.server.gateway.limits;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.GatewayAssembly;
import dev.sluice.server.gateway.auth.IdentityStore;
import dev.sluice.server.openai.FakeModel;
import dev.sluice.server.store.Store;
import dev.sluice.server.store.StoreConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Limits wired as {@code sluice serve} wires them ({@link GatewayAssembly#build}), behind real API
 * keys: the key's identity selects the buckets, the admin routes need an operator admin, and
 * {@code /v1/usage} shows a caller only its own tenant.
 */
class LimitsWithAuthTest {
    static final ObjectMapper JSON = new ObjectMapper();
    SluiceServer server;

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    static AggregatedHttpResponse call(WebClient c, HttpMethod m, String path, String key, String body) {
        com.linecorp.armeria.common.RequestHeadersBuilder h = RequestHeaders.builder(m, path);
        if (key != null) h.add("authorization", "Bearer " + key);
        if (body != null) h.contentType(MediaType.JSON_UTF_8);
        return c.execute(HttpRequest.of(h.build(), body == null ? HttpData.empty() : HttpData.ofUtf8(body))).aggregate().join();
    }

    @Test
    void keysSelectTheBucketsAndOnlyOperatorAdminsReachTheLimitsAdminRoutes(@TempDir Path dir) throws Exception {
        String url = StoreConfig.defaultUrl(dir);
        dev.sluice.server.gateway.auth.TestIdentities.Keys ids = dev.sluice.server.gateway.auth.TestIdentities.acmeAndOperator(url);
        String acmeKey = ids.acmeKey(), acmeKeyId = ids.acmeKeyId(), operatorKey = ids.operatorKey();
        SluiceConfig config = SluiceConfig.parse("""
                store:
                  url: %s
                limits:
                  usageRecords: true
                  refill: interval
                  rules:
                    - {name: per-key, dimensions: [key], requestsPerMinute: 2}
                """.formatted(url), Map.of(), "t.yaml");
        ServerConfig cfg = ServerConfig.defaults().withPort(0);
        ServerMetrics metrics = new ServerMetrics();
        server = new SluiceServer(cfg, List.of(new FakeModel("fake", "Hello, world!", "", 4096)), () -> true, metrics,
                worker -> GatewayAssembly.build(config, cfg, metrics, worker)).start();
        WebClient c = WebClient.builder("http://127.0.0.1:" + server.port()).responseTimeout(Duration.ofSeconds(30)).build();
        String chat = LimitsHarness.chatBody("fake", "hi", 5, false);

        assertThat(call(c, HttpMethod.POST, "/v1/chat/completions", null, chat).status().code()).isEqualTo(401);
        AggregatedHttpResponse first = call(c, HttpMethod.POST, "/v1/chat/completions", acmeKey, chat);
        assertThat(first.status().code()).isEqualTo(200);
        assertThat(first.headers().get("x-ratelimit-remaining-requests")).isEqualTo("1");
        assertThat(call(c, HttpMethod.POST, "/v1/chat/completions", acmeKey, chat).status().code()).isEqualTo(200);
        assertThat(call(c, HttpMethod.POST, "/v1/chat/completions", acmeKey, chat).status().code()).isEqualTo(429);
        // the operator's key has its own bucket
        assertThat(call(c, HttpMethod.POST, "/v1/chat/completions", operatorKey, chat).status().code()).isEqualTo(200);

        for (String path : List.of("/admin/v1/usage", "/admin/v1/limits", "/admin/v1/prices", "/admin/v1/budgets")) {
            assertThat(call(c, HttpMethod.GET, path, acmeKey, null).status().code()).as(path).isEqualTo(403);
            assertThat(call(c, HttpMethod.GET, path, null, null).status().code()).as(path).isEqualTo(401);
        }
        assertThat(call(c, HttpMethod.PUT, "/admin/v1/prices/fake", acmeKey, "{\"input\":0}").status().code()).isEqualTo(403);

        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() ->
                JSON.readTree(call(c, HttpMethod.GET, "/admin/v1/usage?group_by=key", operatorKey, null).contentUtf8()).path("data").size() == 2);
        JsonNode byKey = JSON.readTree(call(c, HttpMethod.GET, "/admin/v1/usage?group_by=key", operatorKey, null).contentUtf8());
        JsonNode acmeRow = null;
        for (JsonNode r : byKey.path("data")) if (r.path("key").asText().equals(acmeKeyId)) acmeRow = r;
        assertThat(acmeRow).as(byKey.toString()).isNotNull();
        assertThat(acmeRow.path("requests").asInt()).isEqualTo(3); // two served, one refused
        JsonNode mine = JSON.readTree(call(c, HttpMethod.GET, "/v1/usage?group_by=tenant", acmeKey, null).contentUtf8());
        assertThat(mine.path("data")).hasSize(1);
        assertThat(mine.path("data").get(0).path("tenant").asText()).isEqualTo("acme");
    }
}
