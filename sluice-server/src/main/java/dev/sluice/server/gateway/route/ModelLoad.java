package dev.sluice.server.gateway.route;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * The load on one public model, for overload decisions: requests in flight, and the arrival rate over the
 * last second in {@value #BUCKETS} buckets of 100 ms. Kept per alias across reloads (requests admitted under
 * the old table still count). Thread-safe: the in-flight count is atomic; the rate buckets are synchronized.
 */
final class ModelLoad {
    static final int BUCKETS = 10;
    static final long BUCKET_NANOS = 100_000_000L;

    final AtomicInteger inFlight = new AtomicInteger();
    private final long[] ids = new long[BUCKETS];
    private final int[] counts = new int[BUCKETS];

    synchronized void mark(long nowNanos) {
        long id = Math.floorDiv(nowNanos, BUCKET_NANOS);
        int i = (int) Math.floorMod(id, BUCKETS);
        if (ids[i] != id) {
            ids[i] = id;
            counts[i] = 0;
        }
        counts[i]++;
    }

    /** Requests per second over the last second (the current, partial bucket included). */
    synchronized double rate(long nowNanos) {
        long id = Math.floorDiv(nowNanos, BUCKET_NANOS);
        int sum = 0;
        for (int i = 0; i < BUCKETS; i++) if (id - ids[i] < BUCKETS && ids[i] <= id) sum += counts[i];
        return sum;
    }
}
