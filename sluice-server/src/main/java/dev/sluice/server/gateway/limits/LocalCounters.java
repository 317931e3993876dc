package dev.sluice.server.gateway.limits;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * In-process rate-limit state: Bucket4j's lock-free local buckets and a count per concurrency key.
 *
 * <p>Design note: buckets sit in a Caffeine cache that forgets a bucket idle for
 * {@link #IDLE_EXPIRY} (by then it has refilled, so forgetting it changes nothing) and holds at
 * most {@link #MAX_BUCKETS}, so a flood of distinct users cannot grow memory without bound.
 * Concurrency counts live in a map whose entry is removed when its count returns to zero.
 * Thread-safe; every operation completes before it returns.
 */
final class LocalCounters implements Counters {
    /** A bucket idle this long is full again (limits are per minute) and may be forgotten: 5 min, leaving room for debt. */
    static final Duration IDLE_EXPIRY = Duration.ofMinutes(5);
    /** Most buckets kept: 1,000,000 (~200 bytes each); beyond it the least recently used go first. */
    static final long MAX_BUCKETS = 1_000_000;

    private final Cache<String, Bucket> buckets = Caffeine.newBuilder().expireAfterAccess(IDLE_EXPIRY).maximumSize(MAX_BUCKETS).build();
    private final ConcurrentHashMap<String, ConcurrentHashMap<String, Boolean>> slots = new ConcurrentHashMap<>();

    private Bucket bucket(String key, Limit limit) {
        return buckets.get(key + ":" + limit.tag(), k -> Bucket.builder().addLimit(limit.bucket().getBandwidths()[0]).build());
    }

    @Override
    public CompletableFuture<Probe> tryConsume(String key, Limit limit, long n) {
        ConsumptionProbe p = bucket(key, limit).tryConsumeAndReturnRemaining(n);
        return CompletableFuture.completedFuture(new Probe(p.isConsumed(), p.getRemainingTokens(), p.getNanosToWaitForRefill(), p.getNanosToWaitForReset()));
    }

    @Override
    public CompletableFuture<Void> consumeForced(String key, Limit limit, long n) {
        if (n > 0) bucket(key, limit).consumeIgnoringRateLimits(n);
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Void> refund(String key, Limit limit, long n) {
        if (n > 0) bucket(key, limit).addTokens(n);
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Long> available(String key, Limit limit) {
        return CompletableFuture.completedFuture(bucket(key, limit).getAvailableTokens());
    }

    @Override
    public CompletableFuture<Boolean> acquire(String key, int max, String lease) {
        boolean[] ok = {false};
        slots.compute(key, (k, held) -> {
            if (held == null) held = new ConcurrentHashMap<>();
            if (held.size() < max) {
                held.put(lease, Boolean.TRUE);
                ok[0] = true;
            }
            return held.isEmpty() ? null : held;
        });
        return CompletableFuture.completedFuture(ok[0]);
    }

    @Override
    public CompletableFuture<Void> release(String key, String lease) {
        slots.computeIfPresent(key, (k, held) -> {
            held.remove(lease);
            return held.isEmpty() ? null : held;
        });
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Long> inFlight(String key) {
        var held = slots.get(key);
        return CompletableFuture.completedFuture(held == null ? 0L : held.size());
    }
}
