package dev.sluice.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;

/**
 * One inference request as it passes through the gateway: parsed once, then read and refined by
 * each stage (resolve, admission, cache, dispatch) in the order {@code DESIGN.md} gives.
 *
 * <p>Design note: the body is a mutable Jackson tree so that a stage may rewrite it (the router
 * sets the upstream's model name, the dispatcher forces {@code stream_options.include_usage});
 * the client's original body is kept in {@link #originalBody()} for cache keys and stored
 * completions. Fields set by stages ({@link #version}, {@link #promptTokens}) are written on the
 * request's event loop before the next stage runs, so plain fields suffice. Not thread-safe.
 */
public final class GatewayRequest {
    /** What the request asks for; selects the route type of rate limits and the response shapes. */
    public enum Kind {
        CHAT("chat"), COMPLETION("completions");

        public final String route;

        Kind(String route) {
            this.route = route;
        }
    }

    private final Kind kind;
    private final RequestHeaders headers;
    private final ObjectNode original;
    private final ObjectNode body;
    private final String model;
    private final long deadlineNanos;
    private Principal principal;
    private String version;
    private int promptTokens = -1;

    public GatewayRequest(Kind kind, RequestHeaders headers, ObjectNode body, Principal principal, long deadlineNanos) {
        this.kind = kind;
        this.headers = headers;
        this.original = body.deepCopy();
        this.body = body;
        this.model = body.path("model").asText();
        this.principal = principal;
        this.deadlineNanos = deadlineNanos;
    }

    public Kind kind() { return kind; }

    public boolean chat() { return kind == Kind.CHAT; }

    public RequestHeaders headers() { return headers; }

    /** The body as it will be sent on; stages may edit it. */
    public ObjectNode body() { return body; }

    /** The body exactly as the client sent it. */
    public ObjectNode originalBody() { return original; }

    /** The public model name (alias) the client asked for. */
    public String model() { return model; }

    public boolean stream() { return body.path("stream").asBoolean(false); }

    /** True when the client asked for a usage chunk at the end of its stream. */
    public boolean includeUsage() { return original.path("stream_options").path("include_usage").asBoolean(false); }

    /** Deterministic requests (temperature 0, or a seed given) may be cached and coalesced. */
    public boolean deterministic() {
        JsonNode t = original.get("temperature");
        boolean greedy = t != null && t.isNumber() && t.asDouble() == 0.0;
        JsonNode seed = original.get("seed");
        return greedy || (seed != null && seed.isIntegralNumber());
    }

    /** {@code max_completion_tokens} or {@code max_tokens}, or -1 when the request sets neither. */
    public int maxTokens() {
        JsonNode m = original.get("max_completion_tokens");
        if (m == null || !m.isIntegralNumber()) m = original.get("max_tokens");
        return m != null && m.isIntegralNumber() ? m.asInt() : -1;
    }

    /** {@code n}, at least 1. */
    public int n() {
        JsonNode n = original.get("n");
        return n != null && n.isIntegralNumber() ? Math.max(1, n.asInt()) : 1;
    }

    public Principal principal() { return principal; }

    public void principal(Principal p) { this.principal = p; }

    /** The model version the router resolved (e.g. {@code stable}, {@code canary}), or null before resolution. */
    public String version() { return version; }

    public void version(String v) { this.version = v; }

    /** Prompt tokens counted before admission, or -1 when not counted. */
    public int promptTokens() { return promptTokens; }

    public void promptTokens(int n) { this.promptTokens = n; }

    /** Absolute deadline, {@link System#nanoTime()} based. */
    public long deadlineNanos() { return deadlineNanos; }

    /** The request to send on: the original headers (content-length recomputed) and the current body. */
    public HttpRequest toHttpRequest() {
        RequestHeaders h = headers.toBuilder().removeAndThen(com.linecorp.armeria.common.HttpHeaderNames.CONTENT_LENGTH)
                .contentType(MediaType.JSON_UTF_8).build();
        return HttpRequest.of(h, HttpData.ofUtf8(body.toString()));
    }
}
