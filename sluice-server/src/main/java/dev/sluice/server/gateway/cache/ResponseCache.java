package dev.sluice.server.gateway.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.sluice.server.redis.Redis;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.cache.CaffeineCacheMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The two cache levels, read through: Caffeine in-process (bounded by bytes and TTL), then Redis
 * (TTL), when {@code redis.uri} is set. Values are the answer's canonical JSON bytes.
 *
 * <p>Design note, Redis outages: every Redis call is asynchronous (Lettuce's async API, never a
 * blocking call on an event loop) and bounded by {@code redis.commandTimeout} (Lettuce's timeout,
 * plus a backstop here). Any failure (refused while disconnected, timed out, cannot connect) makes
 * the lookup a miss and the write a no-op: the request goes on to the engine, never fails, never
 * hangs. Failures count in {@code sluice_cache_redis_errors_total{op}}; the first after a success
 * logs a warning, and {@code sluice_cache_redis_up} reads 0 until a call succeeds again (logged
 * too). After a failure Redis is skipped for {@value #REDIS_BACKOFF_MS} ms, so a Redis that stalls
 * costs one timeout per second, not one per request. The connection is opened in the background at
 * start (a request waits at most the command timeout for it), re-tried at most once per backoff
 * while it cannot be opened; once open, Lettuce reconnects by itself.
 * Thread-safe.
 */
final class ResponseCache implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ResponseCache.class);
    /** How long Redis is skipped after a failure: 1 s (a request pays at most one timeout per second while Redis stalls). */
    static final long REDIS_BACKOFF_MS = 1000;
    /** Bytes counted per entry besides its JSON: the key and the entry's bookkeeping. */
    static final int ENTRY_OVERHEAD_BYTES = 160;

    /** One cached answer and how long it lives in memory. */
    record Entry(byte[] json, long ttlNanos) {}

    private final Cache<String, Entry> memory;
    private final Redis redis;
    private final String prefix;
    private final Duration timeout;
    private final Counter redisGetErrors, redisSetErrors, redisConnectErrors;
    private CompletableFuture<StatefulRedisConnection<String, byte[]>> connecting; // guarded by this
    private volatile StatefulRedisConnection<String, byte[]> connection;
    private volatile long skipUntilNanos;
    private volatile boolean redisUp = true;
    private volatile boolean closed;

    ResponseCache(CacheConfig config, Redis redis, MeterRegistry metrics, Ticker ticker) {
        this.redis = redis;
        this.prefix = config.redisKeyPrefix();
        this.timeout = redis == null ? Duration.ZERO : redis.config().commandTimeout();
        if (config.maxBytes() > 0) {
            memory = Caffeine.newBuilder()
                    .maximumWeight(config.maxBytes())
                    .weigher((String k, Entry v) -> v.json.length + ENTRY_OVERHEAD_BYTES)
                    .expireAfter(Expiry.creating((String k, Entry v) -> Duration.ofNanos(v.ttlNanos)))
                    .ticker(ticker)
                    .recordStats()
                    .build();
            CaffeineCacheMetrics.monitor(metrics, memory, "sluice_response_cache");
            Gauge.builder("sluice.cache.memory_bytes", memory, c -> c.policy().eviction().map(e -> e.weightedSize().orElse(0)).orElse(0L))
                    .description("Bytes held by the in-process cache level").baseUnit("bytes").register(metrics);
        } else {
            memory = null;
        }
        redisGetErrors = redisErrors(metrics, "get");
        redisSetErrors = redisErrors(metrics, "set");
        redisConnectErrors = redisErrors(metrics, "connect");
        if (redis != null) {
            connect(); // in the background, so that the first request finds it open
            Gauge.builder("sluice.cache.redis_up", this, c -> c.redisUp ? 1 : 0)
                    .description("1 while the cache's Redis level answers, 0 while it is bypassed").register(metrics);
        }
    }

    private static Counter redisErrors(MeterRegistry metrics, String op) {
        return Counter.builder("sluice.cache.redis_errors").description("Redis cache calls that failed (the cache was bypassed)")
                .tag("op", op).register(metrics);
    }

    boolean hasRedis() {
        return redis != null;
    }

    /** The in-process entry, or null. */
    byte[] memory(String key) {
        if (memory == null) return null;
        Entry e = memory.getIfPresent(key);
        return e == null ? null : e.json;
    }

    /**
     * The Redis entry (which is then kept in memory for {@code memoryTtl}), or null on a miss or any
     * failure; completes within about the command timeout, never exceptionally, on a Redis thread.
     */
    CompletableFuture<byte[]> redis(String key, Duration memoryTtl) {
        return connection().thenCompose(c -> {
            if (c == null) return CompletableFuture.completedFuture(null);
            try {
                return c.async().get(prefix + key).toCompletableFuture()
                        .orTimeout(timeout.toMillis() + 100, TimeUnit.MILLISECONDS)
                        .handle((v, t) -> {
                            if (t != null) {
                                failed(redisGetErrors, "GET", t);
                                return null;
                            }
                            succeeded();
                            if (v != null && memory != null) memory.put(key, new Entry(v, memoryTtl.toNanos()));
                            return v;
                        });
            } catch (RuntimeException e) {
                failed(redisGetErrors, "GET", e);
                return CompletableFuture.completedFuture(null);
            }
        });
    }

    /** Writes both levels; Redis asynchronously, its failure counted and otherwise ignored. */
    void put(String key, byte[] json, Duration memoryTtl, Duration redisTtl) {
        if (memory != null) memory.put(key, new Entry(json, memoryTtl.toNanos()));
        connection().thenAccept(c -> {
            if (c == null) return;
            try {
                c.async().set(prefix + key, json, SetArgs.Builder.px(redisTtl.toMillis())).toCompletableFuture()
                        .orTimeout(timeout.toMillis() + 100, TimeUnit.MILLISECONDS)
                        .whenComplete((v, t) -> {
                            if (t != null) failed(redisSetErrors, "SET", t);
                            else succeeded();
                        });
            } catch (RuntimeException e) {
                failed(redisSetErrors, "SET", e);
            }
        });
    }

    /** Drops {@code key} from the in-process level (tests; operators flush Redis by prefix). */
    void invalidateMemory(String key) {
        if (memory != null) memory.invalidate(key);
    }

    /**
     * The open connection; null (at once) while backing off after a failure, or when none opens within
     * the command timeout (the connect goes on in the background for the next request). Never fails.
     */
    private CompletableFuture<StatefulRedisConnection<String, byte[]>> connection() {
        if (redis == null || closed || System.nanoTime() - skipUntilNanos < 0) return CompletableFuture.completedFuture(null);
        StatefulRedisConnection<String, byte[]> c = connection;
        if (c != null) return CompletableFuture.completedFuture(c);
        return connect().copy().completeOnTimeout(null, timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** The connect in progress, or a new one; completes with null when it fails. */
    private synchronized CompletableFuture<StatefulRedisConnection<String, byte[]>> connect() {
        if (connecting != null) return connecting;
        RedisURI uri = RedisURI.create(redis.config().uri());
        // the handshake gets the connect timeout (4x the command timeout): on a busy start-up 250 ms is too tight;
        // commands keep the client's fixed command timeout (TimeoutOptions) and the backstop here
        uri.setTimeout(timeout.multipliedBy(4));
        CompletableFuture<StatefulRedisConnection<String, byte[]>> f;
        try {
            f = redis.client().connectAsync(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE), uri).toCompletableFuture();
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        connecting = f.orTimeout(timeout.toMillis() * 4 + 1000, TimeUnit.MILLISECONDS).handle((c, t) -> {
            synchronized (this) {
                connecting = null;
            }
            if (t != null) {
                failed(redisConnectErrors, "connect", t);
                return null;
            }
            if (closed) {
                c.closeAsync();
                return null;
            }
            connection = c;
            succeeded();
            return c;
        });
        CompletableFuture<StatefulRedisConnection<String, byte[]>> r = connecting;
        if (r.isDone()) connecting = null; // completed on this thread: its callback ran before the assignment
        return r;
    }

    private void failed(Counter counter, String op, Throwable t) {
        counter.increment();
        skipUntilNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(REDIS_BACKOFF_MS);
        if (redisUp) {
            redisUp = false;
            Throwable root = t;
            while (root.getCause() != null && root.getCause() != root) root = root.getCause();
            log.warn("redis {} failed ({}): the response cache's Redis level is bypassed until Redis answers again; requests go on",
                    op, root.toString());
        }
    }

    private void succeeded() {
        if (!redisUp) {
            redisUp = true;
            log.info("redis answers again: the response cache's Redis level is back");
        }
    }

    /** True while the last Redis call succeeded. */
    boolean redisUp() {
        return redisUp;
    }

    @Override
    public void close() {
        closed = true;
        StatefulRedisConnection<String, byte[]> c = connection;
        connection = null;
        if (c != null) c.close();
    }
}
