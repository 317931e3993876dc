package dev.sluice.server;

import dev.sluice.server.inference.EngineStats;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmCompilationMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;
import java.util.function.Supplier;

/**
 * The worker's Prometheus metrics, all prefixed {@code sluice_}: requests by route and status,
 * time to first token, time per output token and end-to-end latency (histograms), token
 * counters, cancelled generations by reason, and per model the engine's queue depth, running
 * sequences, KV cache use and preemptions ({@link #engine}, read from {@link EngineStats} at
 * scrape time). Beside them the JVM's and the process's standard Micrometer meters: heap and GC
 * pauses, threads, classes, JIT compilation time ({@code jvm_compilation_time_ms_total}, which
 * {@code sluice bench gateway} reads to warm a gateway until its JIT is quiet), CPU, open files and
 * uptime.
 */
public final class ServerMetrics implements AutoCloseable {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Timer ttft;
    private final Timer tpot;
    private final Timer e2e;
    private final Counter promptTokens;
    private final Counter generationTokens;
    private final DistributionSummary completionLength;
    private final JvmGcMetrics gc = new JvmGcMetrics();

    public ServerMetrics() {
        for (MeterBinder b : new MeterBinder[] {new JvmMemoryMetrics(), gc, new JvmThreadMetrics(), new ClassLoaderMetrics(),
                new JvmCompilationMetrics(), new ProcessorMetrics(), new FileDescriptorMetrics(), new UptimeMetrics()}) {
            b.bindTo(registry);
        }
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

    /** Stops listening to the JVM's GC notifications. */
    @Override
    public void close() {
        gc.close();
    }

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

    /** Counts a generation ended early: {@code client} (disconnect or cancel), {@code deadline}, {@code shutdown} or {@code engine}. */
    public void cancelled(String reason) {
        Counter.builder("sluice.requests_cancelled").description("Generations ended early, by reason").tag("reason", reason)
                .register(registry).increment();
    }

    /**
     * Registers a model's engine gauges, tagged {@code model}: {@code sluice_queue_depth},
     * {@code sluice_running_sequences}, {@code sluice_kv_cache_usage} (fraction), {@code sluice_kv_cache_used_tokens},
     * {@code sluice_kv_cache_capacity_tokens} and the counter {@code sluice_preemptions_total}. Unknown values read -1 (gauges) or 0.
     */
    public void engine(String model, Supplier<EngineStats> stats) {
        Gauge.builder("sluice.queue_depth", () -> stats.get().waiting()).description("Requests waiting for the engine").tag("model", model).register(registry);
        Gauge.builder("sluice.running_sequences", () -> stats.get().running()).description("Sequences being generated").tag("model", model).register(registry);
        Gauge.builder("sluice.kv_cache_usage", () -> stats.get().kvUsage()).description("Fraction of the KV cache in use").tag("model", model).register(registry);
        Gauge.builder("sluice.kv_cache_used_tokens", () -> stats.get().kvUsedTokens()).description("KV cache positions in use").tag("model", model).register(registry);
        Gauge.builder("sluice.kv_cache_capacity_tokens", () -> stats.get().kvCapacityTokens()).description("KV cache positions in all").tag("model", model).register(registry);
        FunctionCounter.builder("sluice.preemptions", stats, s -> Math.max(0, s.get().preemptions())).description("Sequences preempted for recompute")
                .tag("model", model).register(registry);
    }

    public void gauge(String name, String description, Supplier<Number> value) {
        io.micrometer.core.instrument.Gauge.builder(name, value).description(description).register(registry);
    }

    /** Prometheus text exposition. */
    public String scrape() {
        return registry.scrape();
    }
}
