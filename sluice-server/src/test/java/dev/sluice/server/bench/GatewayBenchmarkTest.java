package dev.sluice.server.bench;

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
                List.of(false, true), 4, null, null, null, null);
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
        assertThatThrownBy(() -> new GatewayBenchConfig(List.of(0), null, 1, null, null, null, 4, null, null, null, null)).hasMessageContaining("--rates");
        assertThatThrownBy(() -> new GatewayBenchConfig(null, null, 0, null, null, null, 4, null, null, null, null)).hasMessageContaining("--concurrency");
        assertThatThrownBy(() -> new GatewayBenchConfig(null, null, 1, null, null, null, 4, java.net.URI.create("ftp://x"), null, null, null)).hasMessageContaining("--upstream");
        assertThatThrownBy(() -> new GatewayBenchConfig(null, null, 1, null, null, null, 4, null, null, java.net.URI.create("http://127.0.0.1:1"), null))
                .hasMessageContaining("--gateway needs --upstream");
    }
}
