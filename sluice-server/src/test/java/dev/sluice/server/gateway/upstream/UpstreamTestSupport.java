package dev.sluice.server.gateway.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import com.linecorp.armeria.server.Server;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.gateway.Backend;
import dev.sluice.server.gateway.Gateway;
import dev.sluice.server.gateway.GatewayRequest;
import dev.sluice.server.gateway.Router;
import dev.sluice.server.openai.OpenAiErrors;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** A gateway with one backend on loopback, for the upstream tests; and small HTTP helpers. */
final class UpstreamTestSupport implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();

    /** The smallest router: every model name goes to {@code backend}. */
    record OneBackendRouter(Backend backend) implements Router {
        @Override
        public void resolve(ServiceRequestContext ctx, GatewayRequest req) {
            req.version("default");
        }

        @Override
        public java.util.concurrent.CompletableFuture<Integer> countPromptTokens(GatewayRequest req) {
            return backend.countPromptTokens(req);
        }

        @Override
        public com.linecorp.armeria.common.HttpResponse dispatch(ServiceRequestContext ctx, GatewayRequest req) throws Exception {
            return backend.execute(ctx, req);
        }

        @Override
        public List<ModelCard> models() {
            return List.of(new ModelCard("m", 1, "test", 0));
        }
    }

    final Server server;
    final WebClient client;

    UpstreamTestSupport(Backend backend) {
        this(backend, List.of());
    }

    UpstreamTestSupport(Backend backend, List<dev.sluice.server.gateway.GatewayStage> stages) {
        Gateway g = new Gateway(new OneBackendRouter(backend), stages, ServerConfig.defaults());
        var sb = Server.builder().http(new InetSocketAddress("127.0.0.1", 0)).errorHandler(new OpenAiErrors()).requestTimeout(Duration.ofSeconds(30)).gracefulShutdownTimeout(Duration.ZERO, Duration.ZERO);
        g.register(sb);
        server = sb.build();
        server.start().join();
        client = WebClient.builder("http://127.0.0.1:" + server.activeLocalPort()).responseTimeout(Duration.ofSeconds(20)).build();
    }

    static String chatBody(boolean stream, boolean includeUsage) {
        var o = JSON.createObjectNode().put("model", "m");
        o.putArray("messages").addObject().put("role", "user").put("content", "say hello to me");
        if (stream) o.put("stream", true);
        if (includeUsage) o.putObject("stream_options").put("include_usage", true);
        return o.toString();
    }

    AggregatedHttpResponse post(String path, String body) {
        return post(path, body, Map.of());
    }

    AggregatedHttpResponse post(String path, String body, Map<String, String> headers) {
        return post(client, path, body, headers);
    }

    static AggregatedHttpResponse post(WebClient c, String path, String body, Map<String, String> headers) {
        var h = RequestHeaders.builder(HttpMethod.POST, path).contentType(MediaType.JSON_UTF_8);
        headers.forEach(h::set);
        return c.execute(HttpRequest.of(h.build(), com.linecorp.armeria.common.HttpData.ofUtf8(body))).aggregate().join();
    }

    AggregatedHttpResponse chat(boolean stream, boolean includeUsage) {
        return post("/v1/chat/completions", chatBody(stream, includeUsage));
    }

    static JsonNode json(AggregatedHttpResponse r) {
        try {
            return JSON.readTree(r.contentUtf8());
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + r.contentUtf8(), e);
        }
    }

    /** The text a streamed or plain chat answer carries. */
    static String content(AggregatedHttpResponse r) {
        StringBuilder sb = new StringBuilder();
        String body = r.contentUtf8();
        if (r.headers().contentType() != null && r.headers().contentType().is(MediaType.EVENT_STREAM)) {
            for (String line : body.split("\n")) {
                if (!line.startsWith("data: ") || line.equals("data: [DONE]")) continue;
                try {
                    for (JsonNode c : JSON.readTree(line.substring(6)).path("choices")) sb.append(c.path("delta").path("content").asText(""));
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }
            return sb.toString();
        }
        return json(r).path("choices").path(0).path("message").path("content").asText();
    }

    @Override
    public void close() {
        server.stop(); // not joined: Netty's boss group takes 2 s of quiet period to go
    }
}
