package dev.sluice.server.gateway.route;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The load on one public model, for overload decisions: requests in flight, and the arrival rate over the
 * last second in {@value #BUCKETS} buckets of 100 ms. Kept per alias across reloads (requests admitted under
 * the old table still count).
 *
 * <p>Design note: every request of the model marks it, on whichever event loop it arrived, so it takes no
 * lock (a lock here made the event loops of a busy gateway queue behind each other, and behind any one of
 * them the OS had paused). Each bucket is one long, its 100 ms period number in the high bits and its count
 * in the low {@value #COUNT_BITS}, updated by compare-and-set; a bucket of an older period is restarted by
 * the first mark of the new one.
 */
final class ModelLoad {
    static final int BUCKETS = 10;
    static final long BUCKET_NANOS = 100_000_000L;
    static final int COUNT_BITS = 24;
    private static final long COUNT_MASK = (1L << COUNT_BITS) - 1;
    private static final long ID_MASK = -1L >>> COUNT_BITS;

    final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicLongArray buckets = new AtomicLongArray(BUCKETS);

    void mark(long nowNanos) {
        long id = Math.floorDiv(nowNanos, BUCKET_NANOS) & ID_MASK;
        int i = (int) Math.floorMod(id, BUCKETS);
        while (true) {
            long b = buckets.get(i);
            long next = (b >>> COUNT_BITS) == id ? (b & COUNT_MASK) == COUNT_MASK ? b : b + 1 : (id << COUNT_BITS) | 1;
            if (buckets.compareAndSet(i, b, next)) return;
        }
    }

    /** Requests per second over the last second (the current, partial bucket included). */
    double rate(long nowNanos) {
        long id = Math.floorDiv(nowNanos, BUCKET_NANOS) & ID_MASK;
        long sum = 0;
        for (int i = 0; i < BUCKETS; i++) {
            long b = buckets.get(i);
            if (b == 0) continue;
            long age = (id - (b >>> COUNT_BITS)) & ID_MASK;
            if (age < BUCKETS) sum += b & COUNT_MASK;
        }
        return sum;
    }
}
