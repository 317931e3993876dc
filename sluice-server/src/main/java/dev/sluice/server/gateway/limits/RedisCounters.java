package dev.sluice.server.gateway.limits;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.distributed.AsyncBucketProxy;
import io.github.bucket4j.distributed.proxy.optimization.Optimizations;
import io.lettuce.core.ScriptOutputType;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Rate-limit state in Redis, shared by every gateway replica: Bucket4j's Lettuce proxy manager
 * (compare-and-swap, done by Bucket4j in a Lua script, so concurrent replicas never lose an
 * update) for the buckets, and a sorted set of leases per concurrency key. Requests on the same
 * bucket in one replica are batched into one compare-and-swap (Bucket4j's batching optimization,
 * exact), so a hot bucket costs one round trip per batch instead of retries under contention.
 *
 * <p>Design note, concurrency slots: a slot is a member of a sorted set scored by its expiry;
 * {@link #ACQUIRE} drops expired members, then adds the lease only when fewer than {@code max}
 * remain, in one script (atomic). A replica that dies mid-request cannot leak its slots beyond
 * {@link #LEASE_TTL_MS}. Every future fails within about two command timeouts when Redis is
 * unreachable; the caller ({@link RateLimiter}) then falls back or fails closed.
 */
final class RedisCounters implements Counters {
    /** Longest a concurrency slot is held without release: 15 min (longer than any request's deadline); then it expires. */
    static final long LEASE_TTL_MS = 15 * 60_000L;

    static final String ACQUIRE = """
            local now = tonumber(ARGV[1])
            redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
            if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
              redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[4])
              redis.call('PEXPIRE', KEYS[1], ARGV[2])
              return 1
            end
            return 0
            """;
    static final String RELEASE = "redis.call('ZREM', KEYS[1], ARGV[1]) return 1";
    static final String COUNT = "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1])) return redis.call('ZCARD', KEYS[1])";

    private final RedisLink link;
    private final String prefix;
    /** Bucket proxies by Redis key, for the connection they were made on; idle ones are dropped after {@link LocalCounters#IDLE_EXPIRY}. */
    private final Cache<String, AsyncBucketProxy> proxies = Caffeine.newBuilder().expireAfterAccess(LocalCounters.IDLE_EXPIRY)
            .maximumSize(LocalCounters.MAX_BUCKETS).build();
    private volatile RedisLink.Handle proxiesOf;

    RedisCounters(RedisLink link, String prefix) {
        this.link = link;
        this.prefix = prefix;
    }

    private CompletableFuture<AsyncBucketProxy> bucket(String key, Limit limit) {
        String k = prefix + "rl:" + key + ":" + limit.tag();
        return link.handle().thenApply(h -> {
            if (proxiesOf != h) {
                proxies.invalidateAll();
                proxiesOf = h;
            }
            // one proxy per bucket, kept, so that the batching optimization can merge concurrent requests
            return proxies.get(k, x -> h.buckets().builder().withOptimization(Optimizations.batching())
                    .build(x, () -> CompletableFuture.completedFuture(limit.bucket())));
        });
    }

    private <T> CompletableFuture<T> bounded(CompletableFuture<T> f) {
        return f.orTimeout(2 * link.commandTimeout().toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public CompletableFuture<Probe> tryConsume(String key, Limit limit, long n) {
        return bounded(bucket(key, limit).thenCompose(b -> b.tryConsumeAndReturnRemaining(n)).thenApply(
                (ConsumptionProbe p) -> new Probe(p.isConsumed(), p.getRemainingTokens(), p.getNanosToWaitForRefill(), p.getNanosToWaitForReset())));
    }

    @Override
    public CompletableFuture<Void> consumeForced(String key, Limit limit, long n) {
        if (n <= 0) return CompletableFuture.completedFuture(null);
        return bounded(bucket(key, limit).thenCompose(b -> b.consumeIgnoringRateLimits(n)).thenApply(x -> null));
    }

    @Override
    public CompletableFuture<Void> refund(String key, Limit limit, long n) {
        if (n <= 0) return CompletableFuture.completedFuture(null);
        return bounded(bucket(key, limit).thenCompose(b -> b.addTokens(n)));
    }

    @Override
    public CompletableFuture<Long> available(String key, Limit limit) {
        return bounded(bucket(key, limit).thenCompose(AsyncBucketProxy::getAvailableTokens));
    }

    private String slotKey(String key) {
        return prefix + "cc:" + key;
    }

    @Override
    public CompletableFuture<Boolean> acquire(String key, int max, String lease) {
        return link.eval(ACQUIRE, ScriptOutputType.INTEGER, new String[]{slotKey(key)},
                Long.toString(System.currentTimeMillis()), Long.toString(LEASE_TTL_MS), Integer.toString(max), lease).thenApply(r -> ((Long) r) == 1L);
    }

    @Override
    public CompletableFuture<Void> release(String key, String lease) {
        return link.eval(RELEASE, ScriptOutputType.INTEGER, new String[]{slotKey(key)}, lease).thenApply(r -> null);
    }

    @Override
    public CompletableFuture<Long> inFlight(String key) {
        return link.eval(COUNT, ScriptOutputType.INTEGER, new String[]{slotKey(key)}, Long.toString(System.currentTimeMillis())).thenApply(r -> (Long) r);
    }
}
