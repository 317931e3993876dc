package dev.sluice.server.gateway.route;

import dev.sluice.server.gateway.upstream.BackendConfig;

import java.time.Duration;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The {@code routing:} section of the config file (issue 5): named backend pools, public model aliases with
 * their versions, fallbacks, degrade targets and canary policies, and the overload thresholds.
 * Validated when built (every cross reference must resolve, and degrade chains must not loop); every field
 * has a safe default, documented on the constant that holds it. No section at all ({@link #defaults()},
 * {@link #isEmpty()}) keeps {@code sluice serve} exactly as without a gateway config: each in-process model
 * under its own id.
 *
 * @param backends named backend pools (order kept); a version names one
 * @param models   public aliases (order kept: {@code /v1/models} lists them in this order)
 * @param overload the overload thresholds, applied per public model
 * @param watch    true: re-read the config file when it changes (checked every {@link #WATCH_INTERVAL}), as
 *                 {@code POST /admin/v1/routing/reload} does; default false. Read at start-up only
 */
public record RoutingConfig(Map<String, BackendConfig> backends, Map<String, ModelConfig> models, Overload overload, Boolean watch) {
    /** How often a watched config file is checked for changes: 2 s (an edit takes effect within that; reading a small file is cheap). */
    public static final java.time.Duration WATCH_INTERVAL = java.time.Duration.ofSeconds(2);

    public RoutingConfig {
        watch = watch != null && watch;
        backends = ordered(backends);
        models = ordered(models);
        overload = overload == null ? Overload.defaults() : overload;
        for (Map.Entry<String, BackendConfig> b : backends.entrySet()) {
            if (b.getKey().isBlank()) throw new IllegalArgumentException("routing.backends: a backend name must not be blank");
            if (b.getValue() == null) throw new IllegalArgumentException("routing.backends." + b.getKey() + ": a backend needs at least a 'type'");
        }
        for (Map.Entry<String, ModelConfig> e : models.entrySet()) {
            String at = "routing.models." + e.getKey();
            ModelConfig m = e.getValue();
            if (e.getKey().isBlank()) throw new IllegalArgumentException("routing.models: a model alias must not be blank");
            if (m == null) throw new IllegalArgumentException(at + ": a model needs 'versions'");
            for (Map.Entry<String, Version> v : m.versions().entrySet()) {
                BackendConfig b = backends.get(v.getValue().backend());
                if (b == null) {
                    throw new IllegalArgumentException(at + ".versions." + v.getKey() + ".backend: unknown backend '" + v.getValue().backend()
                            + "' (routing.backends has " + backends.keySet() + ")");
                }
                if (v.getValue().model() != null && b.model() != null && !BackendConfig.LOCAL.equals(b.type()) && !b.model().equals(v.getValue().model())) {
                    // a remote backend with its own 'model' always sends that one: the version's would be silently ignored
                    throw new IllegalArgumentException(at + ".versions." + v.getKey() + ".model: backend '" + v.getValue().backend()
                            + "' sends its own model '" + b.model() + "'; name the model on the version or on the backend, not both");
                }
            }
            for (String f : m.fallbacks()) {
                if (!models.containsKey(f)) throw new IllegalArgumentException(at + ".fallbacks: unknown model '" + f + "' (routing.models has " + models.keySet() + ")");
                if (f.equals(e.getKey())) throw new IllegalArgumentException(at + ".fallbacks: a model cannot fall back to itself");
            }
            if (m.degradeTo() != null) {
                if (!models.containsKey(m.degradeTo())) {
                    throw new IllegalArgumentException(at + ".degradeTo: unknown model '" + m.degradeTo() + "' (routing.models has " + models.keySet() + ")");
                }
                Set<String> seen = new HashSet<>(List.of(e.getKey()));
                for (String d = m.degradeTo(); d != null; d = models.get(d).degradeTo()) {
                    if (!seen.add(d)) throw new IllegalArgumentException(at + ".degradeTo: the degrade chain loops back to '" + d + "'");
                }
            }
        }
    }

    /** No routing section: {@code sluice serve} routes each in-process model under its own id, as without a config. */
    public static RoutingConfig defaults() {
        return new RoutingConfig(null, null, null, null);
    }

    /**
     * True when the section names no backends, no models and default overload thresholds, i.e. says nothing (then
     * the gateway keeps the plain local router). A section with only {@code overload:} routes each in-process model
     * under its own id, with the thresholds applied.
     */
    public boolean isEmpty() {
        return backends.isEmpty() && models.isEmpty() && overload.equals(Overload.defaults()) && !watch;
    }

    /**
     * One public model (alias).
     *
     * @param versions  named versions (at least one; order kept), sharing traffic by weight
     * @param fallbacks other public models tried, in order, when this one fails before the first byte
     * @param degradeTo under overload, requests go to this model instead (its own {@code degradeTo} may continue the chain)
     * @param canary    the progressive-delivery policy, or null for fixed weights
     */
    public record ModelConfig(Map<String, Version> versions, List<String> fallbacks, String degradeTo, Canary canary) {
        public ModelConfig {
            versions = ordered(versions);
            fallbacks = fallbacks == null ? List.of() : List.copyOf(fallbacks);
            if (versions.isEmpty()) throw new IllegalArgumentException("versions: a model needs at least one version");
            long total = 0;
            for (Map.Entry<String, Version> v : versions.entrySet()) {
                if (v.getKey().isBlank()) throw new IllegalArgumentException("versions: a version name must not be blank");
                if (v.getValue() == null) throw new IllegalArgumentException("versions." + v.getKey() + ": a version needs a 'backend'");
                total += v.getValue().weight();
            }
            if (total <= 0) throw new IllegalArgumentException("versions: the weights must not all be 0");
            if (canary != null) {
                if (!versions.containsKey(canary.version())) {
                    throw new IllegalArgumentException("canary.version: unknown version '" + canary.version() + "' (versions are " + versions.keySet() + ")");
                }
                if (versions.size() < 2) throw new IllegalArgumentException("canary: a canary needs a second version to compare with");
                if (canary.baseline() != null && (!versions.containsKey(canary.baseline()) || canary.baseline().equals(canary.version()))) {
                    throw new IllegalArgumentException("canary.baseline: '" + canary.baseline() + "' must be another version of " + versions.keySet());
                }
            }
        }

        /** The version the canary is compared with: {@code canary.baseline}, else the heaviest other version (first on ties). */
        public String baseline() {
            if (canary == null) return null;
            if (canary.baseline() != null) return canary.baseline();
            String best = null;
            int w = -1;
            for (Map.Entry<String, Version> v : versions.entrySet()) {
                if (!v.getKey().equals(canary.version()) && v.getValue().weight() > w) {
                    best = v.getKey();
                    w = v.getValue().weight();
                }
            }
            return best;
        }
    }

    /**
     * One version of a model.
     *
     * @param backend the backend pool (a key of {@code routing.backends}); required
     * @param weight  relative share of the unpinned traffic, {@code >= 0}; default {@value #DEFAULT_WEIGHT}
     * @param model   the model name sent upstream, or null: the backend's {@code model}, else the alias
     */
    public record Version(String backend, Integer weight, String model) {
        /** Weight of a version that names none: 100 (two versions without weights split evenly). */
        public static final int DEFAULT_WEIGHT = 100;
        /** Largest weight: 1,000,000 (weights are relative; this keeps sums far from overflow). */
        public static final int MAX_WEIGHT = 1_000_000;

        public Version {
            if (backend == null || backend.isBlank()) throw new IllegalArgumentException("backend is required");
            weight = weight == null ? DEFAULT_WEIGHT : weight;
            if (weight < 0 || weight > MAX_WEIGHT) throw new IllegalArgumentException("weight must be in [0, " + MAX_WEIGHT + "], got " + weight);
        }
    }

    /**
     * A canary policy: the controller steps the canary's weight (a percentage of the traffic) through
     * {@code steps}, one step per {@code interval}, while over the last {@code window} its error rate stays within
     * {@code maxErrorRateDelta} of the baseline's and its p99 latency within {@code maxP99Ratio} times the
     * baseline's; when either bound is broken (with at least {@code minRequests} canary requests in the window) it
     * rolls the canary back to 0 at once.
     */
    public record Canary(String version, String baseline, List<Integer> steps, Duration interval, Duration window, Integer minRequests,
                         Double maxErrorRateDelta, Double maxP99Ratio) {
        /** Default steps: 10, 25, 50, 100 percent. */
        public static final List<Integer> DEFAULT_STEPS = List.of(10, 25, 50, 100);
        /** Default time between steps: 1 minute (long enough for {@link #DEFAULT_MIN_REQUESTS} at modest traffic). */
        public static final Duration DEFAULT_INTERVAL = Duration.ofMinutes(1);
        /** Default observation window: 1 minute. */
        public static final Duration DEFAULT_WINDOW = Duration.ofMinutes(1);
        /** Default canary requests needed in the window before any decision: 50 (fewer say little about a p99). */
        public static final int DEFAULT_MIN_REQUESTS = 50;
        /** Default allowed excess error rate of the canary over the baseline: 0.05 (5 points). */
        public static final double DEFAULT_MAX_ERROR_RATE_DELTA = 0.05;
        /** Default allowed canary p99 latency, as a multiple of the baseline's: 1.5. */
        public static final double DEFAULT_MAX_P99_RATIO = 1.5;

        public Canary {
            if (version == null || version.isBlank()) throw new IllegalArgumentException("canary.version is required");
            steps = steps == null ? DEFAULT_STEPS : List.copyOf(steps);
            interval = interval == null ? DEFAULT_INTERVAL : interval;
            window = window == null ? DEFAULT_WINDOW : window;
            minRequests = minRequests == null ? DEFAULT_MIN_REQUESTS : minRequests;
            maxErrorRateDelta = maxErrorRateDelta == null ? DEFAULT_MAX_ERROR_RATE_DELTA : maxErrorRateDelta;
            maxP99Ratio = maxP99Ratio == null ? DEFAULT_MAX_P99_RATIO : maxP99Ratio;
            if (steps.isEmpty()) throw new IllegalArgumentException("canary.steps must not be empty");
            int prev = 0;
            for (int s : steps) {
                if (s <= prev || s > 100) throw new IllegalArgumentException("canary.steps must rise strictly within (0, 100], got " + steps);
                prev = s;
            }
            if (interval.isNegative() || interval.isZero()) throw new IllegalArgumentException("canary.interval must be positive, got " + interval);
            if (window.isNegative() || window.isZero()) throw new IllegalArgumentException("canary.window must be positive, got " + window);
            if (minRequests < 1) throw new IllegalArgumentException("canary.minRequests must be >= 1, got " + minRequests);
            if (!(maxErrorRateDelta >= 0 && maxErrorRateDelta <= 1)) throw new IllegalArgumentException("canary.maxErrorRateDelta must be in [0, 1], got " + maxErrorRateDelta);
            if (!(maxP99Ratio >= 1)) throw new IllegalArgumentException("canary.maxP99Ratio must be >= 1, got " + maxP99Ratio);
        }
    }

    /** A request priority ({@code x-sluice-priority}); under overload the lowest is degraded or shed first. */
    public enum Priority {
        LOW, NORMAL, HIGH;

        /** Parses {@code low|normal|high} (any case); null for anything else. */
        public static Priority parse(String s) {
            if (s == null) return null;
            return switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "low" -> LOW;
                case "normal" -> NORMAL;
                case "high" -> HIGH;
                default -> null;
            };
        }

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * Overload thresholds, per public model. A model is overloaded for a request of priority {@code high} when its
     * in-flight requests reach {@code maxInFlight} or its request rate over the last second reaches
     * {@code maxRequestsPerSecond}; for {@code normal} at {@code normalAt} times those, and for {@code low} at
     * {@code lowAt} times (so low priority is degraded or shed first). An overloaded request goes to the model's
     * {@code degradeTo} (and down its chain); when the whole chain is overloaded it is shed with 503 and
     * {@code Retry-After}.
     *
     * @param maxInFlight          in-flight requests per model at which high priority is overloaded; default {@value #DEFAULT_MAX_IN_FLIGHT}
     * @param maxRequestsPerSecond requests per second per model at which high priority is overloaded; 0 (default) = no rate threshold
     * @param retryAfter           the {@code Retry-After} of a shed request; default 1 s
     * @param lowAt                fraction of the thresholds at which {@code low} is overloaded; default {@value #DEFAULT_LOW_AT}
     * @param normalAt             fraction of the thresholds at which {@code normal} is overloaded; default {@value #DEFAULT_NORMAL_AT}
     * @param tierMaxPriority      highest priority a principal's tier may ask for (e.g. {@code free: low}); unlisted tiers: high
     */
    public record Overload(Integer maxInFlight, Double maxRequestsPerSecond, Duration retryAfter, Double lowAt, Double normalAt,
                           Map<String, String> tierMaxPriority) {
        /** Default in-flight requests per model before high priority is degraded or shed: 512 (far above one engine's batch). */
        public static final int DEFAULT_MAX_IN_FLIGHT = 512;
        /** Default request-rate threshold: none (request rates are the limits concern; set one to degrade on rate). */
        public static final double DEFAULT_MAX_REQUESTS_PER_SECOND = 0;
        /** Default Retry-After of a shed request: 1 s. */
        public static final Duration DEFAULT_RETRY_AFTER = Duration.ofSeconds(1);
        /** Default share of the thresholds at which low priority is overloaded: 0.5. */
        public static final double DEFAULT_LOW_AT = 0.5;
        /** Default share of the thresholds at which normal priority is overloaded: 0.8 (high keeps the last 20%). */
        public static final double DEFAULT_NORMAL_AT = 0.8;

        public Overload {
            maxInFlight = maxInFlight == null ? DEFAULT_MAX_IN_FLIGHT : maxInFlight;
            maxRequestsPerSecond = maxRequestsPerSecond == null ? DEFAULT_MAX_REQUESTS_PER_SECOND : maxRequestsPerSecond;
            retryAfter = retryAfter == null ? DEFAULT_RETRY_AFTER : retryAfter;
            lowAt = lowAt == null ? DEFAULT_LOW_AT : lowAt;
            normalAt = normalAt == null ? DEFAULT_NORMAL_AT : normalAt;
            tierMaxPriority = ordered(tierMaxPriority);
            if (maxInFlight < 1) throw new IllegalArgumentException("overload.maxInFlight must be >= 1, got " + maxInFlight);
            if (!(maxRequestsPerSecond >= 0)) throw new IllegalArgumentException("overload.maxRequestsPerSecond must be >= 0 (0 = off), got " + maxRequestsPerSecond);
            if (retryAfter.isNegative() || retryAfter.toSeconds() > 3600) throw new IllegalArgumentException("overload.retryAfter must be in [0, 1h], got " + retryAfter);
            if (!(lowAt > 0 && lowAt <= normalAt && normalAt <= 1)) {
                throw new IllegalArgumentException("overload: need 0 < lowAt <= normalAt <= 1, got lowAt=" + lowAt + ", normalAt=" + normalAt);
            }
            for (Map.Entry<String, String> t : tierMaxPriority.entrySet()) {
                if (Priority.parse(t.getValue()) == null) {
                    throw new IllegalArgumentException("overload.tierMaxPriority." + t.getKey() + " must be low, normal or high, got '" + t.getValue() + "'");
                }
            }
        }

        public static Overload defaults() {
            return new Overload(null, null, null, null, null, null);
        }

        /** Share of the thresholds at which {@code p} is overloaded. */
        public double share(Priority p) {
            return switch (p) {
                case LOW -> lowAt;
                case NORMAL -> normalAt;
                case HIGH -> 1.0;
            };
        }

        /** The highest priority {@code tier} may use. */
        public Priority maxPriority(String tier) {
            String p = tier == null ? null : tierMaxPriority.get(tier);
            return p == null ? Priority.HIGH : Priority.parse(p);
        }
    }

    private static <K, V> Map<K, V> ordered(Map<K, V> m) {
        return m == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(m));
    }
}
