package dev.sluice.server.gateway.limits;

import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.BucketConfiguration;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * Where rate-limit state lives: token buckets (Bucket4j) and concurrency slots, in-process
 * ({@link LocalCounters}) or in Redis ({@link RedisCounters}). Every operation is asynchronous and
 * never blocks the caller; a Redis operation fails (exceptionally completes) within the Redis
 * command timeout.
 */
interface Counters extends AutoCloseable {
    /** A bucket's size: {@code capacity} per minute, refilled greedily or once a minute. */
    record Limit(long capacity, boolean interval) {
        static final Duration PERIOD = Duration.ofMinutes(1);

        BucketConfiguration bucket() {
            Bandwidth b = interval
                    ? Bandwidth.builder().capacity(capacity).refillIntervally(capacity, PERIOD).build()
                    : Bandwidth.builder().capacity(capacity).refillGreedy(capacity, PERIOD).build();
            return BucketConfiguration.builder().addLimit(b).build();
        }

        /** This limit divided among {@code replicas}, at least 1. */
        Limit divided(int replicas) {
            return new Limit(Math.max(1, capacity / replicas), interval);
        }

        /** Part of the bucket's key: a changed limit starts a fresh bucket rather than reusing another size's state. */
        String tag() {
            return capacity + (interval ? "i" : "g");
        }
    }

    /**
     * The result of taking from a bucket.
     *
     * @param consumed     true when the tokens were taken
     * @param remaining    tokens left after this attempt
     * @param nanosToRefill when not consumed, how long until enough tokens are back
     * @param nanosToReset how long until the bucket is full again
     */
    record Probe(boolean consumed, long remaining, long nanosToRefill, long nanosToReset) {}

    /** Takes {@code n} tokens if all are there. */
    CompletableFuture<Probe> tryConsume(String key, Limit limit, long n);

    /** Takes {@code n} tokens even if that leaves the bucket in debt (settling completion tokens). */
    CompletableFuture<Void> consumeForced(String key, Limit limit, long n);

    /** Gives back {@code n} tokens (up to the capacity): a request refused by another bucket. */
    CompletableFuture<Void> refund(String key, Limit limit, long n);

    /** Takes one of {@code max} concurrency slots under {@code lease}; false when all are taken. */
    CompletableFuture<Boolean> acquire(String key, int max, String lease);

    /** Frees the slot held by {@code lease}; freeing twice is harmless. */
    CompletableFuture<Void> release(String key, String lease);

    /** Tokens in a bucket now (negative while in debt), for tests and the admin view. */
    CompletableFuture<Long> available(String key, Limit limit);

    /** Slots held now (for tests and the admin view). */
    CompletableFuture<Long> inFlight(String key);

    @Override
    default void close() {}
}
