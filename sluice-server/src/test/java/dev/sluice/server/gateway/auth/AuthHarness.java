package dev.sluice.server.gateway.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import com.linecorp.armeria.common.RequestHeadersBuilder;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.GatewayAssembly;
import dev.sluice.server.openai.FakeModel;
import dev.sluice.server.store.StoreConfig;

import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;

/** A gateway with two fake models behind {@link GatewayAssembly#build}, and the test stores (H2 file, a fresh PostgreSQL schema). */
final class AuthHarness implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String OPEN = "fake", RESTRICTED = "secret-model";

    final SluiceServer server;
    final WebClient http;

    AuthHarness(SluiceConfig config, boolean noAuth) {
        ServerConfig cfg = ServerConfig.defaults().withPort(0);
        ServerMetrics metrics = new ServerMetrics();
        server = new SluiceServer(cfg, List.of(new FakeModel(OPEN, "Hello, world!", "", 4096), new FakeModel(RESTRICTED, "classified", "", 4096)),
                () -> true, metrics, worker -> GatewayAssembly.build(config, null, cfg, metrics, worker, noAuth)).start();
        http = WebClient.of("http://127.0.0.1:" + server.port());
    }

    String baseUrl() {
        return "http://127.0.0.1:" + server.port();
    }

    /** {@code method path} with {@code authorization} (null: no header) and a JSON body (null: none). */
    AggregatedHttpResponse call(HttpMethod method, String path, String authorization, String body) {
        RequestHeadersBuilder h = RequestHeaders.builder(method, path);
        if (authorization != null) h.add("authorization", authorization);
        if (body != null) h.contentType(MediaType.JSON_UTF_8);
        HttpRequest req = body == null ? HttpRequest.of(h.build()) : HttpRequest.of(h.build(), com.linecorp.armeria.common.HttpData.ofUtf8(body));
        return http.execute(req).aggregate().join();
    }

    AggregatedHttpResponse bearer(HttpMethod method, String path, String token, String body) {
        return call(method, path, token == null ? null : "Bearer " + token, body);
    }

    static JsonNode json(AggregatedHttpResponse r) {
        try {
            return JSON.readTree(r.contentUtf8());
        } catch (java.io.IOException e) {
            throw new AssertionError("not JSON (" + r.status() + "): " + r.contentUtf8(), e);
        }
    }

    static String chat(String model) {
        return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    }

    @Override
    public void close() {
        server.close();
    }

    static String sha256Hex(String s) {
        return HexFormat.of().formatHex(ApiKeys.sha256(s));
    }

    static String unique(String what) {
        return what + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** An H2 file store in PostgreSQL mode under {@code dir}. */
    static StoreConfig h2(Path dir) {
        return new StoreConfig(StoreConfig.defaultUrl(dir), null, null, 4, null);
    }

}
