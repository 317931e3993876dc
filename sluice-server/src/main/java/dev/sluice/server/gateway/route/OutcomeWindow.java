package dev.sluice.server.gateway.route;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;

/**
 * The recent outcomes of one model version (error or not, latency) over a sliding time window, for the
 * canary controller: count, error rate and p99 latency.
 *
 * <p>Design note: samples are kept in arrival order in a deque bounded by {@link #MAX_SAMPLES} (the oldest
 * is dropped first, so under very high traffic the window is the last {@value #MAX_SAMPLES} requests rather
 * than the whole period); {@link #stats} drops samples older than the window and sorts a copy of the
 * latencies, which at the bound is well under a millisecond and runs once per controller tick. Times come
 * from the router's ticker. Thread-safe (synchronized; recording is one deque append).
 */
final class OutcomeWindow {
    /** Most samples kept per version: 10,000 (enough for a stable p99; bounds memory at ~240 KB per version). */
    static final int MAX_SAMPLES = 10_000;

    private record Sample(long atNanos, boolean error, long latencyNanos) {}

    /** What the window holds: requests, errors, their rate, and the 99th-percentile latency (0 when empty). */
    record Stats(int requests, int errors, long p99Nanos) {
        double errorRate() {
            return requests == 0 ? 0 : (double) errors / requests;
        }
    }

    private final ArrayDeque<Sample> samples = new ArrayDeque<>();

    synchronized void record(long nowNanos, boolean error, long latencyNanos) {
        if (samples.size() == MAX_SAMPLES) samples.pollFirst();
        samples.addLast(new Sample(nowNanos, error, Math.max(0, latencyNanos)));
    }

    synchronized void clear() {
        samples.clear();
    }

    synchronized Stats stats(long nowNanos, long windowNanos) {
        for (Iterator<Sample> it = samples.iterator(); it.hasNext(); ) {
            if (nowNanos - it.next().atNanos() > windowNanos) it.remove();
            else break;
        }
        int n = samples.size(), errors = 0, i = 0;
        if (n == 0) return new Stats(0, 0, 0);
        long[] lat = new long[n];
        for (Sample s : samples) {
            if (s.error()) errors++;
            lat[i++] = s.latencyNanos();
        }
        Arrays.sort(lat);
        int rank = (int) Math.ceil(0.99 * n) - 1; // nearest-rank p99
        return new Stats(n, errors, lat[Math.max(0, rank)]);
    }
}
