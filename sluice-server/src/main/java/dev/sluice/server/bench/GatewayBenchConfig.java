package dev.sluice.server.bench;

import java.net.URI;
import java.time.Duration;
import java.util.List;

/**
 * Settings of a {@link GatewayBenchmark} run, validated when built.
 *
 * @param rates              fixed request rates (req/s) of the latency runs, in order
 * @param duration           length of each latency run
 * @param concurrency        requests in flight in the throughput run
 * @param throughputDuration length of each throughput run
 * @param warmup             closed-loop warm-up before each mode's runs
 * @param modes              false: plain requests, true: streamed; run in this order
 * @param chunks             chunks of the fast upstream's streamed answer (and its completion tokens)
 * @param upstream           an upstream's OpenAI base URL (e.g. {@code http://127.0.0.1:8000/v1}) to put the gateway
 *                           in front of, or null to start the fast fake one
 * @param model              the model name sent to the upstream
 * @param gateway            a running gateway's base URL (e.g. {@code http://127.0.0.1:8080}) to measure instead of starting one
 *                           here; it must route {@code gatewayModel} to {@code upstream}, which is then required
 * @param gatewayModel       the public model name requested from the gateway
 * @param settleMax          after the warm-ups, the longest extra warm-up while the gateway's JIT is still compiling
 *                           (read from its {@code jvm_compilation_time_ms_total}); zero: none
 */
public record GatewayBenchConfig(List<Integer> rates, Duration duration, int concurrency, Duration throughputDuration, Duration warmup,
                                 List<Boolean> modes, int chunks, URI upstream, String model, URI gateway, String gatewayModel,
                                 Duration settleMax) {
    /** Default rates: 100, 500 and 1,000 req/s (the target is stated at 1,000). */
    public static final List<Integer> DEFAULT_RATES = List.of(100, 500, 1000);
    /** Default latency run: 10 s (10,000 samples at 1,000 req/s, so p99 rests on 100 of them). */
    public static final Duration DEFAULT_DURATION = Duration.ofSeconds(10);
    /** Default requests in flight for throughput: 64 (enough to keep 2 cores busy over loopback). */
    public static final int DEFAULT_CONCURRENCY = 64;
    /** Default throughput run: 10 s. */
    public static final Duration DEFAULT_THROUGHPUT_DURATION = Duration.ofSeconds(10);
    /** Default warm-up: 5 s per mode (then settling, {@link #settleMax}, until C2 has compiled the hot paths). */
    public static final Duration DEFAULT_WARMUP = Duration.ofSeconds(5);
    /** Default longest settling: 60 s (on 2 cores one C2 thread can need tens of seconds for a gateway's hot paths). */
    public static final Duration DEFAULT_SETTLE_MAX = Duration.ofSeconds(60);
    /** Default chunks of a streamed answer: 16. */
    public static final int DEFAULT_CHUNKS = 16;
    /** Highest rate accepted: 100,000 req/s (the schedule is one thread; beyond it, measure throughput instead). */
    public static final int MAX_RATE = 100_000;

    public GatewayBenchConfig {
        rates = rates == null || rates.isEmpty() ? DEFAULT_RATES : List.copyOf(rates);
        for (int r : rates) if (r < 1 || r > MAX_RATE) throw new IllegalArgumentException("--rates: each rate must be 1.." + MAX_RATE + ", got " + r);
        duration = duration == null ? DEFAULT_DURATION : duration;
        if (duration.toMillis() < 100) throw new IllegalArgumentException("--duration must be at least 0.1 s, got " + duration);
        if (concurrency < 1 || concurrency > 4096) throw new IllegalArgumentException("--concurrency must be 1..4096, got " + concurrency);
        throughputDuration = throughputDuration == null ? DEFAULT_THROUGHPUT_DURATION : throughputDuration;
        if (throughputDuration.toMillis() < 100) throw new IllegalArgumentException("--throughput-duration must be at least 0.1 s, got " + throughputDuration);
        warmup = warmup == null ? DEFAULT_WARMUP : warmup;
        if (warmup.isNegative()) throw new IllegalArgumentException("--warmup must not be negative, got " + warmup);
        modes = modes == null || modes.isEmpty() ? List.of(false, true) : List.copyOf(modes);
        if (chunks < 1 || chunks > 4096) throw new IllegalArgumentException("--chunks must be 1..4096, got " + chunks);
        if (upstream != null && (upstream.getScheme() == null || !upstream.getScheme().startsWith("http") || upstream.getHost() == null)) {
            throw new IllegalArgumentException("--upstream must be an http:// URL such as http://127.0.0.1:8000/v1, got " + upstream);
        }
        model = model == null || model.isBlank() ? "bench" : model;
        if (gateway != null && upstream == null) throw new IllegalArgumentException("--gateway needs --upstream (the same upstream the gateway routes to, for the direct path)");
        if (gateway != null && (gateway.getScheme() == null || !gateway.getScheme().startsWith("http") || gateway.getHost() == null)) {
            throw new IllegalArgumentException("--gateway must be an http:// URL such as http://127.0.0.1:8080, got " + gateway);
        }
        gatewayModel = gatewayModel == null || gatewayModel.isBlank() ? "bench" : gatewayModel;
        settleMax = settleMax == null ? DEFAULT_SETTLE_MAX : settleMax;
        if (settleMax.isNegative()) throw new IllegalArgumentException("--settle-max must not be negative, got " + settleMax);
    }

    public static GatewayBenchConfig defaults() {
        return new GatewayBenchConfig(null, null, DEFAULT_CONCURRENCY, null, null, null, DEFAULT_CHUNKS, null, null, null, null, null);
    }
}
