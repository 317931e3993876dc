package dev.sluice.server.gateway.route;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpResponseWriter;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.ResponseHeaders;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.gateway.Backend;
import dev.sluice.server.gateway.GatewayRequest;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An in-process OpenAI-compatible backend for routing tests: answers with its name as the reply, or fails with
 * a status (5xx) or an exception before the first byte; can advance the test ticker (latency) and hold its
 * streams open after the first chunk until released.
 */
final class FakeBackend implements Backend, AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();

    final String name;
    volatile int status = 200;
    volatile boolean throwing;
    volatile long latencyNanos;
    volatile FakeTicker ticker;
    volatile CompletableFuture<Void> hold;
    final AtomicInteger calls = new AtomicInteger();
    final List<String> models = new CopyOnWriteArrayList<>();
    volatile boolean closed;

    FakeBackend(String name) {
        this.name = name;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public HttpResponse execute(ServiceRequestContext ctx, GatewayRequest req) {
        calls.incrementAndGet();
        models.add(req.body().path("model").asText());
        if (throwing) throw new IllegalStateException("connection refused (fake)");
        if (ticker != null && latencyNanos > 0) ticker.advance(latencyNanos);
        if (status >= 400) {
            return HttpResponse.of(HttpStatus.valueOf(status), MediaType.JSON_UTF_8,
                    "{\"error\":{\"message\":\"fake failure\",\"type\":\"server_error\",\"param\":null,\"code\":null}}");
        }
        String model = req.body().path("model").asText();
        if (!req.stream()) {
            ObjectNode o = JSON.createObjectNode().put("id", "chatcmpl-" + name).put("object", "chat.completion").put("created", 1).put("model", model);
            ObjectNode c = o.putArray("choices").addObject().put("index", 0).put("finish_reason", "stop");
            c.putObject("message").put("role", "assistant").put("content", name);
            o.putObject("usage").put("prompt_tokens", 3).put("completion_tokens", 1).put("total_tokens", 4);
            return HttpResponse.ofJson(o);
        }
        HttpResponseWriter w = HttpResponse.streaming();
        w.write(ResponseHeaders.of(HttpStatus.OK, "content-type", MediaType.EVENT_STREAM.toString()));
        w.write(HttpData.ofUtf8(chunk(model, name, null)));
        CompletableFuture<Void> gate = hold;
        Runnable finish = () -> {
            w.write(HttpData.ofUtf8(chunk(model, "", "stop")));
            w.write(HttpData.ofUtf8("data: [DONE]\n\n"));
            w.close();
        };
        if (gate == null) finish.run();
        else gate.thenRun(finish);
        return w;
    }

    private static String chunk(String model, String content, String finish) {
        ObjectNode o = JSON.createObjectNode().put("id", "chatcmpl-x").put("object", "chat.completion.chunk").put("created", 1).put("model", model);
        ObjectNode c = o.putArray("choices").addObject().put("index", 0);
        c.putObject("delta").put("content", content);
        if (finish != null) c.put("finish_reason", finish);
        else c.putNull("finish_reason");
        return "data: " + o + "\n\n";
    }

    @Override
    public void close() {
        closed = true;
    }
}
