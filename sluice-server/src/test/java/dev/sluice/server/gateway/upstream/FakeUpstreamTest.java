package dev.sluice.server.gateway.upstream;

import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import dev.sluice.server.gateway.upstream.FakeUpstream.Behavior;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The fixture's faults are what they claim to be on the wire (a reset is a reset, not an error status). */
class FakeUpstreamTest {
    final FakeUpstream f = FakeUpstream.start("F");
    final WebClient c = WebClient.builder("http://127.0.0.1:" + f.port()).responseTimeout(Duration.ofMillis(800)).build();

    @AfterEach
    void stop() {
        f.close();
    }

    AggregatedHttpResponse call(Behavior b, boolean stream) {
        return UpstreamTestSupport.post(c, "/v1/chat/completions", UpstreamTestSupport.chatBody(stream, true), Map.of(FakeUpstream.BEHAVIOR_HEADER, b.name()));
    }

    @Test
    void faultsOnTheWire() {
        assertThat(call(Behavior.NORMAL, true).contentUtf8()).contains("\"usage\"").endsWith("data: [DONE]\n\n");
        assertThat(call(Behavior.NO_USAGE, true).contentUtf8()).doesNotContain("usage").endsWith("data: [DONE]\n\n");
        assertThat(call(Behavior.ERROR_5XX, false).status().code()).isEqualTo(500);
        assertThatThrownBy(() -> call(Behavior.RESET_BEFORE_HEADERS, true)).isInstanceOf(CompletionException.class)
                .hasMessageNotContaining("ResponseTimeout");
        assertThatThrownBy(() -> call(Behavior.RESET_MID_STREAM, true)).isInstanceOf(CompletionException.class)
                .hasMessageNotContaining("ResponseTimeout");
        assertThatThrownBy(() -> call(Behavior.STALL_BEFORE_HEADERS, false)).hasRootCauseInstanceOf(com.linecorp.armeria.client.ResponseTimeoutException.class);
        assertThatThrownBy(() -> call(Behavior.STALL_FIRST_TOKEN, true)).hasRootCauseInstanceOf(com.linecorp.armeria.client.ResponseTimeoutException.class);
        long t0 = System.nanoTime();
        f.trickleDelay(Duration.ofMillis(40));
        assertThat(call(Behavior.SLOW_TRICKLE, true).contentUtf8()).endsWith("data: [DONE]\n\n");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(4 * 40));
        assertThat(f.count()).isEqualTo(8);
    }
}
