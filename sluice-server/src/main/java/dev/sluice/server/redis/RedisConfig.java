package dev.sluice.server.redis;

import java.time.Duration;

/**
 * The Redis that gateway replicas share for rate limits and the response cache.
 *
 * @param uri            {@code redis://host:port[/db]}; null: no Redis, everything stays in-process
 * @param commandTimeout longest a Redis command may take (default {@value #DEFAULT_COMMAND_TIMEOUT_MS} ms);
 *                       when hit the caller treats Redis as unreachable (limits fall back or fail
 *                       closed as configured, the cache is bypassed): a request never hangs on Redis
 */
public record RedisConfig(String uri, Duration commandTimeout) {
    /** 250 ms: a healthy Redis on the same network answers in well under 1 ms; beyond this it is down for our purposes. */
    public static final long DEFAULT_COMMAND_TIMEOUT_MS = 250;

    public RedisConfig {
        if (uri != null && uri.isBlank()) uri = null;
        if (uri != null && !(uri.startsWith("redis://") || uri.startsWith("rediss://"))) {
            throw new IllegalArgumentException("redis.uri must start with redis:// or rediss://, got '" + uri + "'");
        }
        commandTimeout = commandTimeout == null ? Duration.ofMillis(DEFAULT_COMMAND_TIMEOUT_MS) : commandTimeout;
        if (commandTimeout.isNegative() || commandTimeout.isZero()) throw new IllegalArgumentException("redis.commandTimeout must be positive, got " + commandTimeout);
    }

    public static RedisConfig none() {
        return new RedisConfig(null, null);
    }

    public boolean enabled() {
        return uri != null;
    }

    @Override
    public String toString() {
        return "RedisConfig[uri=" + (uri == null ? null : uri.replaceAll("//[^@/]*@", "//***@")) + ", commandTimeout=" + commandTimeout + "]";
    }
}
