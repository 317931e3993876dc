package dev.sluice.server.gateway.route;

import com.fasterxml.jackson.databind.JsonNode;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Overload: degrade to a lighter model, or shed with 503 + Retry-After, lowest priority first. */
class OverloadTest {
    static final String YAML = """
            routing:
              backends:
                big: {type: openai, endpoints: ["http://127.0.0.1:1/v1"]}
                small: {type: openai, endpoints: ["http://127.0.0.1:2/v1"]}
              models:
                chat: {versions: {v1: {backend: big}}, degradeTo: chat-small}
                chat-small: {versions: {v1: {backend: small}}}
                solo: {versions: {v1: {backend: big}}}
              overload: {maxInFlight: 4, lowAt: 0.5, normalAt: 0.75, retryAfter: PT3S%s}
            """;

    RouteHarness h;
    final Map<String, FakeBackend> fakes = new LinkedHashMap<>();
    final CompletableFuture<Void> release = new CompletableFuture<>();
    final List<CompletableFuture<AggregatedHttpResponse>> held = new ArrayList<>();

    @AfterEach
    void stop() {
        release.complete(null);
        held.forEach(CompletableFuture::join);
        if (h != null) h.close();
    }

    RouteHarness start(String extra) {
        fakes.put("big", new FakeBackend("big"));
        fakes.put("small", new FakeBackend("small"));
        fakes.get("big").hold = release; // streams on 'big' stay open until released
        h = new RouteHarness(YAML.formatted(extra), fakes, null);
        return h;
    }

    final Map<String, Integer> heldBy = new LinkedHashMap<>();

    /** Holds {@code n} streams open on {@code model} (high priority, so none is degraded), and waits until the router counts exactly them. */
    void hold(String model, int n) {
        while (heldBy.getOrDefault(model, 0) < n) {
            int already = heldBy.getOrDefault(model, 0);
            await().until(() -> h.inFlight(model) == already); // requests answered just before may still be finishing
            CompletableFuture<AggregatedHttpResponse> f = h.chatAsync(model, "u", true, RegistryRouter.PRIORITY_HEADER, "high");
            held.add(f);
            heldBy.merge(model, 1, Integer::sum);
        }
        await().until(() -> h.inFlight(model) == n || held.stream().anyMatch(CompletableFuture::isDone));
        assertThat(held).noneMatch(CompletableFuture::isDone);
    }

    static String served(AggregatedHttpResponse r) {
        assertThat(r.status().code()).as(r.contentUtf8()).isEqualTo(200);
        return r.headers().get(RegistryRouter.SERVED_MODEL_HEADER);
    }

    @Test
    void lowPriorityDegradesFirstThenShedsAlongTheChain() {
        start("");
        hold("chat", 2); // low's threshold: 0.5 x 4
        assertThat(served(h.chat("chat", "u", false, "x-sluice-priority", "low"))).isEqualTo("chat-small");
        assertThat(served(h.chat("chat", "u", false))).isEqualTo("chat"); // normal: threshold 3
        assertThat(served(h.chat("chat", "u", false, "x-sluice-priority", "high"))).isEqualTo("chat");
        assertThat(h.counter("sluice.route.degraded", "model", "chat", "to", "chat-small")).isEqualTo(1);

        // solo has no degradeTo: shed, lowest priority first
        hold("solo", 2);
        AggregatedHttpResponse low = h.chat("solo", "u", false, "x-sluice-priority", "low");
        assertThat(low.status().code()).isEqualTo(503);
        assertThat(low.headers().get("retry-after")).isEqualTo("3");
        JsonNode e = RouteHarness.json(low).path("error");
        assertThat(e.path("code").asText()).isEqualTo("overloaded");
        assertThat(e.path("message").asText()).contains("solo");
        assertThat(served(h.chat("solo", "u", false))).isEqualTo("solo");
        hold("solo", 3);
        assertThat(h.chat("solo", "u", false).status().code()).isEqualTo(503); // normal now shed
        assertThat(served(h.chat("solo", "u", false, "x-sluice-priority", "high"))).isEqualTo("solo");
        hold("solo", 4);
        assertThat(h.chat("solo", "u", false, "x-sluice-priority", "high").status().code()).isEqualTo(503);
        assertThat(h.counter("sluice.route.shed", "model", "solo", "priority", "low")).isEqualTo(1);
        assertThat(h.counter("sluice.route.shed", "model", "solo", "priority", "normal")).isEqualTo(1);
        assertThat(h.counter("sluice.route.shed", "model", "solo", "priority", "high")).isEqualTo(1);

        // the held streams end normally, and the load drains
        release.complete(null);
        for (CompletableFuture<AggregatedHttpResponse> f : held) assertThat(f.join().contentUtf8()).contains("data: [DONE]");
        await().until(() -> h.inFlight("solo") == 0 && h.inFlight("chat") == 0);
        assertThat(served(h.chat("solo", "u", false, "x-sluice-priority", "low"))).isEqualTo("solo");
    }

    @Test
    void aTierMayBeCappedAndABadPriorityIs400() {
        start(", tierMaxPriority: {default: low}");
        hold("solo", 2);
        // no auth: the caller's tier is 'default', capped to low, so even 'high' is shed at low's threshold
        assertThat(h.chat("solo", "u", false, "x-sluice-priority", "high").status().code()).isEqualTo(503);
        AggregatedHttpResponse bad = h.chat("chat", "u", false, "x-sluice-priority", "urgent");
        assertThat(bad.status().code()).isEqualTo(400);
        assertThat(RouteHarness.json(bad).path("error").path("param").asText()).isEqualTo("x-sluice-priority");
    }

    @Test
    void aRequestRateThresholdDegradesUntilTheRateFalls() {
        start(", maxRequestsPerSecond: 5");
        // normal is overloaded at 0.75 x 5 = 3.75 requests in the last second (the fake ticker stands still)
        for (int i = 0; i < 4; i++) assertThat(served(h.chat("chat", "u", false))).isEqualTo("chat");
        assertThat(served(h.chat("chat", "u", false))).isEqualTo("chat-small");
        assertThat(served(h.chat("chat", "u", false, "x-sluice-priority", "high"))).isEqualTo("chat"); // high: 5
        h.ticker.advance(Duration.ofMillis(1100));
        assertThat(served(h.chat("chat", "u", false))).isEqualTo("chat");
    }
}
