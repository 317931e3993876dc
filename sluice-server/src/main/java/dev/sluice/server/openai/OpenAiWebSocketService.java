package dev.sluice.server.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.RequestHeaders;
import com.linecorp.armeria.common.websocket.WebSocket;
import com.linecorp.armeria.common.websocket.WebSocketCloseStatus;
import com.linecorp.armeria.common.websocket.WebSocketFrame;
import com.linecorp.armeria.common.websocket.WebSocketFrameType;
import com.linecorp.armeria.common.websocket.WebSocketWriter;
import com.linecorp.armeria.server.ServiceOptions;
import com.linecorp.armeria.server.ServiceRequestContext;
import com.linecorp.armeria.server.websocket.WebSocketService;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.inference.InferenceModel;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The WebSocket endpoint ({@code /v1/ws}): the same chunk messages as the SSE streams, with
 * several requests multiplexed on one socket by a client-chosen id.
 *
 * <p>Protocol (text frames, one JSON object each; see docs/server.md):
 * <pre>
 * client: {"type":"request","id":"a","path":"/v1/chat/completions","body":{...OpenAI request...},"deadline_ms":5000}
 * client: {"type":"cancel","id":"a"}
 * server: {"type":"chunk","id":"a","data":{...chat.completion.chunk or text_completion...}}
 * server: {"type":"done","id":"a"}                      (like data: [DONE]; "cancelled":true after a cancel)
 * server: {"type":"error","id":"a","status":400,"error":{"message","type","param","code"}}
 * </pre>
 * Every accepted id ends with exactly one {@code done} or {@code error}; after it the id may be
 * reused. {@code path} defaults to {@code /v1/chat/completions}; the body is always streamed
 * ({@code stream} is forced true, so {@code stream_options.include_usage} works as in SSE).
 *
 * <p>In the gateway roles a {@link Dispatcher} (the gateway) serves each request message: it goes
 * through the same stages as an HTTP request of the same path (admission, usage, the cache) and
 * is routed as that request would be, under the caller the auth decorator authenticated at the
 * upgrade. Without one (the worker role) the engine serves it directly.
 *
 * <p>Design note: each socket subscribes to its inbound frames with unbounded demand (frames are
 * small and handled without blocking: generation is asynchronous) and writes to one outbound
 * {@link WebSocketWriter}, which is thread-safe, from the engine threads. A socket holds at
 * most {@link ServerConfig#maxWsRequests()} generations; when it closes or fails, for any
 * reason, all of its generations are cancelled, as a disconnect cancels an SSE stream.
 */
public final class OpenAiWebSocketService {
    private static final Logger log = LoggerFactory.getLogger(OpenAiWebSocketService.class);

    /**
     * How long a socket whose outbound side has closed waits for the client's close frame before the
     * connection is dropped: 1 s (Armeria's WebSocket default is 5 s, which would hold up shutdown).
     */
    static final Duration CLOSE_HANDSHAKE_TIMEOUT = Duration.ofSeconds(1);

    private final OpenAiService openai;
    private final ServerConfig config;
    private final ServerMetrics metrics;
    private final Dispatcher dispatcher;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();

    /**
     * Serves one request message through another pipeline: the gateway's, in the gateway roles.
     * Called on the socket's event loop.
     */
    @FunctionalInterface
    public interface Dispatcher {
        /**
         * Starts {@code body} (streamed; {@code chat}: a chat completion, else a legacy completion) as if it had been
         * posted with {@code headers} on the socket's connection by the socket's caller. Its events go to {@code sink},
         * ending with exactly one of done, cancelled or error. Returns what cancels it (then {@code sink} gets cancelled).
         */
        Runnable dispatch(ServiceRequestContext socket, RequestHeaders headers, ObjectNode body, boolean chat, OpenAiService.Sink sink);
    }

    public OpenAiWebSocketService(OpenAiService openai, ServerConfig config, ServerMetrics metrics) {
        this(openai, config, metrics, null);
    }

    /** @param dispatcher serves each request message (the gateway), or null: the engine serves them directly */
    public OpenAiWebSocketService(OpenAiService openai, ServerConfig config, ServerMetrics metrics, Dispatcher dispatcher) {
        this.openai = openai;
        this.config = config;
        this.metrics = metrics;
        this.dispatcher = dispatcher;
    }

    /** Request headers of the upgrade that a request message does not inherit (the connection's own, and the body's). */
    private static final Set<String> NOT_INHERITED = Set.of("connection", "upgrade", "sec-websocket-key", "sec-websocket-version",
            "sec-websocket-extensions", "sec-websocket-protocol", "content-length", "content-type", "transfer-encoding", "host",
            "te", "keep-alive", "origin", OpenAiService.DEADLINE_HEADER);

    /** The headers a request message is served with: the upgrade's (credentials, {@code Model-Version}, priority) on its path. */
    private static RequestHeaders messageHeaders(ServiceRequestContext socket, String path, String deadlineMs) {
        com.linecorp.armeria.common.RequestHeadersBuilder b = RequestHeaders.builder(com.linecorp.armeria.common.HttpMethod.POST, path)
                .contentType(com.linecorp.armeria.common.MediaType.JSON_UTF_8);
        socket.request().headers().forEach((k, v) -> {
            String name = k.toString();
            if (!name.startsWith(":") && !NOT_INHERITED.contains(name)) b.add(k, v);
        });
        if (deadlineMs != null) b.set(OpenAiService.DEADLINE_HEADER, deadlineMs);
        return b.build();
    }

    /** A cancel action that may be set after it is asked for (a dispatch can answer before it returns its cancel action). */
    private static final class Cancel implements Runnable {
        private Runnable target;
        private boolean requested;

        synchronized void set(Runnable t) {
            target = t;
            if (requested) t.run();
        }

        @Override
        public void run() {
            Runnable t;
            synchronized (this) {
                requested = true;
                t = target;
            }
            if (t != null) t.run();
        }
    }

    public WebSocketService service() {
        return WebSocketService.builder((ctx, in) -> {
                    Socket s = new Socket(ctx);
                    sockets.add(s);
                    in.subscribe(s, ctx.eventLoop());
                    return s.out;
                })
                .maxFramePayloadLength((int) Math.min(config.maxRequestBytes(), Integer.MAX_VALUE))
                .aggregateContinuation(true)
                // API clients send no Origin; requests authenticate with bearer keys, never cookies, so a
                // cross-site page gains nothing by opening a socket
                .allowedOrigins("*")
                // a socket lives as long as the client wants (no request timeout); each message is bounded by the frame limit
                .serviceOptions(ServiceOptions.builder().requestTimeoutMillis(0).maxRequestLength(0)
                        .requestAutoAbortDelayMillis(CLOSE_HANDSHAKE_TIMEOUT.toMillis()).build())
                .build();
    }

    /** Open sockets. */
    public int openSockets() {
        return sockets.size();
    }

    /** Cancels every socket's generations and closes it with 1001 (going away); for shutdown. */
    public void closeAll() {
        for (Socket s : List.copyOf(sockets)) s.close(WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, "server shutting down");
    }

    private final class Socket implements Subscriber<WebSocketFrame> {
        final ServiceRequestContext ctx;
        final WebSocketWriter out = WebSocket.streaming();
        /** Each request id in flight, and what cancels it. */
        final Map<String, Runnable> runs = new ConcurrentHashMap<>();

        Socket(ServiceRequestContext ctx) {
            this.ctx = ctx;
            out.whenComplete().handle((v, t) -> {
                gone();
                return null;
            });
        }

        @Override
        public void onSubscribe(Subscription s) {
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(WebSocketFrame frame) {
            try (frame) {
                if (frame.type() == WebSocketFrameType.TEXT) handle(frame.text());
                else if (frame.type() == WebSocketFrameType.BINARY) {
                    send(errorMessage(null, OpenAiException.invalid(null, "Binary messages are not supported; send JSON text")));
                } else if (frame.type() == WebSocketFrameType.CLOSE) {
                    close(WebSocketCloseStatus.NORMAL_CLOSURE, "bye");
                }
            }
        }

        @Override
        public void onError(Throwable t) {
            log.debug("websocket inbound failed: {}", t.toString());
            close(t instanceof com.linecorp.armeria.common.ContentTooLargeException
                    ? WebSocketCloseStatus.MESSAGE_TOO_BIG : WebSocketCloseStatus.PROTOCOL_ERROR, "inbound failed");
        }

        @Override
        public void onComplete() {
            close(WebSocketCloseStatus.NORMAL_CLOSURE, "bye");
        }

        void close(WebSocketCloseStatus status, String reason) {
            gone();
            if (!out.isComplete()) {
                out.close(status, reason);
            }
        }

        /** The socket is over: cancel everything it started. */
        void gone() {
            if (!sockets.remove(this)) return;
            for (Runnable cancel : List.copyOf(runs.values())) cancel.run();
        }

        void handle(String text) {
            String id = null;
            try {
                JsonNode msg = OpenAiService.parseJson(text);
                if (!msg.isObject()) throw OpenAiException.invalid(null, "A message must be a JSON object");
                JsonNode idNode = msg.get("id");
                if (idNode == null || !(idNode.isTextual() || idNode.isIntegralNumber())) throw OpenAiException.invalid("id", "'id' (a string) is required");
                id = idNode.asText();
                String type = msg.path("type").asText("request");
                switch (type) {
                    case "cancel" -> {
                        Runnable cancel = runs.get(id);
                        if (cancel != null) cancel.run();
                    }
                    case "request" -> start(id, msg);
                    default -> throw OpenAiException.invalid("type", "'type' must be request or cancel, got '" + type + "'");
                }
            } catch (OpenAiException e) {
                metrics.request("ws", e.status().code());
                send(errorMessage(id, e));
            } catch (dev.sluice.engine.ModelFormatException | IllegalArgumentException e) {
                metrics.request("ws", 400);
                send(errorMessage(id, OpenAiException.invalid(null, e.getMessage())));
            } catch (RuntimeException e) {
                log.error("websocket request failed", e);
                metrics.request("ws", 500);
                send(errorMessage(id, OpenAiException.internal(e)));
            }
        }

        void start(String id, JsonNode msg) {
            if (runs.containsKey(id)) throw OpenAiException.invalid("id", "A request with id '" + id + "' is already in flight on this socket");
            if (runs.size() >= config.maxWsRequests()) {
                throw new OpenAiException(HttpStatus.TOO_MANY_REQUESTS, "rate_limit_error", null, "too_many_requests",
                        "This socket already has " + runs.size() + " generations in flight (limit " + config.maxWsRequests() + ")");
            }
            String path = msg.path("path").asText("/v1/chat/completions");
            boolean chat = switch (path) {
                case "/v1/chat/completions", "chat.completions" -> true;
                case "/v1/completions", "completions" -> false;
                default -> throw OpenAiException.invalid("path", "'path' must be /v1/chat/completions or /v1/completions, got '" + path + "'");
            };
            JsonNode b = msg.get("body");
            if (b == null || !b.isObject()) throw OpenAiException.invalid("body", "'body' (the OpenAI request object) is required");
            ObjectNode body = ((ObjectNode) b).deepCopy();
            body.put("stream", true);
            JsonNode dl = msg.get("deadline_ms");
            String deadlineMs = dl == null || dl.isNull() ? null : dl.asText();
            long deadline = openai.deadlineNanos(deadlineMs);
            if (dispatcher != null) {
                Cancel cancel = new Cancel();
                runs.put(id, cancel);
                metrics.request("ws", 200);
                cancel.set(dispatcher.dispatch(ctx, messageHeaders(ctx, chat ? "/v1/chat/completions" : "/v1/completions", deadlineMs), body, chat, new WsSink(id)));
                if (!sockets.contains(this)) cancel.run();
                return;
            }
            // the caller's credential may be limited to some models (the auth decorator authenticated the upgrade)
            dev.sluice.server.gateway.Principal caller = ctx.attr(dev.sluice.server.gateway.Principal.ATTR);
            JsonNode asked = body.get("model");
            if (caller != null && asked != null && asked.isTextual() && !caller.allows(asked.asText())) throw OpenAiException.modelNotFound(asked.asText());
            InferenceModel model = openai.model(body);
            ChatRequest r = ChatRequest.parse(body, chat);
            OpenAiService.Run run = openai.prepare(model, r, chat, new WsSink(id), deadline);
            runs.put(id, () -> run.cancel(OpenAiService.Run.CLIENT));
            if (!sockets.contains(this)) run.cancel(OpenAiService.Run.CLIENT);
            metrics.request("ws", 200);
            run.begin(ctx.eventLoop());
        }

        void send(ObjectNode msg) {
            out.tryWrite(msg.toString());
        }

        ObjectNode errorMessage(String id, OpenAiException e) {
            ObjectNode m = OpenAiService.JSON.createObjectNode().put("type", "error");
            if (id == null) m.putNull("id");
            else m.put("id", id);
            m.put("status", e.status().code());
            try {
                m.set("error", OpenAiService.JSON.readTree(OpenAiService.errorJson(e)).get("error"));
            } catch (com.fasterxml.jackson.core.JsonProcessingException x) {
                throw new IllegalStateException(x);
            }
            return m;
        }

        /** One request id's stream on this socket. */
        final class WsSink implements OpenAiService.Sink {
            final String id;

            WsSink(String id) {
                this.id = id;
            }

            @Override
            public void chunk(ObjectNode chunk) {
                ObjectNode m = OpenAiService.JSON.createObjectNode().put("type", "chunk").put("id", id);
                m.set("data", chunk);
                send(m);
            }

            @Override
            public void done() {
                runs.remove(id);
                send(OpenAiService.JSON.createObjectNode().put("type", "done").put("id", id));
            }

            @Override
            public void cancelled() {
                runs.remove(id);
                send(OpenAiService.JSON.createObjectNode().put("type", "done").put("id", id).put("cancelled", true));
            }

            @Override
            public void error(OpenAiException e) {
                runs.remove(id);
                send(errorMessage(id, e));
            }
        }
    }
}
