package dev.sluice.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpObject;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.ResponseHeaders;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.openai.OpenAiErrors;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

import java.io.ByteArrayOutputStream;
import java.io.IOException;

/**
 * Relays the gateway's answer to one WebSocket request message to the socket: the SSE chunks of a
 * 200 stream become chunk events, {@code [DONE]} the done event, an error event or a non-200
 * answer (a 429 from admission, a 404, a backend's 5xx) an error event with its status and
 * OpenAI error, and a stream that ends without either an error event (never a silent end).
 *
 * <p>Design note: the message has a request context of its own ({@code ctx}, built for it), so
 * the stages that key state by context (the router's resolution) or wait for its log (in-flight
 * counts) see one request per message, as they see one per HTTP request; the relay ends that log
 * when the answer ends. Everything runs on the socket's event loop, in the message's context:
 * {@link #start}, the subscription's callbacks and {@link #cancel}.
 */
final class SocketRelay implements Subscriber<HttpObject> {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ServiceRequestContext ctx;
    private final OpenAiService.Sink sink;
    private final SseParser sse = new SseParser();
    private Subscription subscription;
    private HttpStatus status;
    private boolean stream;
    private ByteArrayOutputStream body;
    private boolean ended;

    SocketRelay(ServiceRequestContext ctx, OpenAiService.Sink sink) {
        this.ctx = ctx;
        this.sink = sink;
    }

    /** Relays {@code res}, on {@code ctx}'s event loop; a relay cancelled already aborts it instead. */
    void start(HttpResponse res) {
        if (ended) {
            res.abort();
            return;
        }
        res.subscribe(this, ctx.eventLoop());
    }

    @Override
    public void onSubscribe(Subscription s) {
        subscription = s;
        s.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(HttpObject o) {
        if (ended) return;
        if (o instanceof ResponseHeaders h) {
            if (h.status().isInformational()) return;
            status = h.status();
            ctx.logBuilder().responseHeaders(h);
            MediaType ct = h.contentType();
            stream = status.code() == 200 && ct != null && ct.is(MediaType.EVENT_STREAM);
            if (!stream) body = new ByteArrayOutputStream();
        } else if (o instanceof HttpData d) {
            if (stream) {
                for (String event : sse.push(d.array())) {
                    event(event);
                    if (ended) return;
                }
            } else if (body != null && body.size() < ResponseTap.MAX_CAPTURE_BYTES) {
                body.writeBytes(d.array());
            }
        }
    }

    private void event(String data) {
        if (data.equals("[DONE]")) {
            end(null);
            sink.done();
            return;
        }
        JsonNode n;
        try {
            n = JSON.readTree(data);
        } catch (IOException e) {
            return; // not an OpenAI event
        }
        if (n == null || !n.isObject()) return;
        if (n.has("error")) {
            OpenAiException e = fromError(inStreamStatus(n.get("error")), n.get("error"));
            end(null);
            sink.error(e);
            cancelUpstream();
            return;
        }
        sink.chunk((ObjectNode) n);
    }

    @Override
    public void onError(Throwable t) {
        if (ended) return;
        end(t);
        sink.error(OpenAiErrors.fromThrowable(t));
    }

    @Override
    public void onComplete() {
        if (ended) return;
        if (stream) {
            for (String event : sse.finish()) {
                event(event);
                if (ended) return;
            }
            end(null);
            sink.error(new OpenAiException(HttpStatus.BAD_GATEWAY, "server_error", null, "upstream_error", "The stream ended without [DONE]"));
            return;
        }
        OpenAiException e;
        JsonNode err = null;
        try {
            JsonNode n = body == null || body.size() == 0 ? null : JSON.readTree(body.toByteArray());
            if (n != null) err = n.get("error");
        } catch (IOException x) {
            // not JSON: described below
        }
        HttpStatus s = status == null ? HttpStatus.INTERNAL_SERVER_ERROR : status;
        if (err != null && err.isObject()) e = fromError(s, err);
        else if (s.code() == 200) e = new OpenAiException(HttpStatus.BAD_GATEWAY, "server_error", null, "upstream_error", "The answer was not a stream");
        else e = new OpenAiException(s, s.code() >= 500 ? "server_error" : "invalid_request_error", null, null, s.reasonPhrase());
        end(null);
        sink.error(e);
    }

    /** The socket's client cancelled this request (or left): the answer is abandoned, and its request cancelled. */
    void cancel() {
        if (ended) return;
        end(null);
        cancelUpstream();
        sink.cancelled();
    }

    private void cancelUpstream() {
        if (subscription != null) subscription.cancel();
        ctx.cancel();
    }

    private void end(Throwable cause) {
        ended = true;
        ctx.logBuilder().endRequest();
        if (cause != null) ctx.logBuilder().endResponse(cause);
        else ctx.logBuilder().endResponse();
    }

    /** The HTTP status of an error event in a 200 stream, as the engine would have answered before the stream: 504 for a deadline, 503 for shutdown, else 500. */
    private static HttpStatus inStreamStatus(JsonNode error) {
        return switch (error.path("code").asText("")) {
            case "deadline_exceeded", "timeout" -> HttpStatus.GATEWAY_TIMEOUT;
            case "server_shutdown", "overloaded", "backend_unavailable" -> HttpStatus.SERVICE_UNAVAILABLE;
            case "upstream_error", "upstream_unavailable" -> HttpStatus.BAD_GATEWAY;
            default -> HttpStatus.INTERNAL_SERVER_ERROR;
        };
    }

    private static OpenAiException fromError(HttpStatus status, JsonNode e) {
        String type = e.path("type").asText(status.code() >= 500 ? "server_error" : "invalid_request_error");
        return new OpenAiException(status, type, text(e.get("param")), text(e.get("code")), e.path("message").asText(status.reasonPhrase()));
    }

    private static String text(JsonNode n) {
        return n == null || n.isNull() ? null : n.asText();
    }
}
