package dev.sluice.server.gateway.limits;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import dev.sluice.server.openai.FakeModel;
import dev.sluice.server.redis.RedisConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Redis unreachable (nothing listening, or a proxy that stalls and then cuts the connection):
 * limits fall back to local (each limit divided by the replica count) or fail closed, as
 * configured; the metric and the log say so; no request waits longer than the command timeout
 * allows.
 */
class RedisFallbackTest {
    static final ObjectMapper JSON = new ObjectMapper();
    /**
     * Longest a request may take while Redis is faulty: a few command timeouts (250 ms), with room
     * for a busy 2-core machine; a hang would be the request timeout or forever.
     */
    static final long BOUND_MS = 5_000;
    /** The first request of a test also loads and compiles the whole pipeline (seconds on a busy machine). */
    static final long FIRST_BOUND_MS = 20_000;
    boolean first = true;
    LimitsHarness h;
    final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    final Logger limiterLog = (Logger) LoggerFactory.getLogger(RateLimiter.class);

    @BeforeEach
    void captureLogs() {
        logs.start();
        limiterLog.addAppender(logs);
    }

    @AfterEach
    void stop() throws Exception {
        limiterLog.detachAppender(logs);
        if (h != null) {
            h.close();
            RedisCleanup.deletePrefix(h.prefix());
        }
    }

    static int deadPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    LimitsHarness start(String fallback, int redisPort) {
        h = new LimitsHarness(new FakeModel("fake", "ok", "", 4096));
        LimitsConfig c = new LimitsConfig(true, "redis", fallback, 3, null, h.prefix(), "interval",
                List.of(new LimitsConfig.Rule("per-tenant", List.of("tenant"), null, null, 30L, null, null, null)), null, null, null, null, false);
        return h.start(c, null, new RedisConfig("redis://127.0.0.1:" + redisPort, Duration.ofMillis(250)));
    }

    AggregatedHttpResponse timedChat() {
        long t0 = System.nanoTime();
        AggregatedHttpResponse r = h.chat("t1,k1", LimitsHarness.chatBody("fake", "hi", 2, false));
        assertThat((System.nanoTime() - t0) / 1_000_000).as("request time, ms").isLessThan(first ? FIRST_BOUND_MS : BOUND_MS);
        first = false;
        return r;
    }

    String backendUp() {
        return h.metrics.scrape().lines().filter(l -> l.startsWith("sluice_ratelimit_backend_up")).findFirst().orElse("");
    }

    boolean logged(String text) {
        return logs.list.stream().anyMatch(e -> e.getFormattedMessage().contains(text));
    }

    @Test
    void nothingListeningFallsBackToLocalLimitsDividedByTheReplicaCount() throws Exception {
        start("local", deadPort());
        int ok = 0, limited = 0;
        for (int i = 0; i < 15; i++) {
            AggregatedHttpResponse r = timedChat();
            if (r.status().code() == 200) {
                ok++;
                assertThat(r.headers().get("x-ratelimit-limit-requests")).isEqualTo("10");
            } else {
                assertThat(r.status().code()).isEqualTo(429);
                limited++;
            }
        }
        assertThat(ok).isEqualTo(10);
        assertThat(limited).isEqualTo(5);
        assertThat(backendUp()).endsWith(" 0.0");
        assertThat(logged("falling back to local limits (each limit / 3 replicas)")).isTrue();
        assertThat(h.metrics.scrape()).contains("sluice_ratelimit_fallback_total{fallback=\"local\"}");
    }

    @Test
    void nothingListeningFailsClosedWith503WhenConfigured() throws Exception {
        start("closed", deadPort());
        for (int i = 0; i < 5; i++) {
            AggregatedHttpResponse r = timedChat();
            assertThat(r.status().code()).isEqualTo(503);
            assertThat(JSON.readTree(r.contentUtf8()).path("error").path("code").asText()).isEqualTo("rate_limiter_unavailable");
            assertThat(r.headers().get("retry-after")).isEqualTo("1");
        }
        assertThat(h.model.generations()).isZero();
        assertThat(backendUp()).endsWith(" 0.0");
        assertThat(logged("failing closed")).isTrue();
    }

    @Test
    void aStalledThenCutRedisFallsBackWithinTheTimeoutAndSharedLimitsResumeAfter() throws Exception {
        try (TcpProxy proxy = new TcpProxy("127.0.0.1", 6379)) {
            start("local", proxy.port());
            for (int i = 0; i < 3; i++) {
                AggregatedHttpResponse r = timedChat();
                assertThat(r.status().code()).isEqualTo(200);
                assertThat(r.headers().get("x-ratelimit-limit-requests")).isEqualTo("30");
                assertThat(r.headers().get("x-ratelimit-remaining-requests")).isEqualTo(Integer.toString(29 - i));
            }
            assertThat(backendUp()).endsWith(" 1.0");
            proxy.stall(true);
            // Redis is silent: the request that finds out pays at most the timeout, then is decided locally
            AggregatedHttpResponse r = timedChat();
            assertThat(r.status().code()).isEqualTo(200);
            assertThat(r.headers().get("x-ratelimit-limit-requests")).isEqualTo("10");
            assertThat(backendUp()).endsWith(" 0.0");
            assertThat(logged("Redis unreachable")).isTrue();
            for (int i = 0; i < 12; i++) assertThat(timedChat().status().code()).isIn(200, 429);
            // the connection is cut and Redis reachable again: limits are shared (in Redis) again, with the state kept there
            proxy.stall(false);
            proxy.cut();
            await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(200)).until(() -> {
                AggregatedHttpResponse x = timedChat();
                return "30".equals(x.headers().get("x-ratelimit-limit-requests"));
            });
            assertThat(backendUp()).endsWith(" 1.0");
            assertThat(logged("Redis answers again")).isTrue();
            AggregatedHttpResponse shared = timedChat();
            assertThat(Integer.parseInt(shared.headers().get("x-ratelimit-remaining-requests"))).isLessThan(27);
        }
    }
}
