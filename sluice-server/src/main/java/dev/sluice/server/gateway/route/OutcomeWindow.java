package dev.sluice.server.gateway.route;

import java.util.Arrays;

/**
 * The recent outcomes of one model version (error or not, latency) over a sliding time window, for the
 * canary controller: count, error rate and p99 latency.
 *
 * <p>Design note: samples are kept in arrival order in a ring of primitive arrays bounded by {@link #MAX_SAMPLES} (the oldest
 * is dropped first, so under very high traffic the window is the last {@value #MAX_SAMPLES} requests rather
 * than the whole period); {@link #stats} drops samples older than the window and sorts a copy of the
 * latencies, which at the bound is well under a millisecond and runs once per controller tick. Times come
 * from the router's ticker. Thread-safe (synchronized; recording is three array stores, no allocation).
 */
final class OutcomeWindow {
    /** Most samples kept per version: 10,000 (enough for a stable p99; 170 KB of arrays per version). */
    static final int MAX_SAMPLES = 10_000;

    /** What the window holds: requests, errors, their rate, and the 99th-percentile latency (0 when empty). */
    record Stats(int requests, int errors, long p99Nanos) {
        double errorRate() {
            return requests == 0 ? 0 : (double) errors / requests;
        }
    }

    // a ring of primitives, oldest at head: no object per request (10,000 live sample objects per version were copied
    // between survivor spaces at every young collection of a busy gateway)
    private final long[] at = new long[MAX_SAMPLES];
    private final long[] latency = new long[MAX_SAMPLES];
    private final boolean[] error = new boolean[MAX_SAMPLES];
    private int head, size;

    synchronized void record(long nowNanos, boolean isError, long latencyNanos) {
        int i = (head + size) % MAX_SAMPLES;
        if (size == MAX_SAMPLES) head = (head + 1) % MAX_SAMPLES;
        else size++;
        at[i] = nowNanos;
        error[i] = isError;
        latency[i] = Math.max(0, latencyNanos);
    }

    synchronized void clear() {
        head = 0;
        size = 0;
    }

    synchronized Stats stats(long nowNanos, long windowNanos) {
        while (size > 0 && nowNanos - at[head] > windowNanos) {
            head = (head + 1) % MAX_SAMPLES;
            size--;
        }
        int n = size, errors = 0;
        if (n == 0) return new Stats(0, 0, 0);
        long[] lat = new long[n];
        for (int k = 0; k < n; k++) {
            int i = (head + k) % MAX_SAMPLES;
            if (error[i]) errors++;
            lat[k] = latency[i];
        }
        Arrays.sort(lat);
        int rank = (int) Math.ceil(0.99 * n) - 1; // nearest-rank p99
        return new Stats(n, errors, lat[Math.max(0, rank)]);
    }
}
