package dev.sluice.server.gateway.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpHeaderNames;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpResponseWriter;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import com.linecorp.armeria.common.ResponseHeaders;
import com.linecorp.armeria.server.Server;
import com.linecorp.armeria.server.ServiceRequestContext;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fake OpenAI-compatible upstream for tests: a real Armeria server on loopback serving
 * {@code /v1/chat/completions} and {@code /v1/completions} (plain and SSE), {@code /v1/models} and
 * {@code /health}, which injects faults on demand.
 *
 * <p>The behaviour of a request is, first match: the {@value #BEHAVIOR_HEADER} request header
 * (a {@link Behavior} name), the next one queued with {@link #next}, or the global one set with
 * {@link #behave} (default {@link Behavior#NORMAL}). It answers {@link #words()} one chunk per word
 * ("Hello", " from", " " + name, "!"), and usage (prompt tokens = words of the prompt, completion
 * tokens = chunks) unless told not to. Every request is recorded ({@link #requests()}).
 */
public final class FakeUpstream implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final String BEHAVIOR_HEADER = "x-fake-behavior";

    /** What the fake does with a request. */
    public enum Behavior {
        /** Answers at once; usage included (in streams when asked for). */
        NORMAL,
        /** Never answers: no headers, nothing. */
        STALL_BEFORE_HEADERS,
        /** Sends 200 headers of a stream, then nothing. */
        STALL_FIRST_TOKEN,
        /** Streams two chunks, then nothing more (the connection stays open). */
        STALL_MID_STREAM,
        /** Resets the connection before any headers. */
        RESET_BEFORE_HEADERS,
        /** Streams two chunks, then resets the connection. */
        RESET_MID_STREAM,
        /** Answers {@link #errorStatus} (500 unless set) with an OpenAI error body. */
        ERROR_5XX,
        /** Streams with {@link #trickleDelay} between chunks. */
        SLOW_TRICKLE,
        /** Answers normally but never reports usage. */
        NO_USAGE
    }

    /** A request as the fake received it. */
    public record Recorded(RequestHeaders headers, JsonNode body, Behavior behavior) {}

    private final String name;
    private final Server server;
    private volatile Behavior global = Behavior.NORMAL;
    private final ConcurrentLinkedQueue<Behavior> queued = new ConcurrentLinkedQueue<>();
    private final List<Recorded> requests = new CopyOnWriteArrayList<>();
    private final AtomicInteger healthChecks = new AtomicInteger();
    private volatile boolean healthy = true;
    private volatile int errorStatus = 500;
    private volatile Duration trickleDelay = Duration.ofMillis(50);
    private volatile List<String> words;

    public FakeUpstream(String name) {
        this.name = name;
        this.words = List.of("Hello", " from", " " + name, "!");
        this.server = Server.builder()
                .http(new InetSocketAddress("127.0.0.1", 0))
                .requestTimeout(Duration.ZERO)
                .idleTimeout(Duration.ofSeconds(30))
                .service("/v1/chat/completions", (ctx, req) -> handle(ctx, req, true))
                .service("/v1/completions", (ctx, req) -> handle(ctx, req, false))
                .service("/v1/models", (ctx, req) -> HttpResponse.ofJson(JSON.createObjectNode().put("object", "list")
                        .set("data", JSON.createArrayNode().add(JSON.createObjectNode().put("id", "fake-" + name).put("object", "model")))))
                .service("/health", (ctx, req) -> {
                    healthChecks.incrementAndGet();
                    return HttpResponse.of(healthy ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
                })
                .gracefulShutdownTimeout(Duration.ZERO, Duration.ZERO)
                .build();
        server.start().join();
    }

    /** Starts a fake upstream named {@code name} on a free loopback port. */
    public static FakeUpstream start(String name) {
        return new FakeUpstream(name);
    }

    public String name() { return name; }

    public int port() { return server.activeLocalPort(); }

    /** The OpenAI base URL, {@code http://127.0.0.1:PORT/v1}. */
    public String baseUrl() { return "http://127.0.0.1:" + port() + "/v1"; }

    /** Sets the behaviour of every request that names none and has none queued. */
    public FakeUpstream behave(Behavior b) {
        global = b;
        return this;
    }

    /** Queues behaviours for the next requests, in order. */
    public FakeUpstream next(Behavior... bs) {
        queued.addAll(List.of(bs));
        return this;
    }

    public FakeUpstream healthy(boolean h) {
        healthy = h;
        return this;
    }

    public FakeUpstream errorStatus(int status) {
        errorStatus = status;
        return this;
    }

    public FakeUpstream trickleDelay(Duration d) {
        trickleDelay = d;
        return this;
    }

    public FakeUpstream words(List<String> w) {
        words = List.copyOf(w);
        return this;
    }

    public List<String> words() { return words; }

    /** The whole completion text. */
    public String text() { return String.join("", words); }

    public List<Recorded> requests() { return requests; }

    public int healthChecks() { return healthChecks.get(); }

    /** Inference requests received (health checks not counted). */
    public int count() { return requests.size(); }

    private HttpResponse handle(ServiceRequestContext ctx, HttpRequest req, boolean chat) {
        return HttpResponse.of(req.aggregate().thenApply(agg -> {
            JsonNode body;
            try {
                body = JSON.readTree(agg.contentUtf8());
            } catch (Exception e) {
                return HttpResponse.of(HttpStatus.BAD_REQUEST, MediaType.JSON_UTF_8, "{\"error\":{\"message\":\"bad json\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}");
            }
            String h = agg.headers().get(BEHAVIOR_HEADER);
            Behavior q = queued.poll();
            Behavior b = h != null ? Behavior.valueOf(h.toUpperCase(Locale.ROOT)) : q != null ? q : global;
            requests.add(new Recorded(agg.headers(), body, b));
            return respond(ctx, body, chat, b);
        }));
    }

    private HttpResponse respond(ServiceRequestContext ctx, JsonNode body, boolean chat, Behavior b) {
        boolean stream = body.path("stream").asBoolean(false);
        boolean usage = b != Behavior.NO_USAGE;
        String model = body.path("model").asText("fake");
        int promptTokens = promptWords(body, chat);
        List<String> w = words;
        switch (b) {
            case STALL_BEFORE_HEADERS:
                return HttpResponse.streaming(); // never written
            case RESET_BEFORE_HEADERS: {
                ctx.eventLoop().schedule(() -> ctx.cancel(), 5, TimeUnit.MILLISECONDS);
                return HttpResponse.streaming();
            }
            case ERROR_5XX:
                return HttpResponse.of(HttpStatus.valueOf(errorStatus), MediaType.JSON_UTF_8,
                        "{\"error\":{\"message\":\"fake " + name + " failed\",\"type\":\"server_error\",\"param\":null,\"code\":null}}");
            default:
                break;
        }
        if (!stream) {
            ObjectNode o = JSON.createObjectNode().put("id", "cmpl-" + name).put("object", chat ? "chat.completion" : "text_completion")
                    .put("created", 1).put("model", model);
            ObjectNode c = o.putArray("choices").addObject().put("index", 0);
            if (chat) c.putObject("message").put("role", "assistant").put("content", String.join("", w));
            else c.put("text", String.join("", w));
            c.put("finish_reason", "stop");
            if (usage) o.putObject("usage").put("prompt_tokens", promptTokens).put("completion_tokens", w.size()).put("total_tokens", promptTokens + w.size());
            return HttpResponse.ofJson(o);
        }
        boolean wantUsage = usage && body.path("stream_options").path("include_usage").asBoolean(false);
        HttpResponseWriter out = HttpResponse.streaming();
        out.write(ResponseHeaders.builder(HttpStatus.OK).contentType(MediaType.EVENT_STREAM).add(HttpHeaderNames.CACHE_CONTROL, "no-cache").build());
        if (b == Behavior.STALL_FIRST_TOKEN) return out;
        long delay = b == Behavior.SLOW_TRICKLE ? trickleDelay.toMillis() : 0;
        List<String> events = new java.util.ArrayList<>();
        for (int i = 0; i < w.size(); i++) {
            ObjectNode ch = chunk(chat, model);
            ObjectNode c = ch.withArray("choices").addObject().put("index", 0);
            if (chat) {
                ObjectNode d = c.putObject("delta");
                if (i == 0) d.put("role", "assistant");
                d.put("content", w.get(i));
            } else {
                c.put("text", w.get(i));
            }
            if (i == w.size() - 1) c.put("finish_reason", "stop");
            else c.putNull("finish_reason");
            events.add("data: " + ch + "\n\n");
        }
        if (wantUsage) {
            ObjectNode ch = chunk(chat, model);
            ch.putArray("choices");
            ch.putObject("usage").put("prompt_tokens", promptTokens).put("completion_tokens", w.size()).put("total_tokens", promptTokens + w.size());
            events.add("data: " + ch + "\n\n");
        }
        events.add("data: [DONE]\n\n");
        int cut = switch (b) {
            case RESET_MID_STREAM, STALL_MID_STREAM -> Math.min(2, events.size());
            default -> events.size();
        };
        send(ctx, out, events, 0, cut, delay, b);
        return out;
    }

    private void send(ServiceRequestContext ctx, HttpResponseWriter out, List<String> events, int i, int cut, long delayMs, Behavior b) {
        if (!out.isOpen()) return;
        if (i == cut) {
            // reset only once what was written has left (an abort drops writes still queued)
            if (b == Behavior.RESET_MID_STREAM) out.whenConsumed().thenRun(() -> ctx.eventLoop().schedule(() -> out.abort(), 20, TimeUnit.MILLISECONDS));
            else if (b != Behavior.STALL_MID_STREAM) out.close();
            return;
        }
        out.tryWrite(HttpData.ofUtf8(events.get(i)));
        if (delayMs > 0) ctx.eventLoop().schedule(() -> send(ctx, out, events, i + 1, cut, delayMs, b), delayMs, TimeUnit.MILLISECONDS);
        else send(ctx, out, events, i + 1, cut, delayMs, b);
    }

    private ObjectNode chunk(boolean chat, String model) {
        return JSON.createObjectNode().put("id", "cmpl-" + name).put("object", chat ? "chat.completion.chunk" : "text_completion")
                .put("created", 1).put("model", model);
    }

    /** The prompt's words, as the fake's "tokens". */
    static int promptWords(JsonNode body, boolean chat) {
        StringBuilder sb = new StringBuilder();
        if (chat) for (JsonNode m : body.path("messages")) sb.append(' ').append(m.path("content").asText(""));
        else sb.append(body.path("prompt").asText(""));
        String s = sb.toString().trim();
        return s.isEmpty() ? 0 : s.split("\\s+").length;
    }

    @Override
    public void close() {
        server.stop(); // not joined: Netty's boss group takes 2 s of quiet period to go, and nothing here waits on it
    }
}
