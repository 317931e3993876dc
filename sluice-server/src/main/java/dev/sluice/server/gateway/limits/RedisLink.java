package dev.sluice.server.gateway.limits;

import dev.sluice.server.redis.Redis;
import io.github.bucket4j.distributed.ExpirationAfterWriteStrategy;
import io.github.bucket4j.distributed.proxy.AsyncProxyManager;
import io.github.bucket4j.redis.lettuce.Bucket4jLettuce;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The limits concern's one Redis connection (string keys, byte values, as Bucket4j needs) and
 * the Bucket4j proxy manager over it, connected lazily and reconnected after a failure.
 *
 * <p>Design note: the shared {@link Redis} client fails commands at once while disconnected and
 * times them out after its command timeout, but its first connect is synchronous and throws; a
 * gateway must start (and fall back) even when Redis is down, so the connection is opened here
 * asynchronously, at most once per {@link #RECONNECT_INTERVAL}, and every caller gets a future
 * that fails fast while Redis is unreachable. Thread-safe.
 */
final class RedisLink implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RedisLink.class);
    /** Wait between connection attempts while Redis is unreachable: 1 s. */
    static final Duration RECONNECT_INTERVAL = Duration.ofSeconds(1);
    private static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);

    record Handle(StatefulRedisConnection<String, byte[]> connection, AsyncProxyManager<String> buckets) {}

    private final Redis redis;
    private final RedisURI uri;
    private volatile CompletableFuture<Handle> current;
    private volatile long lastAttempt;
    private volatile boolean closed;

    RedisLink(Redis redis) {
        this.redis = redis;
        this.uri = RedisURI.create(redis.config().uri());
        uri.setTimeout(redis.config().commandTimeout());
        current = connect();
    }

    Duration commandTimeout() {
        return redis.config().commandTimeout();
    }

    private CompletableFuture<Handle> connect() {
        lastAttempt = System.nanoTime();
        return redis.client().connectAsync(CODEC, uri).toCompletableFuture().thenApply(c -> {
            AsyncProxyManager<String> pm = Bucket4jLettuce.casBasedBuilder(c)
                    .expirationAfterWrite(ExpirationAfterWriteStrategy.basedOnTimeForRefillingBucketUpToMax(Duration.ofMinutes(2)))
                    .requestTimeout(redis.config().commandTimeout())
                    .build().asAsync();
            if (closed) c.closeAsync();
            return new Handle(c, pm);
        });
    }

    /** The connection, or a future failed fast when Redis cannot be reached now. */
    CompletableFuture<Handle> handle() {
        CompletableFuture<Handle> c = current;
        if (c.isCompletedExceptionally() && System.nanoTime() - lastAttempt > RECONNECT_INTERVAL.toNanos() && !closed) {
            synchronized (this) {
                if (current == c) {
                    log.debug("reconnecting to redis");
                    current = c = connect();
                }
            }
        }
        return c;
    }

    /** Runs a Lua script; the result as Redis returns it (Long for integers). */
    CompletableFuture<Object> eval(String script, ScriptOutputType type, String[] keys, String... args) {
        byte[][] values = new byte[args.length][];
        for (int i = 0; i < args.length; i++) values[i] = args[i].getBytes(StandardCharsets.UTF_8);
        return handle().thenCompose(h -> h.connection().async().eval(script, type, keys, values).toCompletableFuture())
                .orTimeout(2 * commandTimeout().toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        closed = true;
        CompletableFuture<Handle> c = current;
        if (c.isDone() && !c.isCompletedExceptionally()) c.join().connection().close();
    }
}
