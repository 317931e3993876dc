package dev.sluice.server.gateway.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.client.circuitbreaker.CircuitState;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import dev.sluice.engine.gguf.GGUFFile;
import dev.sluice.engine.tokenizer.Tokenizer;
import dev.sluice.engine.tokenizer.Tokenizers;
import dev.sluice.server.gateway.upstream.FakeUpstream.Behavior;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.sluice.server.gateway.upstream.UpstreamTestSupport.chatBody;
import static dev.sluice.server.gateway.upstream.UpstreamTestSupport.content;
import static dev.sluice.server.gateway.upstream.UpstreamTestSupport.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The OpenAI upstream backend behind a gateway, against fake upstreams on loopback that inject faults. */
class OpenAiUpstreamBackendTest {
    final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
    }

    FakeUpstream fake(String name) {
        FakeUpstream f = FakeUpstream.start(name);
        open.add(f);
        return f;
    }

    /** A config over {@code fakes} with test-sized settings: no backoff, short timeouts, breaker and ejection out of the way. */
    static BackendConfig config(String apiKey, FakeUpstream... fakes) {
        return BackendConfig.openai(java.util.Arrays.stream(fakes).map(FakeUpstream::baseUrl).toList(), apiKey, "upstream-model")
                .withTimeouts(new BackendConfig.Timeouts(Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofSeconds(10)))
                .withRetry(new BackendConfig.Retry(3, 1.0, 100, Duration.ZERO))
                .withEjection(new BackendConfig.Ejection(1000, null, null))
                .withCircuitBreaker(new BackendConfig.CircuitBreakerConfig(1.0, 1000, null, null));
    }

    OpenAiUpstreamBackend backend(BackendConfig c) {
        OpenAiUpstreamBackend b = new OpenAiUpstreamBackend("up", c);
        open.add(b);
        return b;
    }

    UpstreamTestSupport gateway(OpenAiUpstreamBackend b) {
        UpstreamTestSupport g = new UpstreamTestSupport(b);
        open.add(g);
        return g;
    }

    /** The fake's own answer to {@code body}, called directly. */
    static AggregatedHttpResponse direct(FakeUpstream f, String body) {
        return UpstreamTestSupport.post(WebClient.of("http://127.0.0.1:" + f.port()), "/v1/chat/completions",
                body.replace("\"model\":\"m\"", "\"model\":\"upstream-model\""), Map.of());
    }

    @Test
    void eachEventLoopHasItsOwnUpstreamConnectionsOnThatLoop() throws Exception {
        FakeUpstream f = fake("a");
        UpstreamEndpoint ep = backend(config(null, f)).endpoints().getFirst();
        java.util.Set<io.netty.channel.EventLoop> loops = new java.util.LinkedHashSet<>();
        for (io.netty.util.concurrent.EventExecutor e : com.linecorp.armeria.common.CommonPools.workerGroup()) loops.add((io.netty.channel.EventLoop) e);
        assertThat(loops).hasSizeGreaterThan(1);
        for (io.netty.channel.EventLoop loop : loops) {
            WebClient c = ep.client(loop);
            assertThat(ep.client(loop)).isSameAs(c);
            for (int i = 0; i < 3; i++) {
                // the call's context holds the event loop its connection and callbacks run on
                try (com.linecorp.armeria.client.ClientRequestContextCaptor captor = com.linecorp.armeria.client.Clients.newContextCaptor()) {
                    var answer = c.get("/v1/models").aggregate();
                    io.netty.channel.EventLoop ran = captor.get().eventLoop().withoutContext();
                    assertThat(answer.get(10, java.util.concurrent.TimeUnit.SECONDS).status().code()).isEqualTo(200);
                    assertThat(ran).as("a call through %s's client is served on that loop", loop).isSameAs(loop);
                }
            }
        }
        assertThat(loops.stream().map(ep::client).distinct()).hasSize(loops.size());
    }

    @Test
    void streamsPassThroughByteForByteWithTheUpstreamsUsageOnlyWhenAskedFor() {
        FakeUpstream a = fake("A");
        UpstreamTestSupport g = gateway(backend(config(null, a)));
        for (boolean includeUsage : new boolean[] {true, false}) {
            AggregatedHttpResponse viaGateway = g.chat(true, includeUsage);
            AggregatedHttpResponse straight = direct(a, chatBody(true, includeUsage));
            assertThat(viaGateway.status().code()).isEqualTo(200);
            assertThat(viaGateway.headers().contentType().toString()).startsWith("text/event-stream");
            assertThat(viaGateway.contentUtf8()).as("include_usage=" + includeUsage).isEqualTo(straight.contentUtf8());
            assertThat(viaGateway.contentUtf8()).endsWith("data: [DONE]\n\n");
            assertThat(viaGateway.contentUtf8().contains("\"usage\"")).isEqualTo(includeUsage);
        }
        // the upstream was always asked for usage, under its own model name
        for (FakeUpstream.Recorded r : a.requests().subList(0, 1)) {
            assertThat(r.body().path("stream_options").path("include_usage").asBoolean()).isTrue();
            assertThat(r.body().path("model").asText()).isEqualTo("upstream-model");
        }
        AggregatedHttpResponse plain = g.chat(false, false);
        assertThat(plain.status().code()).isEqualTo(200);
        assertThat(json(plain)).isEqualTo(json(direct(a, chatBody(false, false))));
        assertThat(json(plain).path("usage").path("completion_tokens").asInt()).isEqualTo(4);
    }

    @Test
    void theStagesSeeAStreamsUsageEvenWhenTheClientDidNotAskForIt() {
        FakeUpstream a = fake("A");
        List<dev.sluice.server.gateway.ResponseTap.Outcome> outcomes = new java.util.concurrent.CopyOnWriteArrayList<>();
        UpstreamTestSupport g = new UpstreamTestSupport(backend(config(null, a)),
                List.of((ctx, req, next) -> dev.sluice.server.gateway.ResponseTap.tap(next.proceed(ctx, req), outcomes::add)));
        open.add(g);
        AggregatedHttpResponse r = g.chat(true, false);
        assertThat(r.contentUtf8()).doesNotContain("usage").endsWith("data: [DONE]\n\n");
        assertThat(r.contentUtf8()).isEqualTo(direct(a, chatBody(true, false)).contentUtf8());
        await().atMost(Duration.ofSeconds(5)).until(() -> outcomes.size() == 1);
        assertThat(outcomes.getFirst().ok()).isTrue();
        assertThat(outcomes.getFirst().usage().completionTokens()).isEqualTo(4);
    }

    @Test
    void usageIsCountedAndInjectedWhenTheUpstreamSendsNone() throws Exception {
        FakeUpstream a = fake("A").behave(Behavior.NO_USAGE).words(List.of("Hello", " there", ", how", " are", " you", " today?"));
        UpstreamTestSupport g = gateway(backend(config(null, a)));
        // estimate: 4 characters a token
        JsonNode plain = json(g.chat(false, false));
        assertThat(plain.path("usage").path("completion_tokens").asInt()).isEqualTo((a.text().length() + 3) / 4);
        assertThat(plain.path("usage").path("prompt_tokens").asInt()).isGreaterThan(0);
        AggregatedHttpResponse s = g.chat(true, true);
        String body = s.contentUtf8();
        assertThat(content(s)).isEqualTo(a.text());
        assertThat(body).endsWith("data: [DONE]\n\n");
        String[] events = body.split("\n\n");
        JsonNode usageChunk = UpstreamTestSupport.JSON.readTree(events[events.length - 2].substring(6));
        assertThat(usageChunk.path("choices").isEmpty()).isTrue();
        assertThat(usageChunk.path("usage").path("completion_tokens").asInt()).isEqualTo((a.text().length() + 3) / 4);
        // not asked for: none injected
        assertThat(g.chat(true, false).contentUtf8()).doesNotContain("usage");

        // with the model's tokenizer: the exact count
        Path vocab = findFixture("ggml-vocab-gpt-2.gguf");
        Tokenizer tok;
        try (GGUFFile f = GGUFFile.open(vocab)) {
            tok = Tokenizers.fromGGUF(f);
        }
        OpenAiUpstreamBackend exact = backend(config(null, a).withTokenizer(vocab.toString()));
        UpstreamTestSupport g2 = gateway(exact);
        JsonNode counted = json(g2.chat(false, false));
        assertThat(counted.path("usage").path("completion_tokens").asInt()).isEqualTo(tok.encode(a.text(), false, false).length);
        int promptText = tok.encode("say hello to me", false, false).length;
        assertThat(counted.path("usage").path("prompt_tokens").asInt()).isEqualTo(promptText + 4 + 3);
    }

    static Path findFixture(String name) {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path c = p.resolve("shared/fixtures/tokenizers").resolve(name);
            if (Files.isRegularFile(c)) return c;
        }
        throw new AssertionError("fixture " + name + " not found");
    }

    @Test
    void theGatewaySendsItsOwnUpstreamKeyAndNeverTheClientsAuthorization() {
        FakeUpstream a = fake("A");
        UpstreamTestSupport g = gateway(backend(config("sk-upstream-secret", a)));
        for (boolean stream : new boolean[] {false, true}) {
            AggregatedHttpResponse r = g.post("/v1/chat/completions", chatBody(stream, false),
                    Map.of("authorization", "Bearer sk-client-key", "x-request-id", "req-1", "cookie", "session=1", "x-api-key", "sk-client-key"));
            assertThat(r.status().code()).isEqualTo(200);
        }
        assertThat(a.requests()).hasSize(2);
        for (FakeUpstream.Recorded r : a.requests()) {
            assertThat(r.headers().get("authorization")).isEqualTo("Bearer sk-upstream-secret");
            assertThat(r.headers().get("x-request-id")).isEqualTo("req-1");
            assertThat(r.headers().toString()).doesNotContain("sk-client-key").doesNotContain("session=1");
        }
        // and the key is not in the config's string form
        assertThat(config("sk-upstream-secret", a).toString()).doesNotContain("sk-upstream-secret");
    }

    @ParameterizedTest
    @EnumSource(value = Behavior.class, names = {"ERROR_5XX", "RESET_BEFORE_HEADERS", "STALL_BEFORE_HEADERS", "STALL_FIRST_TOKEN"})
    void failoverBeforeTheFirstByteServesFromTheOtherEndpoint(Behavior fault) {
        FakeUpstream a = fake("A").behave(fault), b = fake("B");
        BackendConfig c = config(null, a, b);
        c = c.withTimeouts(new BackendConfig.Timeouts(null, Duration.ofMillis(300), null, Duration.ofSeconds(10)));
        UpstreamTestSupport g = gateway(backend(c));
        boolean stalls = fault.name().startsWith("STALL");
        for (int i = 0; i < 30 && a.count() < 2; i++) {
            AggregatedHttpResponse r = g.chat(true, false); // streams: the first-token timeout catches a stall
            assertThat(r.status().code()).isEqualTo(200);
            assertThat(content(r)).isEqualTo(b.text());
            assertThat(r.contentUtf8()).endsWith("data: [DONE]\n\n");
            if (!stalls) {
                AggregatedHttpResponse p = g.chat(false, false);
                assertThat(p.status().code()).isEqualTo(200);
                assertThat(content(p)).isEqualTo(b.text());
            }
        }
        assertThat(a.count()).as("endpoint A was tried").isGreaterThanOrEqualTo(2);
    }

    @Test
    void aMidStreamResetEndsTheStreamWithAnErrorEventAndNoDone() throws Exception {
        FakeUpstream a = fake("A").behave(Behavior.RESET_MID_STREAM);
        UpstreamTestSupport g = gateway(backend(config(null, a)));
        for (int i = 1; i <= 3; i++) {
            AggregatedHttpResponse r = g.chat(true, i == 2);
            assertMidStreamError(r, "upstream_error");
            assertThat(content(r)).isEqualTo("Hello from"); // what came before the reset, unchanged
            assertThat(a.count()).as("never retried after the first byte").isEqualTo(i);
        }
    }

    static void assertMidStreamError(AggregatedHttpResponse r, String code) throws Exception {
        assertThat(r.status().code()).isEqualTo(200);
        String body = r.contentUtf8();
        assertThat(body).doesNotContain("[DONE]");
        String[] events = body.split("\n\n");
        String last = events[events.length - 1];
        assertThat(last).startsWith("data: {\"error\":");
        JsonNode err = UpstreamTestSupport.JSON.readTree(last.substring(6)).path("error");
        assertThat(err.path("code").asText()).isEqualTo(code);
        assertThat(err.path("type").asText()).isNotEmpty();
        assertThat(err.path("message").asText()).isNotEmpty();
    }

    @Test
    void idleFirstTokenAndTotalTimeoutsEachEndTheCall() throws Exception {
        FakeUpstream a = fake("A");
        BackendConfig c = config(null, a).withRetry(new BackendConfig.Retry(1, null, null, Duration.ZERO))
                .withTimeouts(new BackendConfig.Timeouts(null, Duration.ofMillis(300), Duration.ofMillis(300), Duration.ofSeconds(10)));
        UpstreamTestSupport g = gateway(backend(c));
        // idle: two chunks, then silence
        a.behave(Behavior.STALL_MID_STREAM);
        long t0 = System.nanoTime();
        assertMidStreamError(g.chat(true, false), "upstream_timeout");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
        // first token: headers, then silence -> 504 before anything reached the client
        a.behave(Behavior.STALL_FIRST_TOKEN);
        AggregatedHttpResponse r = g.chat(true, false);
        assertThat(r.status().code()).isEqualTo(504);
        assertThat(json(r).path("error").path("code").asText()).isEqualTo("upstream_timeout");

        // total: a slow trickle outlives it mid-stream; a stalled plain call gets 504
        FakeUpstream t = fake("T").behave(Behavior.SLOW_TRICKLE).trickleDelay(Duration.ofMillis(250));
        UpstreamTestSupport g2 = gateway(backend(config(null, t).withRetry(new BackendConfig.Retry(1, null, null, Duration.ZERO))
                .withTimeouts(new BackendConfig.Timeouts(null, null, null, Duration.ofMillis(600)))));
        t0 = System.nanoTime();
        assertMidStreamError(g2.chat(true, false), "upstream_timeout");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(3));
        t.behave(Behavior.STALL_BEFORE_HEADERS);
        AggregatedHttpResponse p = g2.chat(false, false);
        assertThat(p.status().code()).isEqualTo(504);
        assertThat(json(p).path("error").path("type").asText()).isEqualTo("timeout_error");
        // a slow trickle within the limits is fine
        t.behave(Behavior.SLOW_TRICKLE).trickleDelay(Duration.ofMillis(20));
        assertThat(content(g2.chat(true, false))).isEqualTo(t.text());
    }

    @Test
    void metersCountAttemptsRetriesEjectionsAndOutcomes() {
        FakeUpstream a = fake("A").behave(Behavior.ERROR_5XX);
        var registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        OpenAiUpstreamBackend b = new OpenAiUpstreamBackend("up", config(null, a).withRetry(new BackendConfig.Retry(2, 0.0, 1, Duration.ZERO))
                .withEjection(new BackendConfig.Ejection(3, Duration.ofSeconds(30), null)), registry);
        open.add(b);
        UpstreamTestSupport g = gateway(b);
        for (int i = 0; i < 3; i++) g.chat(false, false);
        String ep = "127.0.0.1:" + a.port();
        // 3 requests: 1 retried (the burst), 2 refused by the budget; 4 failed attempts; ejected on the third failure
        assertThat(registry.get("sluice.upstream.retries").tag("decision", "retried").counter().count()).isEqualTo(1);
        assertThat(registry.get("sluice.upstream.retries").tag("decision", "budget_exhausted").counter().count()).isEqualTo(1);
        assertThat(registry.get("sluice.upstream.attempts").tag("endpoint", ep).tag("result", "failure").counter().count()).isEqualTo(3);
        assertThat(registry.get("sluice.upstream.ejections").tag("endpoint", ep).counter().count()).isEqualTo(1);
        assertThat(registry.get("sluice.upstream.endpoint.available").tag("endpoint", ep).gauge().value()).isZero();
        assertThat(registry.get("sluice.upstream.requests").tag("outcome", "upstream_error").counter().count()).isEqualTo(2);
        assertThat(registry.get("sluice.upstream.requests").tag("outcome", "unavailable").counter().count()).isEqualTo(1);
        b.close();
        assertThat(registry.find("sluice.upstream.in_flight").gauges()).isEmpty();
    }

    @Test
    void retriesStayWithinTheRetryBudget() {
        FakeUpstream a = fake("A").behave(Behavior.ERROR_5XX).errorStatus(503);
        UpstreamTestSupport g = gateway(backend(config(null, a).withRetry(new BackendConfig.Retry(3, 0.0, 2, Duration.ZERO))));
        for (int i = 0; i < 5; i++) {
            AggregatedHttpResponse r = g.chat(false, false);
            assertThat(r.status().code()).isEqualTo(502);
            assertThat(json(r).path("error").path("code").asText()).isEqualTo("upstream_error");
        }
        // 5 requests, and only the budget's 2 retries on top (without the budget: 5 x 3 = 15 calls)
        assertThat(a.count()).isEqualTo(7);
    }

    @Test
    void aFailingEndpointIsEjectedAndComesBackAfterItsBackoff() {
        FakeUpstream a = fake("A").behave(Behavior.ERROR_5XX), b = fake("B");
        UpstreamTestSupport g = gateway(backend(config(null, a, b).withRetry(new BackendConfig.Retry(1, null, null, Duration.ZERO))
                .withEjection(new BackendConfig.Ejection(2, Duration.ofMillis(800), Duration.ofSeconds(5)))));
        for (int i = 0; i < 40 && a.count() < 2; i++) g.chat(false, false);
        assertThat(a.count()).isEqualTo(2);
        // ejected: everything goes to B
        for (int i = 0; i < 10; i++) assertThat(content(g.chat(false, false))).isEqualTo(b.text());
        assertThat(a.count()).isEqualTo(2);
        // healed, and back after the backoff
        a.behave(Behavior.NORMAL);
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50)).until(() -> {
            g.chat(false, false);
            return a.count() > 2;
        });
    }

    @Test
    void activeHealthChecksTakeAnEndpointOutAndBringItBack() {
        FakeUpstream a = fake("A"), b = fake("B");
        OpenAiUpstreamBackend backend = backend(config(null, a, b).withHealthCheck(BackendConfig.HealthCheck.of("/health", Duration.ofMillis(100))));
        UpstreamTestSupport g = gateway(backend);
        await().atMost(Duration.ofSeconds(5)).until(() -> backend.endpoints().stream().allMatch(backend::healthy));
        a.healthy(false);
        await().atMost(Duration.ofSeconds(5)).until(() -> !backend.healthy(backend.endpoints().getFirst()));
        int before = a.count();
        for (int i = 0; i < 10; i++) assertThat(content(g.chat(false, false))).isEqualTo(b.text());
        assertThat(a.count()).isEqualTo(before);
        a.healthy(true);
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50)).until(() -> {
            g.chat(false, false);
            return a.count() > before;
        });
        assertThat(a.healthChecks()).isGreaterThan(2);
    }

    @Test
    void theCircuitBreakerOpensOnFailuresAndClosesAfterASuccessfulTrial() {
        FakeUpstream a = fake("A").behave(Behavior.ERROR_5XX);
        OpenAiUpstreamBackend backend = backend(config(null, a).withRetry(new BackendConfig.Retry(1, null, null, Duration.ZERO))
                .withCircuitBreaker(new BackendConfig.CircuitBreakerConfig(0.5, 4, Duration.ofSeconds(2), Duration.ofMillis(500))));
        UpstreamTestSupport g = gateway(backend);
        var breaker = backend.endpoints().getFirst().breaker;
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20)).until(() -> {
            g.chat(false, false);
            return breaker.circuitState() == CircuitState.OPEN;
        });
        int calls = a.count();
        AggregatedHttpResponse r = g.chat(false, false);
        assertThat(r.status().code()).isEqualTo(503);
        assertThat(json(r).path("error").path("code").asText()).isEqualTo("upstream_unavailable");
        assertThat(a.count()).as("an open circuit sends nothing").isEqualTo(calls);
        a.behave(Behavior.NORMAL);
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50)).until(() -> g.chat(false, false).status().code() == 200);
        assertThat(breaker.circuitState()).isEqualTo(CircuitState.CLOSED);
    }

    @Test
    void prefixAffinitySendsARepeatedPrefixToTheSameEndpoint() {
        FakeUpstream a = fake("A"), b = fake("B"), c = fake("C");
        UpstreamTestSupport g = gateway(backend(config(null, a, b, c).withPrefixAffinity(new BackendConfig.PrefixAffinity(64, 8))));
        String system = "You are a helpful assistant. Answer briefly and precisely, always.";
        java.util.Set<String> served = new java.util.HashSet<>();
        for (int i = 0; i < 12; i++) {
            var o = UpstreamTestSupport.JSON.createObjectNode().put("model", "m");
            o.putArray("messages").add(UpstreamTestSupport.JSON.createObjectNode().put("role", "system").put("content", system))
                    .add(UpstreamTestSupport.JSON.createObjectNode().put("role", "user").put("content", "question " + i));
            served.add(content(g.post("/v1/chat/completions", o.toString())));
        }
        assertThat(served).hasSize(1);
    }

    @Test
    void fallbackBackendsServeWhenTheFirstFailsBeforeTheFirstByte() {
        FakeUpstream a = fake("A").behave(Behavior.ERROR_5XX), b = fake("B");
        OpenAiUpstreamBackend first = backend(config(null, a).withRetry(new BackendConfig.Retry(1, null, null, Duration.ZERO)));
        OpenAiUpstreamBackend second = backend(config(null, b));
        UpstreamTestSupport g = new UpstreamTestSupport(new FallbackBackend("chain", List.of(first, second)));
        open.add(g);
        assertThat(content(g.chat(true, false))).isEqualTo(b.text());
        assertThat(content(g.chat(false, false))).isEqualTo(b.text());
        assertThat(a.count()).isEqualTo(2);
        // a client error is the client's: no fallback
        a.behave(Behavior.NORMAL);
        AggregatedHttpResponse r = g.post("/v1/chat/completions", chatBody(false, false), Map.of(FakeUpstream.BEHAVIOR_HEADER, "error_5xx"));
        assertThat(r.status().code()).isEqualTo(200); // the header is not forwarded, so A answers normally
        assertThat(content(r)).isEqualTo(a.text());
    }
}
