package dev.sluice.server.gateway.limits;

import com.linecorp.armeria.common.HttpStatus;
import dev.sluice.server.gateway.GatewayRequest;
import dev.sluice.server.gateway.Principal;
import dev.sluice.server.openai.OpenAiException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Admits a request against every rate-limit rule that matches it, all at once: requests per
 * minute, tokens per minute (prompt tokens at admission, completion tokens settled at the end)
 * and concurrent requests, per bucket of each rule's dimensions.
 *
 * <p>Design note: all of a request's bucket operations are issued together (one round trip's
 * latency in Redis mode); when any bucket refuses, the ones that took are refunded and the slots
 * freed, so a refused request costs nothing. Bucket4j never over-admits (Redis updates are
 * compare-and-swap), so across replicas the admitted count stays at or just under the limit.
 *
 * <p>Backend choice and fallback: in {@code redis} mode every operation goes to Redis. The first
 * one that fails (unreachable, or slower than the command timeout) marks Redis down, logs it
 * once and sets {@code sluice_ratelimit_backend_up} to 0; the request, and every request until
 * Redis answers again, is then decided locally with each limit divided by {@code replicas}
 * ({@code fallback: local}), or refused with 503 ({@code fallback: closed}). One request per
 * {@link #PROBE_INTERVAL_NANOS} tries Redis again. Thread-safe; never blocks.
 */
final class RateLimiter implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RateLimiter.class);
    /** While Redis is down, how often one request tries it again: 1 s. */
    static final long PROBE_INTERVAL_NANOS = 1_000_000_000L;
    /** Longest dimension value used as is in a bucket key; longer ones are hashed: 96 characters. */
    static final int MAX_KEY_VALUE = 96;

    private final LimitsConfig config;
    private final LocalCounters local = new LocalCounters();
    private final LocalCounters fallbackLocal = new LocalCounters();
    private final RedisCounters redis;
    private final MeterRegistry metrics;
    private volatile boolean redisUp = true;
    private volatile long probeAt;
    private final AtomicBoolean probing = new AtomicBoolean();

    RateLimiter(LimitsConfig config, RedisLink link, MeterRegistry metrics) {
        this.config = config;
        this.redis = link == null ? null : new RedisCounters(link, config.keyPrefix());
        this.metrics = metrics;
        Gauge.builder("sluice.ratelimit.backend_up", () -> redis == null || redisUp ? 1 : 0)
                .description("1 while the rate-limit backend (Redis in redis mode) answers; 0 while limits fall back or fail closed")
                .tag("backend", redis == null ? "local" : "redis").register(metrics);
    }

    boolean redisMode() {
        return redis != null;
    }

    boolean backendUp() {
        return redis == null || redisUp;
    }

    /** One bucket set of one matching rule: its key (rule name and dimension values) and the caller's limits. */
    record Match(String rule, String key, LimitsConfig.TierLimits limits) {}

    /** The buckets {@code req} falls in. */
    List<Match> matches(GatewayRequest req) {
        List<Match> out = new ArrayList<>();
        Principal p = req.principal();
        for (LimitsConfig.Rule r : config.rules()) {
            if (!r.matches(req.model(), req.kind().route)) continue;
            LimitsConfig.TierLimits l = r.limitsFor(p.tier());
            if (l.empty()) continue;
            StringBuilder key = new StringBuilder(r.name());
            for (String d : r.dimensions()) key.append(':').append(d).append('=').append(keyValue(value(d, req)));
            out.add(new Match(r.name(), key.toString(), l));
        }
        return out;
    }

    private String value(String dimension, GatewayRequest req) {
        Principal p = req.principal();
        return switch (dimension) {
            case "key" -> p.keyId();
            case "user" -> p.user();
            case "tenant" -> p.tenant();
            case "model" -> req.model();
            case "route" -> req.kind().route;
            case "region" -> req.headers().get(config.regionHeader());
            default -> throw new IllegalStateException(dimension);
        };
    }

    /** A dimension value made safe for a key: {@code -} when missing, escaped, long ones hashed. */
    static String keyValue(String v) {
        if (v == null || v.isEmpty()) return "-";
        if (v.length() > MAX_KEY_VALUE) {
            try {
                return "sha256." + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(v.getBytes(StandardCharsets.UTF_8)));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
        StringBuilder sb = new StringBuilder(v.length());
        for (char c : v.toCharArray()) {
            if (c == '%' || c == ':' || c == '{' || c == '}' || c == '=' || c < 0x21 || c == 0x7f) sb.append('%').append(String.format("%02X", (int) c & 0xff));
            else sb.append(c);
        }
        return sb.toString();
    }

    private Counters.Limit limit(long perMinute, boolean divided) {
        Counters.Limit l = new Counters.Limit(perMinute, config.refill().equals("interval"));
        return divided ? l.divided(config.replicas()) : l;
    }

    /**
     * Admits {@code req} against {@code matches}; completes with the admission (its headers, its
     * settle and release), or exceptionally with an {@link OpenAiException}: 429 over a limit,
     * 503 when Redis is down and the fallback is {@code closed}.
     */
    CompletableFuture<Admission> admit(GatewayRequest req, List<Match> matches) {
        if (matches.isEmpty()) return CompletableFuture.completedFuture(Admission.NONE);
        int prompt = Math.max(0, req.promptTokens());
        for (Match m : matches) {
            Long tpm = m.limits().tokensPerMinute();
            if (tpm != null && prompt > tpm) {
                throw rateLimited("tokens", "Request too large for " + req.model() + " in rule '" + m.rule() + "' on tokens per min (TPM): Limit "
                        + tpm + ", Requested " + prompt + ". The input must be smaller.", 60_000_000_000L, Map.of());
            }
        }
        if (redis == null) return attempt(local, false, req, matches, prompt);
        long now = System.nanoTime();
        boolean tryRedis = redisUp || (now - probeAt >= 0 && probing.compareAndSet(false, true));
        if (!tryRedis) return fallback(req, matches, prompt);
        CompletableFuture<Admission> f = attempt(redis, false, req, matches, prompt);
        return f.handle((a, t) -> {
            if (t == null || !(unwrap(t) instanceof BackendDown)) {
                if (!redisUp) {
                    redisUp = true;
                    log.info("rate limits: Redis answers again; limits are shared across replicas again");
                }
                probing.set(false);
                return t == null ? CompletableFuture.completedFuture(a) : CompletableFuture.<Admission>failedFuture(unwrap(t));
            }
            markDown(unwrap(t).getCause());
            probing.set(false);
            return fallback(req, matches, prompt);
        }).thenCompose(x -> x);
    }

    private void markDown(Throwable cause) {
        probeAt = System.nanoTime() + PROBE_INTERVAL_NANOS;
        if (redisUp) {
            redisUp = false;
            log.warn("rate limits: Redis unreachable ({}); {}", cause == null ? "?" : cause.toString(),
                    config.failClosed() ? "failing closed: limited requests get 503 until it answers"
                            : "falling back to local limits (each limit / " + config.replicas() + " replicas)");
        }
    }

    private CompletableFuture<Admission> fallback(GatewayRequest req, List<Match> matches, int prompt) {
        Counter.builder("sluice.ratelimit.fallback").description("Requests decided without Redis while it was unreachable")
                .tag("fallback", config.fallback()).register(metrics).increment();
        if (config.failClosed()) {
            return CompletableFuture.failedFuture(new OpenAiException(HttpStatus.SERVICE_UNAVAILABLE, "server_error", null, "rate_limiter_unavailable",
                    "The rate limiter's backend is unreachable; try again shortly").header("retry-after", "1"));
        }
        return attempt(fallbackLocal, true, req, matches, prompt);
    }

    /** The backend failed (not a refusal): Redis unreachable or too slow. */
    static final class BackendDown extends RuntimeException {
        BackendDown(Throwable cause) {
            super(cause);
        }
    }

    private static Throwable unwrap(Throwable t) {
        while (t instanceof CompletionException && t.getCause() != null) t = t.getCause();
        return t;
    }

    private record Op(Match match, String kind, String key, Counters.Limit limit, long amount, CompletableFuture<?> result) {}

    /**
     * Concurrency leases: unique across replicas (a random prefix per process) without a {@link UUID#randomUUID()} per
     * request, whose {@code SecureRandom} is one lock that every event loop queued on (JFR: 10-18 ms waits under load).
     */
    private static final String LEASE_PREFIX = UUID.randomUUID() + ":";
    private static final java.util.concurrent.atomic.AtomicLong LEASES = new java.util.concurrent.atomic.AtomicLong();

    private CompletableFuture<Admission> attempt(Counters c, boolean divided, GatewayRequest req, List<Match> matches, int prompt) {
        String lease = LEASE_PREFIX + LEASES.incrementAndGet();
        List<Op> ops = new ArrayList<>();
        for (Match m : matches) {
            LimitsConfig.TierLimits l = m.limits();
            if (l.maxConcurrent() != null) {
                int max = divided ? Math.max(1, l.maxConcurrent() / config.replicas()) : l.maxConcurrent();
                ops.add(new Op(m, "concurrency", m.key(), null, max, c.acquire(m.key(), max, lease)));
            }
            if (l.requestsPerMinute() != null) {
                Counters.Limit lim = limit(l.requestsPerMinute(), divided);
                ops.add(new Op(m, "requests", m.key() + ":req", lim, 1, c.tryConsume(m.key() + ":req", lim, 1)));
            }
            if (l.tokensPerMinute() != null) {
                Counters.Limit lim = limit(l.tokensPerMinute(), divided);
                ops.add(new Op(m, "tokens", m.key() + ":tok", lim, prompt, c.tryConsume(m.key() + ":tok", lim, prompt)));
            }
        }
        CompletableFuture<?>[] all = ops.stream().map(Op::result).toArray(CompletableFuture[]::new);
        return CompletableFuture.allOf(all).handle((v, t) -> {
            Throwable failure = null;
            Op refused = null;
            for (Op op : ops) {
                if (op.result().isCompletedExceptionally()) {
                    failure = op.result().exceptionNow();
                } else if (!taken(op)) {
                    if (refused == null || retryNanos(op) > retryNanos(refused)) refused = op;
                }
            }
            if (failure != null || refused != null) {
                undo(c, ops, lease);
                if (failure != null) throw new BackendDown(failure);
                throw refusal(req, refused, ops);
            }
            List<Admission.Held> held = new ArrayList<>();
            for (Op op : ops) held.add(new Admission.Held(op.kind(), op.key(), op.limit(), op.amount()));
            return new Admission(c, lease, held, headers(ops));
        });
    }

    private static boolean taken(Op op) {
        Object r = op.result().resultNow();
        return r instanceof Counters.Probe p ? p.consumed() : Boolean.TRUE.equals(r);
    }

    private static long retryNanos(Op op) {
        return op.result().resultNow() instanceof Counters.Probe p ? p.nanosToRefill() : 1_000_000_000L;
    }

    private static void undo(Counters c, List<Op> ops, String lease) {
        for (Op op : ops) {
            if (op.result().isCompletedExceptionally() || !taken(op)) continue;
            CompletableFuture<Void> u = op.kind().equals("concurrency") ? c.release(op.key(), lease) : c.refund(op.key(), op.limit(), op.amount());
            u.exceptionally(e -> {
                log.debug("rate limits: undo of {} failed: {}", op.key(), e.toString());
                return null;
            });
        }
    }

    private OpenAiException refusal(GatewayRequest req, Op op, List<Op> ops) {
        Counter.builder("sluice.ratelimit.rejected").description("Requests refused by a rate limit, by rule and limit")
                .tag("rule", op.match().rule()).tag("limit", op.kind()).register(metrics).increment();
        long wait = Math.max(retryNanos(op), 1_000_000L);
        String what = switch (op.kind()) {
            case "requests" -> "requests per min (RPM): Limit " + op.limit().capacity();
            case "tokens" -> "tokens per min (TPM): Limit " + op.limit().capacity() + ", Requested " + op.amount();
            default -> "concurrent requests: Limit " + op.amount();
        };
        String msg = "Rate limit reached for " + req.model() + " in rule '" + op.match().rule() + "' on " + what
                + ". Please try again in " + duration(wait) + ".";
        return rateLimited(op.kind(), msg, wait, headers(ops));
    }

    private static OpenAiException rateLimited(String type, String message, long waitNanos, Map<String, String> headers) {
        OpenAiException e = new OpenAiException(HttpStatus.TOO_MANY_REQUESTS, type, null, "rate_limit_exceeded", message);
        headers.forEach(e::header);
        e.header("retry-after", Long.toString(Math.max(1, (waitNanos + 999_999_999L) / 1_000_000_000L)));
        e.header("retry-after-ms", Long.toString(Math.max(1, waitNanos / 1_000_000L)));
        return e;
    }

    /** OpenAI's x-ratelimit-* headers, from the tightest request bucket and the tightest token bucket. */
    private static Map<String, String> headers(List<Op> ops) {
        Map<String, String> h = new LinkedHashMap<>();
        for (String kind : List.of("requests", "tokens")) {
            Op tight = null;
            for (Op op : ops) {
                if (!op.kind().equals(kind) || op.result().isCompletedExceptionally()) continue;
                Counters.Probe p = (Counters.Probe) op.result().resultNow();
                if (tight == null || p.remaining() < ((Counters.Probe) tight.result().resultNow()).remaining()) tight = op;
            }
            if (tight == null) continue;
            Counters.Probe p = (Counters.Probe) tight.result().resultNow();
            h.put("x-ratelimit-limit-" + kind, Long.toString(tight.limit().capacity()));
            h.put("x-ratelimit-remaining-" + kind, Long.toString(Math.max(0, p.remaining())));
            h.put("x-ratelimit-reset-" + kind, duration(p.nanosToReset()));
        }
        return h;
    }

    /** A duration as OpenAI writes it: {@code 20ms}, {@code 1s}, {@code 1.5s}, {@code 6m0s}. */
    static String duration(long nanos) {
        long ms = Math.max(0, nanos / 1_000_000L);
        if (ms < 1000) return ms + "ms";
        long m = ms / 60_000, rest = ms % 60_000;
        String s = rest % 1000 == 0 ? Long.toString(rest / 1000) : new java.math.BigDecimal(rest).movePointLeft(3).stripTrailingZeros().toPlainString();
        return m > 0 ? m + "m" + s + "s" : s + "s";
    }

    /** Tokens now in the bucket {@code key} (a match key plus {@code :req} or {@code :tok}) of {@code perMinute}, on the current backend (tests). */
    CompletableFuture<Long> available(String key, long perMinute) {
        Counters c = redis == null ? local : redisUp ? redis : fallbackLocal;
        return c.available(key, limit(perMinute, false));
    }

    /** Slots held now under {@code key} on the current backend (tests, admin). */
    CompletableFuture<Long> inFlight(String key) {
        Counters c = redis == null ? local : redisUp ? redis : fallbackLocal;
        return c.inFlight(key);
    }

    @Override
    public void close() {}

    /**
     * What an admitted request holds: its concurrency slots and the token buckets to settle
     * completion tokens against, on the backend that admitted it. {@link #release} is idempotent.
     */
    static final class Admission {
        static final Admission NONE = new Admission(null, null, List.of(), Map.of());

        record Held(String kind, String key, Counters.Limit limit, long amount) {}

        private final Counters counters;
        private final String lease;
        private final List<Held> held;
        private final Map<String, String> headers;
        private final AtomicBoolean released = new AtomicBoolean();

        Admission(Counters counters, String lease, List<Held> held, Map<String, String> headers) {
            this.counters = counters;
            this.lease = lease;
            this.held = held;
            this.headers = headers;
        }

        /** OpenAI's x-ratelimit-* headers for the response. */
        Map<String, String> headers() {
            return headers;
        }

        /** Takes {@code completionTokens} from every token bucket (they may go into debt) and frees the slots; once. */
        void release(long completionTokens) {
            if (counters == null || !released.compareAndSet(false, true)) return;
            for (Held h : held) {
                CompletableFuture<Void> f = switch (h.kind()) {
                    case "concurrency" -> counters.release(h.key(), lease);
                    case "tokens" -> counters.consumeForced(h.key(), h.limit(), completionTokens);
                    default -> null;
                };
                if (f != null) f.exceptionally(e -> {
                    log.debug("rate limits: settling {} failed: {}", h.key(), e.toString());
                    return null;
                });
            }
        }
    }
}
