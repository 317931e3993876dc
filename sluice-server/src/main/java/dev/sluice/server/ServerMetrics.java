package dev.sluice.server;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;
import java.util.function.Supplier;

/**
 * The worker's Prometheus metrics, all prefixed {@code sluice_}: requests by route and status,
 * time to first token, time per output token and end-to-end latency (histograms), and token
 * counters. Engine gauges (queue depth, running sequences, KV cache use) are registered by the
 * engine adapter through {@link #gauge}.
 */
public final class ServerMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Timer ttft;
    private final Timer tpot;
    private final Timer e2e;
    private final Counter promptTokens;
    private final Counter generationTokens;
    private final DistributionSummary completionLength;

    public ServerMetrics() {
        ttft = Timer.builder("sluice.time_to_first_token").description("Time from request to the first generated text")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofMinutes(5)).register(registry);
        tpot = Timer.builder("sluice.time_per_output_token").description("Mean time between output tokens after the first, per request")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(10)).register(registry);
        e2e = Timer.builder("sluice.e2e_request_latency").description("Request latency, end to end")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofMinutes(10)).register(registry);
        promptTokens = Counter.builder("sluice.prompt_tokens").description("Prompt tokens processed").register(registry);
        generationTokens = Counter.builder("sluice.generation_tokens").description("Tokens generated").register(registry);
        completionLength = DistributionSummary.builder("sluice.request_generation_tokens").description("Generated tokens per request").register(registry);
    }

    public MeterRegistry registry() { return registry; }

    /** Counts one finished request: {@code route} like {@code chat}, {@code status} an HTTP status code. */
    public void request(String route, int status) {
        Counter.builder("sluice.requests").description("Requests by route and HTTP status").tag("route", route).tag("status", Integer.toString(status))
                .register(registry).increment();
    }

    public void firstToken(long nanos) { ttft.record(Duration.ofNanos(nanos)); }

    /** A finished generation: end-to-end time, time to first token, and tokens. */
    public void generation(long e2eNanos, long ttftNanos, int prompt, int completion) {
        e2e.record(Duration.ofNanos(e2eNanos));
        if (completion > 1 && ttftNanos > 0) tpot.record(Duration.ofNanos((e2eNanos - ttftNanos) / (completion - 1)));
        promptTokens.increment(prompt);
        generationTokens.increment(completion);
        completionLength.record(completion);
    }

    public void gauge(String name, String description, Supplier<Number> value) {
        io.micrometer.core.instrument.Gauge.builder(name, value).description(description).register(registry);
    }

    /** Prometheus text exposition. */
    public String scrape() {
        return registry.scrape();
    }
}
