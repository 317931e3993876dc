package dev.sluice.server.gateway.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.server.ServerBuilder;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.gateway.Gateway;
import dev.sluice.server.gateway.GatewayAssembly;
import dev.sluice.server.gateway.GatewayStage;
import dev.sluice.server.gateway.LocalRouter;
import dev.sluice.server.gateway.Principal;
import dev.sluice.server.inference.InferenceModel;
import dev.sluice.server.openai.OpenAiService;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * A gateway on a real socket for the cache tests, with a test decorator standing in for auth: a
 * request's {@code x-test-tenant} header becomes its {@link Principal} (tenant) on the context,
 * as the auth decorator will do with a key.
 */
final class Harness implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

    final ServerMetrics metrics = new ServerMetrics();
    final SluiceServer server;

    /** A server whose gateway is {@code assembly(worker)}, plus the tenant decorator. */
    Harness(List<InferenceModel> models, java.util.function.BiFunction<OpenAiService, ServerMetrics, GatewayAssembly> assembly) {
        ServerConfig cfg = ServerConfig.defaults().withPort(0);
        server = new SluiceServer(cfg, models, () -> true, metrics, worker -> assembly.apply(worker, metrics).with(Harness::tenantDecorator)).start();
    }

    /** The gateway exactly as {@code sluice serve} builds it from {@code config}. */
    static Harness assembled(List<InferenceModel> models, dev.sluice.server.config.SluiceConfig config) {
        return new Harness(models, (worker, metrics) -> GatewayAssembly.build(config, ServerConfig.defaults().withPort(0), metrics, worker));
    }

    /** A server whose gateway runs {@code stages(metrics)} in front of the in-process worker, closing them at the end. */
    static Harness withStages(List<InferenceModel> models, Function<ServerMetrics, List<GatewayStage>> stages) {
        return new Harness(models, stages, null);
    }

    private Harness(List<InferenceModel> models, Function<ServerMetrics, List<GatewayStage>> stages, Void unused) {
        ServerConfig cfg = ServerConfig.defaults().withPort(0);
        server = new SluiceServer(cfg, models, () -> true, metrics, worker -> {
            List<GatewayStage> s = stages.apply(metrics);
            List<AutoCloseable> closing = new ArrayList<>();
            for (GatewayStage g : s) if (g instanceof AutoCloseable c) closing.add(c);
            return GatewayAssembly.forTest(new Gateway(new LocalRouter(worker), s, cfg), List.of(Harness::tenantDecorator), closing);
        }).start();
    }

    static void tenantDecorator(ServerBuilder sb) {
        sb.decorator((delegate, ctx, req) -> {
            String t = req.headers().get("x-test-tenant");
            if (t != null) ctx.setAttr(Principal.ATTR, new Principal(t, null, "key-" + t, null, null, null, false));
            return delegate.serve(ctx, req);
        });
    }

    String base() {
        return "http://127.0.0.1:" + server.port();
    }

    /** A plain POST to {@code path}; headers as name, value pairs. */
    HttpResponse<String> post(String path, String body, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(30))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        for (int i = 0; i < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> chat(String body, String... headers) throws IOException, InterruptedException {
        return post("/v1/chat/completions", body, headers);
    }

    /** The data payloads of a streamed response, [DONE] included. */
    static List<String> events(String sseBody) {
        List<String> out = new ArrayList<>();
        for (String line : sseBody.split("\n")) if (line.startsWith("data: ")) out.add(line.substring(6));
        return out;
    }

    /** The concatenated delta content (chat) or text (completions) of a stream's events, per choice 0. */
    static String content(List<String> events) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (String e : events) {
            if (e.equals("[DONE]")) continue;
            for (JsonNode c : JSON.readTree(e).path("choices")) {
                sb.append(c.has("delta") ? c.path("delta").path("content").asText("") : c.path("text").asText(""));
            }
        }
        return sb.toString();
    }

    static ObjectNode json(String s) throws IOException {
        return (ObjectNode) JSON.readTree(s);
    }

    /** A chat request body: {@code extra} is spliced in as JSON fields, e.g. {@code "temperature":0}. */
    static String chatBody(String model, String prompt, String extra) {
        return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]" + (extra.isEmpty() ? "" : "," + extra) + "}";
    }

    double counter(String name, String... tags) {
        var c = metrics.registry().find(name).tags(tags).counter();
        return c == null ? 0 : c.count();
    }

    double gauge(String name) {
        var g = metrics.registry().find(name).gauge();
        return g == null ? Double.NaN : g.value();
    }

    @Override
    public void close() {
        server.close();
    }
}
