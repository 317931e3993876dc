package dev.sluice.server.bench;

import dev.sluice.server.ServerMetrics;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A smoke run of {@code sluice bench gateway} with a few requests: it measures, and every request succeeds. (Not a benchmark.) */
class GatewayBenchmarkTest {
    @Test
    void aTinyRunMeasuresBothPathsInBothModesWithoutFailures() {
        GatewayBenchConfig c = new GatewayBenchConfig(List.of(50), Duration.ofMillis(300), 4, Duration.ofMillis(300), Duration.ofMillis(200),
                List.of(false, true), 4, null, null, null, null, Duration.ofMillis(500));
        List<GatewayBenchResult> results;
        try (GatewayBenchmark b = new GatewayBenchmark(c)) {
            results = b.run(null);
        }
        assertThat(results).hasSize(4);
        for (GatewayBenchResult r : results) {
            assertThat(r.failed()).as(r.toJson().toString()).isZero();
            if (r.kind().equals("latency")) {
                assertThat(r.requests()).isEqualTo(15);
                assertThat(r.direct().count()).isEqualTo(15);
                assertThat(r.gateway().count()).isEqualTo(15);
                assertThat(r.gateway().p50()).isPositive();
            } else {
                assertThat(r.throughput()).isPositive();
            }
        }
        assertThat(GatewayBenchResult.table(results)).contains("latency", "throughput", "stream", "plain");
    }

    @Test
    void badSettingsAreRefusedNamingTheOption() {
        assertThatThrownBy(() -> new GatewayBenchConfig(List.of(0), null, 1, null, null, null, 4, null, null, null, null, null)).hasMessageContaining("--rates");
        assertThatThrownBy(() -> new GatewayBenchConfig(null, null, 0, null, null, null, 4, null, null, null, null, null)).hasMessageContaining("--concurrency");
        assertThatThrownBy(() -> new GatewayBenchConfig(null, null, 1, null, null, null, 4, java.net.URI.create("ftp://x"), null, null, null, null)).hasMessageContaining("--upstream");
        assertThatThrownBy(() -> new GatewayBenchConfig(null, null, 1, null, null, null, 4, null, null, java.net.URI.create("http://127.0.0.1:1"), null, null))
                .hasMessageContaining("--gateway needs --upstream");
        assertThatThrownBy(() -> new GatewayBenchConfig(null, null, 1, null, null, null, 4, null, null, null, null, Duration.ofSeconds(-1)))
                .hasMessageContaining("--settle-max");
        assertThat(GatewayBenchConfig.defaults().settleMax()).isEqualTo(GatewayBenchConfig.DEFAULT_SETTLE_MAX);
    }

    @Test
    void theJitCompileTimeIsReadFromAPrometheusPage() {
        assertThat(GatewayBenchmark.jitMillis("""
                # HELP jvm_compilation_time_ms_total_other x
                jvm_compilation_time_ms_total_other 5.0
                jvm_compilation_time_ms_total{compiler="HotSpot 64-Bit Tiered Compilers"} 1234.0
                """)).isEqualTo(1234);
        assertThat(GatewayBenchmark.jitMillis("jvm_compilation_time_ms_total 77.0 1700000000000\n")).isEqualTo(77);
        assertThat(GatewayBenchmark.jitMillis("sluice_requests_total 3.0\n")).isEqualTo(-1);
        assertThat(GatewayBenchmark.jitMillis("jvm_compilation_time_ms_total{compiler=\"x\"} nope\n")).isEqualTo(-1);
    }

    @Test
    void theServersMetricsPageCarriesTheJvmMeters() {
        try (ServerMetrics m = new ServerMetrics()) {
            String page = ((PrometheusMeterRegistry) m.registry()).scrape();
            assertThat(GatewayBenchmark.jitMillis(page)).isPositive(); // this JVM has compiled something by now
            assertThat(page).contains("jvm_memory_used_bytes", "jvm_threads_live_threads", "jvm_classes_loaded_classes", "process_cpu_usage",
                    "process_uptime_seconds");
        }
    }
}
