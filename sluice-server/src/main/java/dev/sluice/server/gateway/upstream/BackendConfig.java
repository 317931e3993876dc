package dev.sluice.server.gateway.upstream;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * One backend under {@code routing.backends.<name>}: where requests go ({@code type},
 * {@code endpoints}), with which credentials and model name, and how failures are handled
 * (timeouts, retries, circuit breaker, ejection, health checks). Every field is optional except
 * {@code endpoints} for {@code type: openai}; each default is a constant here, with its reason.
 * Validated when built; the message names the key and the bad value ({@code SluiceConfig} prefixes
 * the path, e.g. {@code routing.backends.vllm.timeouts}).
 *
 * <p>{@link #toString()} never prints {@code apiKey}.
 *
 * @param type            {@code openai} (an OpenAI-compatible HTTP server: vLLM, SGLang, Ollama, llama-server, the
 *                        DeepSeek API), {@code local} (the in-process engine) or {@code grpc} (a remote Sluice worker);
 *                        default {@code openai}
 * @param endpoints       for {@code openai}: base URLs of the OpenAI API, e.g. {@code http://10.0.0.5:8000/v1};
 *                        {@code /chat/completions} and {@code /completions} are appended. Schemes: {@code http}, {@code https},
 *                        {@code h1c} (HTTP/1.1 only), {@code h2c} (HTTP/2 cleartext, prior knowledge). For {@code grpc}: the
 *                        workers' addresses, as the gRPC module reads them
 * @param apiKey          the upstream's key, sent as {@code Authorization: Bearer}; use {@code ${ENV}}. Null: none sent.
 *                        Held by the gateway only: the client's own Authorization header is never forwarded
 * @param model           the upstream's model name, replacing the request's {@code model}; null keeps it
 * @param timeouts        connect, first-token, inter-chunk idle and total timeouts
 * @param retry           attempts and the retry budget
 * @param circuitBreaker  one breaker per endpoint
 * @param ejection        passive ejection of endpoints after consecutive failures
 * @param healthCheck     active health checks; off unless {@code path} is set
 * @param prefixAffinity  consistent hashing on the prompt prefix; off unless set
 * @param tokenizer       a GGUF file, or a {@code tokenizer.json} (or its folder), to count usage the upstream does not
 *                        report; null: estimate, 4 characters per token
 */
public record BackendConfig(String type, List<String> endpoints, String apiKey, String model, Timeouts timeouts, Retry retry,
                            CircuitBreakerConfig circuitBreaker, Ejection ejection, HealthCheck healthCheck,
                            PrefixAffinity prefixAffinity, String tokenizer) {
    public static final String OPENAI = "openai", LOCAL = "local", GRPC = "grpc";
    /** The type of a backend that names none. */
    public static final String DEFAULT_TYPE = OPENAI;
    /** Most endpoints one backend may list: 256 (a cluster of workers; selection scans them linearly). */
    public static final int MAX_ENDPOINTS = 256;

    public BackendConfig {
        type = type == null ? DEFAULT_TYPE : type.toLowerCase(Locale.ROOT);
        if (!type.equals(OPENAI) && !type.equals(LOCAL) && !type.equals(GRPC)) {
            throw new IllegalArgumentException("'type' must be openai, local or grpc, got '" + type + "'");
        }
        endpoints = endpoints == null ? List.of() : List.copyOf(endpoints);
        if (!type.equals(LOCAL) && endpoints.isEmpty()) throw new IllegalArgumentException("'endpoints' must list at least one URL for type " + type);
        if (endpoints.size() > MAX_ENDPOINTS) throw new IllegalArgumentException("'endpoints' lists " + endpoints.size() + " URLs; at most " + MAX_ENDPOINTS);
        for (String e : endpoints) {
            if (e == null || e.isBlank()) throw new IllegalArgumentException("'endpoints' must not hold a blank entry");
            if (type.equals(OPENAI)) checkUrl(e); // grpc endpoints (host:port or a URL) are the gRPC module's to check
        }
        if (apiKey != null && apiKey.isBlank()) apiKey = null;
        if (model != null && model.isBlank()) throw new IllegalArgumentException("'model' must not be blank");
        timeouts = timeouts == null ? Timeouts.defaults() : timeouts;
        retry = retry == null ? Retry.defaults() : retry;
        circuitBreaker = circuitBreaker == null ? CircuitBreakerConfig.defaults() : circuitBreaker;
        ejection = ejection == null ? Ejection.defaults() : ejection;
        healthCheck = healthCheck == null ? HealthCheck.off() : healthCheck;
        prefixAffinity = prefixAffinity == null ? PrefixAffinity.off() : prefixAffinity;
        if (tokenizer != null && tokenizer.isBlank()) tokenizer = null;
    }

    /** A backend of {@code type} with every resilience setting at its default. */
    public BackendConfig(String type, List<String> endpoints, String apiKey, String model) {
        this(type, endpoints, apiKey, model, null, null, null, null, null, null, null);
    }

    /** An {@code openai} backend over {@code endpoints} with every other setting at its default. */
    public static BackendConfig openai(List<String> endpoints, String apiKey, String model) {
        return new BackendConfig(OPENAI, endpoints, apiKey, model, null, null, null, null, null, null, null);
    }

    public BackendConfig withTimeouts(Timeouts t) {
        return new BackendConfig(type, endpoints, apiKey, model, t, retry, circuitBreaker, ejection, healthCheck, prefixAffinity, tokenizer);
    }

    public BackendConfig withRetry(Retry r) {
        return new BackendConfig(type, endpoints, apiKey, model, timeouts, r, circuitBreaker, ejection, healthCheck, prefixAffinity, tokenizer);
    }

    public BackendConfig withCircuitBreaker(CircuitBreakerConfig c) {
        return new BackendConfig(type, endpoints, apiKey, model, timeouts, retry, c, ejection, healthCheck, prefixAffinity, tokenizer);
    }

    public BackendConfig withEjection(Ejection e) {
        return new BackendConfig(type, endpoints, apiKey, model, timeouts, retry, circuitBreaker, e, healthCheck, prefixAffinity, tokenizer);
    }

    public BackendConfig withHealthCheck(HealthCheck h) {
        return new BackendConfig(type, endpoints, apiKey, model, timeouts, retry, circuitBreaker, ejection, h, prefixAffinity, tokenizer);
    }

    public BackendConfig withPrefixAffinity(PrefixAffinity p) {
        return new BackendConfig(type, endpoints, apiKey, model, timeouts, retry, circuitBreaker, ejection, healthCheck, p, tokenizer);
    }

    public BackendConfig withTokenizer(String t) {
        return new BackendConfig(type, endpoints, apiKey, model, timeouts, retry, circuitBreaker, ejection, healthCheck, prefixAffinity, t);
    }

    @Override
    public String toString() {
        return "BackendConfig[type=" + type + ", endpoints=" + endpoints + ", apiKey=" + (apiKey == null ? "none" : "***") + ", model=" + model
                + ", timeouts=" + timeouts + ", retry=" + retry + ", circuitBreaker=" + circuitBreaker + ", ejection=" + ejection
                + ", healthCheck=" + healthCheck + ", prefixAffinity=" + prefixAffinity + ", tokenizer=" + tokenizer + "]";
    }

    private static void checkUrl(String url) {
        URI u;
        try {
            u = URI.create(url);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'endpoints': '" + url + "' is not a URL: " + e.getMessage());
        }
        String s = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        if (!List.of("http", "https", "h1c", "h2c", "h1", "h2").contains(s) || u.getHost() == null) {
            throw new IllegalArgumentException("'endpoints': '" + url + "' must be an http(s), h1c or h2c URL with a host, e.g. http://127.0.0.1:8000/v1");
        }
        if (u.getRawQuery() != null || u.getRawFragment() != null || u.getRawUserInfo() != null) {
            throw new IllegalArgumentException("'endpoints': '" + url + "' must not carry a query, fragment or user info (put the key in apiKey)");
        }
    }

    static Duration positive(String key, Duration d, Duration dflt) {
        if (d == null) return dflt;
        if (d.isNegative() || d.isZero()) throw new IllegalArgumentException("'" + key + "' must be positive, got " + d);
        return d;
    }

    /**
     * Timeouts of one upstream call. Each ends the attempt: before the first byte reached the client
     * it may be retried (504 when none is left); after it, the stream ends with an error event.
     *
     * @param connect    TCP (and TLS) connect: {@value #DEFAULT_CONNECT_MS} ms, a LAN or regional API answers far sooner
     * @param firstToken request sent to the first streamed event (or, for a plain request, to its headers):
     *                   {@value #DEFAULT_FIRST_TOKEN_S} s, a long prompt's prefill on a busy server fits
     * @param idle       longest gap between two streamed chunks: {@value #DEFAULT_IDLE_S} s, a healthy server streams far faster
     * @param total      the whole call, body included: {@value #DEFAULT_TOTAL_S} s, a long generation fits; also
     *                   capped by the request's own deadline
     */
    public record Timeouts(Duration connect, Duration firstToken, Duration idle, Duration total) {
        public static final long DEFAULT_CONNECT_MS = 5_000, DEFAULT_FIRST_TOKEN_S = 60, DEFAULT_IDLE_S = 30, DEFAULT_TOTAL_S = 600;

        public Timeouts {
            connect = positive("connect", connect, Duration.ofMillis(DEFAULT_CONNECT_MS));
            firstToken = positive("firstToken", firstToken, Duration.ofSeconds(DEFAULT_FIRST_TOKEN_S));
            idle = positive("idle", idle, Duration.ofSeconds(DEFAULT_IDLE_S));
            total = positive("total", total, Duration.ofSeconds(DEFAULT_TOTAL_S));
        }

        public static Timeouts defaults() {
            return new Timeouts(null, null, null, null);
        }
    }

    /**
     * Retries: only while nothing has reached the client, on another endpoint where one is
     * available, and only within the budget, so that a failing upstream is not hit with a retry storm.
     *
     * @param maxAttempts attempts per request, the first included: {@value #DEFAULT_MAX_ATTEMPTS} (1 turns retries off)
     * @param budget      retries allowed as a fraction of requests: {@value #DEFAULT_BUDGET} (at most one retry per
     *                    five requests, sustained, as Finagle's and Envoy's budgets); 0 allows only the burst
     * @param burst       retries allowed before the budget applies (tokens the budget starts with and holds at most):
     *                    {@value #DEFAULT_BURST}, so a quiet gateway can still retry a few failures
     * @param backoff     pause before a retry, doubled each time, with jitter: {@value #DEFAULT_BACKOFF_MS} ms
     */
    public record Retry(Integer maxAttempts, Double budget, Integer burst, Duration backoff) {
        public static final int DEFAULT_MAX_ATTEMPTS = 3, DEFAULT_BURST = 10;
        public static final double DEFAULT_BUDGET = 0.2;
        public static final long DEFAULT_BACKOFF_MS = 25;
        /** Most attempts one request may make: 10 (each costs an upstream call; more only adds load). */
        public static final int MAX_ATTEMPTS = 10;

        public Retry {
            maxAttempts = maxAttempts == null ? DEFAULT_MAX_ATTEMPTS : maxAttempts;
            if (maxAttempts < 1 || maxAttempts > MAX_ATTEMPTS) throw new IllegalArgumentException("'maxAttempts' must be 1.." + MAX_ATTEMPTS + ", got " + maxAttempts);
            budget = budget == null ? DEFAULT_BUDGET : budget;
            if (!(budget >= 0 && budget <= 1)) throw new IllegalArgumentException("'budget' must be a ratio in 0..1, got " + budget);
            burst = burst == null ? DEFAULT_BURST : burst;
            if (burst < 0 || burst > 100_000) throw new IllegalArgumentException("'burst' must be 0..100000, got " + burst);
            backoff = backoff == null ? Duration.ofMillis(DEFAULT_BACKOFF_MS) : backoff;
            if (backoff.isNegative() || backoff.compareTo(Duration.ofSeconds(10)) > 0) throw new IllegalArgumentException("'backoff' must be 0..10 s, got " + backoff);
        }

        public static Retry defaults() {
            return new Retry(null, null, null, null);
        }
    }

    /**
     * One circuit breaker per endpoint (Armeria's {@code CircuitBreaker}): it opens when the failure
     * rate over {@code window} passes {@code failureRate} with at least {@code minimumRequests}
     * requests; an open endpoint gets no requests for {@code openFor}, then one trial request at a
     * time until one succeeds (closed) or fails (open again).
     *
     * @param failureRate     {@value #DEFAULT_FAILURE_RATE}
     * @param minimumRequests {@value #DEFAULT_MINIMUM_REQUESTS} in the window, so a few failures of a quiet endpoint do not trip it
     * @param window          {@value #DEFAULT_WINDOW_S} s
     * @param openFor         {@value #DEFAULT_OPEN_S} s
     */
    public record CircuitBreakerConfig(Double failureRate, Integer minimumRequests, Duration window, Duration openFor) {
        public static final double DEFAULT_FAILURE_RATE = 0.5;
        public static final int DEFAULT_MINIMUM_REQUESTS = 20;
        public static final long DEFAULT_WINDOW_S = 20, DEFAULT_OPEN_S = 10;

        public CircuitBreakerConfig {
            failureRate = failureRate == null ? DEFAULT_FAILURE_RATE : failureRate;
            if (!(failureRate > 0 && failureRate <= 1)) throw new IllegalArgumentException("'failureRate' must be in (0, 1], got " + failureRate);
            minimumRequests = minimumRequests == null ? DEFAULT_MINIMUM_REQUESTS : minimumRequests;
            if (minimumRequests < 1) throw new IllegalArgumentException("'minimumRequests' must be at least 1, got " + minimumRequests);
            window = positive("window", window, Duration.ofSeconds(DEFAULT_WINDOW_S));
            openFor = positive("openFor", openFor, Duration.ofSeconds(DEFAULT_OPEN_S));
        }

        public static CircuitBreakerConfig defaults() {
            return new CircuitBreakerConfig(null, null, null, null);
        }
    }

    /**
     * Passive ejection: an endpoint that fails {@code consecutiveFailures} times in a row (connect
     * error, reset, 5xx, timeout) gets no requests for {@code baseTime}, doubled at each ejection
     * in a row up to {@code maxTime}; it is back after that, and a success resets both counts.
     *
     * @param consecutiveFailures {@value #DEFAULT_CONSECUTIVE_FAILURES}
     * @param baseTime            {@value #DEFAULT_BASE_S} s
     * @param maxTime             {@value #DEFAULT_MAX_S} s
     */
    public record Ejection(Integer consecutiveFailures, Duration baseTime, Duration maxTime) {
        public static final int DEFAULT_CONSECUTIVE_FAILURES = 5;
        public static final long DEFAULT_BASE_S = 5, DEFAULT_MAX_S = 300;

        public Ejection {
            consecutiveFailures = consecutiveFailures == null ? DEFAULT_CONSECUTIVE_FAILURES : consecutiveFailures;
            if (consecutiveFailures < 1) throw new IllegalArgumentException("'consecutiveFailures' must be at least 1, got " + consecutiveFailures);
            baseTime = positive("baseTime", baseTime, Duration.ofSeconds(DEFAULT_BASE_S));
            maxTime = positive("maxTime", maxTime, Duration.ofSeconds(DEFAULT_MAX_S));
            if (maxTime.compareTo(baseTime) < 0) throw new IllegalArgumentException("'maxTime' (" + maxTime + ") must not be less than 'baseTime' (" + baseTime + ")");
        }

        public static Ejection defaults() {
            return new Ejection(null, null, null);
        }
    }

    /**
     * Active health checks (Armeria's {@code HealthCheckedEndpointGroup}): {@code GET path} on each
     * endpoint's host every {@code interval}; a 2xx keeps it in rotation, anything else takes it
     * out until a check passes. The upstream key is sent with the check.
     *
     * @param path     an absolute path on the endpoint's host, e.g. {@code /health/ready} (Sluice), {@code /health}
     *                 (vLLM, SGLang, llama-server) or {@code /v1/models}; null: no active checks (the default, since
     *                 hosted APIs have no health route)
     * @param interval {@value #DEFAULT_INTERVAL_S} s
     */
    public record HealthCheck(String path, Duration interval) {
        public static final long DEFAULT_INTERVAL_S = 10;

        public HealthCheck {
            if (path != null && !path.startsWith("/")) throw new IllegalArgumentException("'path' must start with '/', got '" + path + "'");
            interval = positive("interval", interval, Duration.ofSeconds(DEFAULT_INTERVAL_S));
        }

        public static HealthCheck off() {
            return new HealthCheck(null, null);
        }

        public static HealthCheck of(String path, Duration interval) {
            return new HealthCheck(path, interval);
        }

        public boolean enabled() {
            return path != null;
        }
    }

    /**
     * Prefix affinity: requests whose prompts share their first {@code prefixChars} characters go to
     * the same endpoint (rendezvous hashing, so adding or losing an endpoint moves only its share),
     * where that endpoint's KV cache may hold the prefix already. When the chosen endpoint has
     * {@code maxImbalance} more requests in flight than the least loaded one, load wins.
     *
     * @param prefixChars  characters of the prompt hashed: 0 turns affinity off (the default); e.g. 1024 for a system prompt
     * @param maxImbalance {@value #DEFAULT_MAX_IMBALANCE} requests in flight
     */
    public record PrefixAffinity(Integer prefixChars, Integer maxImbalance) {
        public static final int DEFAULT_MAX_IMBALANCE = 8;

        public PrefixAffinity {
            prefixChars = prefixChars == null ? 0 : prefixChars;
            if (prefixChars < 0 || prefixChars > 1 << 20) throw new IllegalArgumentException("'prefixChars' must be 0..1048576, got " + prefixChars);
            maxImbalance = maxImbalance == null ? DEFAULT_MAX_IMBALANCE : maxImbalance;
            if (maxImbalance < 0) throw new IllegalArgumentException("'maxImbalance' must not be negative, got " + maxImbalance);
        }

        public static PrefixAffinity off() {
            return new PrefixAffinity(0, null);
        }

        public boolean enabled() {
            return prefixChars > 0;
        }
    }
}
