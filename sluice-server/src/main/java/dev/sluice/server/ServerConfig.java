package dev.sluice.server;

import java.time.Duration;

/**
 * Typed, validated configuration of the HTTP server. Every limit has a safe default here, in one
 * place, with its unit and reason; each parameter's doc says what happens when it is hit.
 *
 * @param host            address to bind; loopback by default. Beyond loopback the gateway needs credentials
 *                        (API keys, JWT) or {@code --no-auth} (docs/auth.md)
 * @param port            TCP port; 0 picks a free one
 * @param maxRequestBytes largest accepted request body (and WebSocket message); a larger one gets
 *                        413 with an OpenAI error body ({@code code: request_too_large}); on a
 *                        WebSocket the request gets an error message and the socket is closed
 *                        with status 1009 (message too big)
 * @param requestTimeout  longest a request may take, generation included, unless the client asks
 *                        for a shorter deadline ({@code X-Sluice-Deadline-Ms}); when hit, the
 *                        generation is cancelled: a plain response becomes 504
 *                        ({@code code: deadline_exceeded}), a stream ends with that error event
 * @param idleTimeout     a connection with no request in flight for this long is closed; this is
 *                        also the header timeout: a connection that has not completed its request
 *                        headers is idle and closed after it
 * @param maxHeaderBytes  largest request header block (HTTP/1 headers, HTTP/2 header list); a larger
 *                        one gets 431 (HTTP/1: the request line is also bounded by this)
 * @param maxTokensCap    server-wide cap on {@code max_tokens}/{@code max_completion_tokens}; a request
 *                        asking for more gets 400 naming the param; a request asking for none gets
 *                        {@code min(cap, context - prompt)}
 * @param drainTimeout    on shutdown, how long in-flight generations may run to completion after the
 *                        server stops accepting; the rest are cancelled and their streams end with a
 *                        {@code server_shutdown} error event (plain requests get 503)
 * @param maxWsRequests   most generations in flight on one WebSocket; one more gets an error message
 *                        ({@code code: too_many_requests}) for its id, the others continue
 */
public record ServerConfig(String host, int port, long maxRequestBytes, Duration requestTimeout, Duration idleTimeout,
                           int maxHeaderBytes, int maxTokensCap, Duration drainTimeout, int maxWsRequests) {
    /** Default bind address: loopback only. */
    public static final String DEFAULT_HOST = "127.0.0.1";
    /** Default port, as vLLM and llama-server use. */
    public static final int DEFAULT_PORT = 8080;
    /** Default body limit: 10 MiB; large prompts, bounded. */
    public static final long DEFAULT_MAX_REQUEST_BYTES = 10L << 20;
    /** Default request timeout: 10 minutes; long generations on a CPU, bounded. */
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofMinutes(10);
    /** Default idle (and header) timeout: 30 s; keeps keep-alive connections of slow clients, drops stalled ones. */
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(30);
    /** Default header limit: 16 KiB; room for long bearer tokens, far below anything abusive. */
    public static final int DEFAULT_MAX_HEADER_BYTES = 16 << 10;
    /** Default max_tokens cap: 4096 tokens; a long answer, and a bounded one on a shared server. */
    public static final int DEFAULT_MAX_TOKENS_CAP = 4096;
    /** Default drain timeout, seconds: 30; lets most streams finish, and fits Kubernetes' 30 s termination grace. */
    public static final int DEFAULT_DRAIN_TIMEOUT_SECONDS = 30;
    /** {@link #DEFAULT_DRAIN_TIMEOUT_SECONDS} as a duration. */
    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(DEFAULT_DRAIN_TIMEOUT_SECONDS);
    /** Default generations per WebSocket: 64; a busy multiplexing client, bounded. */
    public static final int DEFAULT_MAX_WS_REQUESTS = 64;

    public ServerConfig {
        if (host == null || host.isBlank()) throw new IllegalArgumentException("server host must not be empty");
        if (port < 0 || port > 65535) throw new IllegalArgumentException("server port must be in [0, 65535], got " + port);
        if (maxRequestBytes <= 0 || maxRequestBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("max request bytes must be in [1, 2^31), got " + maxRequestBytes);
        }
        positive("request timeout", requestTimeout);
        positive("idle timeout", idleTimeout);
        positive("drain timeout", drainTimeout);
        if (maxHeaderBytes < 1024) throw new IllegalArgumentException("max header bytes must be >= 1024, got " + maxHeaderBytes);
        if (maxTokensCap < 1) throw new IllegalArgumentException("max tokens cap must be >= 1, got " + maxTokensCap);
        if (maxWsRequests < 1) throw new IllegalArgumentException("max WebSocket requests must be >= 1, got " + maxWsRequests);
    }

    private static void positive(String what, Duration d) {
        if (d == null || d.isNegative() || d.isZero()) throw new IllegalArgumentException(what + " must be > 0, got " + d);
    }

    public static ServerConfig defaults() {
        return new ServerConfig(DEFAULT_HOST, DEFAULT_PORT, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_REQUEST_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
                DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_TOKENS_CAP, DEFAULT_DRAIN_TIMEOUT, DEFAULT_MAX_WS_REQUESTS);
    }

    public ServerConfig withPort(int port) {
        return new ServerConfig(host, port, maxRequestBytes, requestTimeout, idleTimeout, maxHeaderBytes, maxTokensCap, drainTimeout, maxWsRequests);
    }

    public ServerConfig withHost(String host) {
        return new ServerConfig(host, port, maxRequestBytes, requestTimeout, idleTimeout, maxHeaderBytes, maxTokensCap, drainTimeout, maxWsRequests);
    }

    public ServerConfig withMaxRequestBytes(long maxRequestBytes) {
        return new ServerConfig(host, port, maxRequestBytes, requestTimeout, idleTimeout, maxHeaderBytes, maxTokensCap, drainTimeout, maxWsRequests);
    }

    public ServerConfig withRequestTimeout(Duration requestTimeout) {
        return new ServerConfig(host, port, maxRequestBytes, requestTimeout, idleTimeout, maxHeaderBytes, maxTokensCap, drainTimeout, maxWsRequests);
    }

    public ServerConfig withIdleTimeout(Duration idleTimeout) {
        return new ServerConfig(host, port, maxRequestBytes, requestTimeout, idleTimeout, maxHeaderBytes, maxTokensCap, drainTimeout, maxWsRequests);
    }

    public ServerConfig withMaxHeaderBytes(int maxHeaderBytes) {
        return new ServerConfig(host, port, maxRequestBytes, requestTimeout, idleTimeout, maxHeaderBytes, maxTokensCap, drainTimeout, maxWsRequests);
    }

    public ServerConfig withMaxTokensCap(int maxTokensCap) {
        return new ServerConfig(host, port, maxRequestBytes, requestTimeout, idleTimeout, maxHeaderBytes, maxTokensCap, drainTimeout, maxWsRequests);
    }

    public ServerConfig withDrainTimeout(Duration drainTimeout) {
        return new ServerConfig(host, port, maxRequestBytes, requestTimeout, idleTimeout, maxHeaderBytes, maxTokensCap, drainTimeout, maxWsRequests);
    }

    public ServerConfig withMaxWsRequests(int maxWsRequests) {
        return new ServerConfig(host, port, maxRequestBytes, requestTimeout, idleTimeout, maxHeaderBytes, maxTokensCap, drainTimeout, maxWsRequests);
    }
}
