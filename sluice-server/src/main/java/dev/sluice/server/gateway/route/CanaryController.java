package dev.sluice.server.gateway.route;

import com.github.benmanes.caffeine.cache.Ticker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Progressive delivery of one model's canary version: steps its weight (a percentage of the model's traffic)
 * through the policy's steps while it stays healthy against the baseline version, and rolls it back to 0 when it
 * does not.
 *
 * <p>Design note: {@link #tick} is called periodically (every second by the router; tests call it with a fake
 * ticker). Each tick reads both versions' {@link OutcomeWindow}s over the policy's window. With at least
 * {@code minRequests} canary requests in the window, a canary whose error rate exceeds the baseline's by more
 * than {@code maxErrorRateDelta}, or whose p99 latency exceeds {@code maxP99Ratio} times the baseline's, is
 * rolled back at once (any tick); a healthy one steps up once {@code interval} has passed since the last change.
 * Reaching 100 promotes it (state {@code promoted}, controller done). A rollback stops the controller until an
 * operator resumes it. Setting weights through the admin API pauses it. Every change goes through
 * {@link WeightListener} (log line and metrics). All methods are synchronized: ticks, admin calls and the
 * admin view never interleave.
 */
final class CanaryController {
    private static final Logger log = LoggerFactory.getLogger(CanaryController.class);

    /** Where the canary is. */
    enum State { PROGRESSING, PROMOTED, ROLLED_BACK }

    /** Applies and reports one weight change of a model ({@code reason}: step, promote, rollback, resume). */
    @FunctionalInterface
    interface WeightListener {
        void changed(ModelRoute model, Map<String, Integer> before, Map<String, Integer> after, String reason, String detail);
    }

    private final ModelRoute model;
    private final RoutingConfig.Canary policy;
    private final String canary;
    private final String baseline;
    private final Ticker ticker;
    private final WeightListener listener;
    private State state = State.PROGRESSING;
    private boolean paused;
    private long lastChangeNanos;
    private String lastDecision = "started";

    CanaryController(ModelRoute model, Ticker ticker, WeightListener listener) {
        this.model = model;
        this.policy = model.config.canary();
        this.canary = policy.version();
        this.baseline = model.config.baseline();
        this.ticker = ticker;
        this.listener = listener;
        this.lastChangeNanos = ticker.read();
        int w = model.weight(canary);
        if (w >= 100) state = State.PROMOTED;
        else if (w == 0) setCanary(policy.steps().getFirst(), "step", "a canary configured at weight 0 starts at the first step");
    }

    synchronized void tick() {
        if (paused || state != State.PROGRESSING) return;
        long now = ticker.read();
        long window = policy.window().toNanos();
        OutcomeWindow.Stats c = model.windows.get(canary).stats(now, window);
        OutcomeWindow.Stats b = model.windows.get(baseline).stats(now, window);
        if (c.requests() < policy.minRequests()) {
            lastDecision = "waiting: " + c.requests() + " of " + policy.minRequests() + " canary requests in the window";
            return;
        }
        String why = unhealthy(c, b);
        if (why != null) {
            setCanary(0, "rollback", why);
            state = State.ROLLED_BACK;
            return;
        }
        if (now - lastChangeNanos < policy.interval().toNanos()) {
            lastDecision = "healthy; next step after the interval";
            return;
        }
        int current = model.weight(canary);
        Integer next = null;
        for (int s : policy.steps()) {
            if (s > current) {
                next = s;
                break;
            }
        }
        if (next == null) next = 100;
        String detail = String.format("healthy over %d requests: error rate %.4f vs %.4f, p99 %.1f ms vs %.1f ms", c.requests(), c.errorRate(),
                b.errorRate(), c.p99Nanos() / 1e6, b.p99Nanos() / 1e6);
        if (next >= 100) {
            setCanary(100, "promote", detail);
            state = State.PROMOTED;
        } else {
            setCanary(next, "step", detail);
        }
    }

    /** Why the canary is worse than the baseline beyond the policy's bounds, or null when it is not. */
    private String unhealthy(OutcomeWindow.Stats c, OutcomeWindow.Stats b) {
        double delta = c.errorRate() - b.errorRate();
        if (delta > policy.maxErrorRateDelta()) {
            return String.format("error rate %.4f exceeds the baseline's %.4f by more than %.4f (%d requests)", c.errorRate(), b.errorRate(),
                    policy.maxErrorRateDelta(), c.requests());
        }
        if (b.requests() > 0 && b.p99Nanos() > 0 && c.p99Nanos() > policy.maxP99Ratio() * b.p99Nanos()) {
            return String.format("p99 %.1f ms exceeds %.2f x the baseline's %.1f ms", c.p99Nanos() / 1e6, policy.maxP99Ratio(), b.p99Nanos() / 1e6);
        }
        return null;
    }

    /** Sets the canary to {@code percent} and the baseline to what the other versions leave of 100. */
    private void setCanary(int percent, String reason, String detail) {
        int others = 0;
        for (Map.Entry<String, Integer> e : model.weights().entrySet()) {
            if (!e.getKey().equals(canary) && !e.getKey().equals(baseline)) others += e.getValue();
        }
        Map<String, Integer> change = new LinkedHashMap<>();
        change.put(canary, percent);
        change.put(baseline, Math.max(0, 100 - percent - others));
        if (change.get(baseline) == 0 && percent == 0) change.put(baseline, 100); // never leave the model with no weight
        Map<String, Integer> before = model.setWeights(change);
        lastChangeNanos = ticker.read();
        lastDecision = reason + ": " + detail;
        listener.changed(model, before, model.weights(), reason, detail);
    }

    synchronized void pause() {
        paused = true;
        lastDecision = "paused";
    }

    /** Resumes; after a rollback, restarts the canary at the first step with its window cleared. */
    synchronized void resume() {
        paused = false;
        if (state == State.ROLLED_BACK) {
            state = State.PROGRESSING;
            model.windows.get(canary).clear();
            setCanary(policy.steps().getFirst(), "resume", "canary restarted by an operator");
        } else {
            lastChangeNanos = ticker.read();
            lastDecision = "resumed";
        }
    }

    synchronized boolean paused() {
        return paused;
    }

    synchronized State state() {
        return state;
    }

    synchronized String lastDecision() {
        return lastDecision;
    }

    String canaryVersion() {
        return canary;
    }

    String baselineVersion() {
        return baseline;
    }

    RoutingConfig.Canary policy() {
        return policy;
    }

    static void logChange(String model, Map<String, Integer> before, Map<String, Integer> after, String reason, String detail) {
        log.info("route '{}': weights {} -> {} ({}: {})", model, before, after, reason, detail);
    }
}
