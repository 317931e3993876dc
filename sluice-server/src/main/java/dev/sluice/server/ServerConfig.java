package dev.sluice.server;

import java.time.Duration;

/**
 * Typed, validated configuration of the HTTP server. Every limit has a safe default here.
 *
 * @param host           address to bind; loopback by default (no auth exists yet, so nothing is exposed)
 * @param port           TCP port; 0 picks a free one
 * @param maxRequestBytes largest accepted request body; larger gets 413
 * @param requestTimeout longest a request (including a streamed generation) may take; then it is cancelled
 */
public record ServerConfig(String host, int port, long maxRequestBytes, Duration requestTimeout) {
    /** Default bind address: loopback only. */
    public static final String DEFAULT_HOST = "127.0.0.1";
    /** Default port, as vLLM and llama-server use. */
    public static final int DEFAULT_PORT = 8080;
    /** Default body limit: 10 MiB; large prompts, bounded. */
    public static final long DEFAULT_MAX_REQUEST_BYTES = 10L << 20;
    /** Default request timeout: 10 minutes; long generations on a CPU, bounded. */
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofMinutes(10);

    public ServerConfig {
        if (host == null || host.isBlank()) throw new IllegalArgumentException("server host must not be empty");
        if (port < 0 || port > 65535) throw new IllegalArgumentException("server port must be in [0, 65535], got " + port);
        if (maxRequestBytes <= 0) throw new IllegalArgumentException("max request bytes must be > 0, got " + maxRequestBytes);
        if (requestTimeout == null || requestTimeout.isNegative() || requestTimeout.isZero()) {
            throw new IllegalArgumentException("request timeout must be > 0, got " + requestTimeout);
        }
    }

    public static ServerConfig defaults() {
        return new ServerConfig(DEFAULT_HOST, DEFAULT_PORT, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_REQUEST_TIMEOUT);
    }

    public ServerConfig withPort(int port) {
        return new ServerConfig(host, port, maxRequestBytes, requestTimeout);
    }

    public ServerConfig withHost(String host) {
        return new ServerConfig(host, port, maxRequestBytes, requestTimeout);
    }
}
