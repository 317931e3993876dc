package dev.sluice.server.gateway.route;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import com.linecorp.armeria.server.Server;
import com.linecorp.armeria.server.ServerBuilder;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.Gateway;
import dev.sluice.server.openai.OpenAiErrors;

import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A gateway on a loopback port with a {@link RegistryRouter} over {@link FakeBackend}s (by backend name), a
 * {@link FakeTicker}, and the routing admin API; no canary ticking thread (tests call {@link RegistryRouter#tick}).
 */
final class RouteHarness implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();

    final ServerMetrics metrics = new ServerMetrics();
    final FakeTicker ticker = new FakeTicker();
    final RegistryRouter router;
    final Server server;
    final WebClient http;

    RouteHarness(String routingYaml, Map<String, FakeBackend> fakes, Supplier<RoutingConfig> source) {
        RoutingConfig cfg = parse(routingYaml);
        for (FakeBackend f : fakes.values()) f.ticker = ticker;
        router = new RegistryRouter(cfg, null, (name, bc) -> fakes.get(name), metrics.registry(), ticker, source);
        ServerConfig sc = ServerConfig.defaults().withPort(0);
        ServerBuilder sb = Server.builder().http(0).requestTimeout(java.time.Duration.ZERO).errorHandler(new OpenAiErrors()); // no timeouts: held streams wait for the test
        new Gateway(router, List.of(), sc).register(sb);
        new RoutingAdmin(router).register(sb);
        server = sb.build();
        server.start().join();
        http = WebClient.builder("h1c://127.0.0.1:" + server.activeLocalPort()).responseTimeout(java.time.Duration.ZERO).build();
    }

    static RoutingConfig parse(String routingYaml) {
        return SluiceConfig.parse(routingYaml, Map.of(), "test.yaml").routing();
    }

    /** A chat request for {@code model} as {@code user} (null: anonymous), with extra headers as name/value pairs. */
    AggregatedHttpResponse chat(String model, String user, boolean stream, String... headers) {
        return chatAsync(model, user, stream, headers).join();
    }

    java.util.concurrent.CompletableFuture<AggregatedHttpResponse> chatAsync(String model, String user, boolean stream, String... headers) {
        String body = "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi there\"}]"
                + (user != null ? ",\"user\":\"" + user + "\"" : "") + (stream ? ",\"stream\":true" : "") + "}";
        com.linecorp.armeria.common.RequestHeadersBuilder h = RequestHeaders.builder(HttpMethod.POST, "/v1/chat/completions").contentType(MediaType.JSON_UTF_8);
        for (int i = 0; i < headers.length; i += 2) h.add(headers[i], headers[i + 1]);
        return http.execute(HttpRequest.of(h.build(), com.linecorp.armeria.common.HttpData.ofUtf8(body))).aggregate();
    }

    /** Like {@link #chat}, then waits until the router has recorded the outcome (so the next request's ticker moves don't leak into it). */
    AggregatedHttpResponse chatSettled(String model, String user) {
        double before = routed();
        AggregatedHttpResponse r = chat(model, user, false);
        org.awaitility.Awaitility.await().pollDelay(java.time.Duration.ZERO).pollInterval(java.time.Duration.ofMillis(1)).until(() -> routed() > before);
        return r;
    }

    int inFlight(String model) {
        return router.describe(model).path("in_flight").asInt();
    }

    double routed() {
        return metrics.registry().find("sluice.route.requests").counters().stream().mapToDouble(c -> c.count()).sum();
    }

    AggregatedHttpResponse admin(HttpMethod method, String path, String body) {
        HttpRequest r = body == null ? HttpRequest.of(method, path) : HttpRequest.of(method, path, MediaType.JSON_UTF_8, body);
        return http.execute(r).aggregate().join();
    }

    static JsonNode json(AggregatedHttpResponse r) {
        try {
            return JSON.readTree(r.contentUtf8());
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + r.contentUtf8(), e);
        }
    }

    double counter(String name, String... tags) {
        var c = metrics.registry().find(name).tags(tags).counter();
        return c == null ? 0 : c.count();
    }

    @Override
    public void close() {
        server.stop().join();
        router.close();
    }
}
