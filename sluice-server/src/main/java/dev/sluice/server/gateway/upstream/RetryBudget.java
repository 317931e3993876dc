package dev.sluice.server.gateway.upstream;

/**
 * A retry budget as a ratio of requests (Finagle's and Envoy's kind): every request deposits
 * {@code ratio} of a token, every retry withdraws one, and the balance is capped at
 * {@code burst} (at least 1), where it also starts. So sustained retries stay at or below
 * {@code ratio} of requests, while a quiet gateway may still retry a short burst of failures.
 *
 * <p>Armeria's {@code RetryLimiter.tokenBased} is gRPC's throttle (tokens earned by successes,
 * spent by failures) and is driven by its {@code RetryingClient}; the retries here cross
 * endpoints under the backend's own selection, so this small budget is kept instead.
 * Thread-safe (one lock; two arithmetic operations under it).
 */
final class RetryBudget {
    private final double ratio;
    private final double cap;
    private double tokens;

    RetryBudget(double ratio, int burst) {
        this.ratio = ratio;
        this.cap = Math.max(1, burst);
        this.tokens = burst;
    }

    synchronized void onRequest() {
        tokens = Math.min(cap, tokens + ratio);
    }

    /** Takes one retry from the budget; false when it is spent. */
    synchronized boolean tryRetry() {
        if (tokens < 1) return false;
        tokens -= 1;
        return true;
    }
}
