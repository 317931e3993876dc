package dev.sluice.server.gateway.route;

import com.fasterxml.jackson.databind.JsonNode;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The model registry through the gateway on a loopback socket: weights, stickiness, pins, canaries, admin API, fallback. */
class RegistryRouterTest {
    static final String CANARY = """
            routing:
              backends:
                a: {type: openai, endpoints: ["http://127.0.0.1:1/v1"], model: up-stable}
                b: {type: openai, endpoints: ["http://127.0.0.1:2/v1"]}
              models:
                chat:
                  versions:
                    stable: {backend: a, weight: 90}
                    canary: {backend: b, weight: 10, model: up-canary}
                  canary: {version: canary, steps: [10, 25, 50, 100], interval: PT1M, window: PT1M, minRequests: 20,
                           maxErrorRateDelta: 0.05, maxP99Ratio: 1.5}
            """;

    RouteHarness h;
    final Map<String, FakeBackend> fakes = new LinkedHashMap<>();

    @AfterEach
    void stop() {
        if (h != null) h.close();
    }

    RouteHarness start(String yaml, String... backends) {
        for (String b : backends) fakes.put(b, new FakeBackend(b));
        h = new RouteHarness(yaml, fakes, null);
        return h;
    }

    static String version(AggregatedHttpResponse r) {
        assertThat(r.status().code()).as(r.contentUtf8()).isEqualTo(200);
        return r.headers().get(RegistryRouter.SERVED_VERSION_HEADER);
    }

    @Test
    void canarySplitLandsWithinTwoPointsOfItsWeightOver2000Users() {
        start(CANARY, "a", "b");
        h.router.pauseCanary("chat", true); // fixed weights for this test
        Map<String, Integer> byVersion = new HashMap<>();
        for (int i = 0; i < 2000; i++) byVersion.merge(version(h.chat("chat", "user-" + i, false)), 1, Integer::sum);
        double canaryShare = 100.0 * byVersion.getOrDefault("canary", 0) / 2000;
        assertThat(canaryShare).isCloseTo(10.0, within(2.0));
        assertThat(byVersion.get("stable") + byVersion.get("canary")).isEqualTo(2000);
        // the body's model was rewritten to each backend's upstream name
        assertThat(fakes.get("a").models).containsOnly("up-stable");
        assertThat(fakes.get("b").models).containsOnly("up-canary");
        assertThat(h.counter("sluice.route.requests", "model", "chat", "version", "canary", "status", "200")).isEqualTo((double) byVersion.get("canary"));
    }

    @Test
    void anonymousCallersDrawAtRandomWithTheSameSplit() {
        start(CANARY, "a", "b");
        h.router.pauseCanary("chat", true);
        h.router.setWeights("chat", Map.of("stable", 50, "canary", 50));
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 40; i++) seen.add(version(h.chat("chat", null, false)));
        assertThat(seen).containsExactlyInAnyOrder("stable", "canary"); // P(one version only) = 2^-39
    }

    @Test
    void aUserSticksToItsVersionAndAGrowingCanaryKeepsItsUsers() {
        start(CANARY, "a", "b");
        h.router.pauseCanary("chat", true);
        Map<String, String> first = new HashMap<>();
        for (int i = 0; i < 200; i++) first.put("u" + i, version(h.chat("chat", "u" + i, false)));
        assertThat(first.values()).contains("stable", "canary");
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < 200; i++) assertThat(version(h.chat("chat", "u" + i, false))).isEqualTo(first.get("u" + i));
        }
        h.router.setWeights("chat", Map.of("stable", 50, "canary", 50));
        for (int i = 0; i < 200; i++) {
            String now = version(h.chat("chat", "u" + i, false));
            if (first.get("u" + i).equals("canary")) assertThat(now).as("u" + i + " was on the canary").isEqualTo("canary");
        }
    }

    @Test
    void modelVersionHeaderPinsAndAnUnknownVersionIs400ListingTheVersions() {
        start(CANARY, "a", "b");
        for (int i = 0; i < 20; i++) assertThat(version(h.chat("chat", "u" + i, false, "Model-Version", "canary"))).isEqualTo("canary");
        AggregatedHttpResponse r = h.chat("chat", "u", false, "Model-Version", "v9");
        assertThat(r.status().code()).isEqualTo(400);
        JsonNode e = RouteHarness.json(r).path("error");
        assertThat(e.path("type").asText()).isEqualTo("invalid_request_error");
        assertThat(e.path("code").asText()).isEqualTo("model_version_not_found");
        assertThat(e.path("message").asText()).contains("v9").contains("stable, canary");
        assertThat(h.chat("nope", "u", false).status().code()).isEqualTo(404);
        JsonNode models = RouteHarness.json(h.http.get("/v1/models").aggregate().join());
        assertThat(models.path("data")).hasSize(1);
        assertThat(models.path("data").get(0).path("id").asText()).isEqualTo("chat");
    }

    @Test
    void aCanaryThatFailsIsRolledBackAutomatically() {
        start(CANARY, "a", "b");
        fakes.get("b").status = 500;
        int failures = 0;
        for (int i = 0; i < 400; i++) if (h.chat("chat", "user-" + i, false).status().code() == 500) failures++;
        assertThat(failures).isGreaterThanOrEqualTo(20); // ~10% of 400 reached the failing canary
        h.router.tick();
        assertThat(h.router.weight("chat", "canary")).isZero();
        assertThat(h.router.weight("chat", "stable")).isEqualTo(100);
        assertThat(h.counter("sluice.route.weight.changes", "model", "chat", "reason", "rollback")).isEqualTo(1);
        assertThat(h.metrics.scrape()).contains("sluice_route_version_weight{model=\"chat\",version=\"canary\"} 0.0")
                .contains("sluice_route_weight_changes_total{model=\"chat\",reason=\"rollback\"} 1.0");
        for (int i = 0; i < 100; i++) assertThat(version(h.chat("chat", "user-" + i, false))).isEqualTo("stable");
        JsonNode canary = RouteHarness.json(h.admin(HttpMethod.GET, "/admin/v1/routing/models/chat", null)).path("canary");
        assertThat(canary.path("state").asText()).isEqualTo("rolled_back");
        assertThat(canary.path("last_decision").asText()).contains("error rate");
        // stays rolled back until an operator resumes it; resume restarts at the first step
        h.ticker.advance(Duration.ofMinutes(5));
        h.router.tick();
        assertThat(h.router.weight("chat", "canary")).isZero();
        fakes.get("b").status = 200;
        h.admin(HttpMethod.POST, "/admin/v1/routing/models/chat/canary/resume", null);
        assertThat(h.router.weight("chat", "canary")).isEqualTo(10);
    }

    @Test
    void aHealthyCanaryStepsUpEachIntervalToPromotion() {
        start(CANARY, "a", "b");
        int user = 0;
        for (int expected : new int[] {25, 50, 100}) {
            for (int i = 0; i < 400; i++) version(h.chat("chat", "user-" + user++, false));
            h.router.tick();
            assertThat(h.router.weight("chat", "canary")).as("not before the interval").isLessThan(expected);
            h.ticker.advance(Duration.ofSeconds(61)); // the window (1 min) now holds none of those samples
            for (int i = 0; i < 400; i++) version(h.chat("chat", "user-" + user++, false));
            h.router.tick();
            assertThat(h.router.weight("chat", "canary")).isEqualTo(expected);
            assertThat(h.router.weight("chat", "stable")).isEqualTo(100 - expected);
        }
        assertThat(h.counter("sluice.route.weight.changes", "model", "chat", "reason", "step")).isEqualTo(2);
        assertThat(h.counter("sluice.route.weight.changes", "model", "chat", "reason", "promote")).isEqualTo(1);
        assertThat(RouteHarness.json(h.admin(HttpMethod.GET, "/admin/v1/routing", null)).path("models").get(0).path("canary").path("state").asText())
                .isEqualTo("promoted");
        for (int i = 0; i < 50; i++) assertThat(version(h.chat("chat", "user-" + i, false))).isEqualTo("canary");
    }

    @Test
    void aSlowCanaryIsRolledBackOnItsP99() {
        start(CANARY, "a", "b");
        fakes.get("a").latencyNanos = Duration.ofMillis(10).toNanos();
        fakes.get("b").latencyNanos = Duration.ofMillis(40).toNanos(); // 4x stable's, bound 1.5x
        for (int i = 0; i < 400; i++) version(h.chatSettled("chat", "user-" + i));
        h.router.tick();
        assertThat(h.router.weight("chat", "canary")).isZero();
        assertThat(h.router.describe("chat").path("canary").path("last_decision").asText()).contains("p99");
    }

    @Test
    void aPausedCanaryDoesNotMove() {
        start(CANARY, "a", "b");
        fakes.get("b").status = 500;
        assertThat(h.admin(HttpMethod.POST, "/admin/v1/routing/models/chat/canary/pause", null).status().code()).isEqualTo(200);
        for (int i = 0; i < 400; i++) h.chat("chat", "user-" + i, false);
        h.router.tick();
        assertThat(h.router.weight("chat", "canary")).isEqualTo(10);
        assertThat(h.admin(HttpMethod.POST, "/admin/v1/routing/models/chat/canary/resume", null).status().code()).isEqualTo(200);
        h.router.tick();
        assertThat(h.router.weight("chat", "canary")).isZero();
    }

    @Test
    void adminApiReadsAndFlipsWeightsAndRejectsBadInput() {
        start("""
                routing:
                  backends: {blue: {type: openai, endpoints: ["http://127.0.0.1:1/v1"]}, green: {type: openai, endpoints: ["http://127.0.0.1:2/v1"]}}
                  models:
                    chat: {versions: {blue: {backend: blue, weight: 100}, green: {backend: green, weight: 0}}}
                """, "blue", "green");
        JsonNode all = RouteHarness.json(h.admin(HttpMethod.GET, "/admin/v1/routing", null));
        JsonNode versions = all.path("models").get(0).path("versions");
        assertThat(versions.get(0).path("name").asText()).isEqualTo("blue");
        assertThat(versions.get(0).path("weight").asInt()).isEqualTo(100);
        assertThat(versions.get(1).path("weight").asInt()).isZero();
        assertThat(all.path("backends").get(0).path("name").asText()).isEqualTo("blue");
        for (int i = 0; i < 20; i++) assertThat(version(h.chat("chat", "u" + i, false))).isEqualTo("blue");
        // blue-green: one flip
        AggregatedHttpResponse flip = h.admin(HttpMethod.PUT, "/admin/v1/routing/models/chat/weights", "{\"weights\":{\"blue\":0,\"green\":100}}");
        assertThat(flip.status().code()).isEqualTo(200);
        assertThat(RouteHarness.json(flip).path("versions").get(1).path("weight").asInt()).isEqualTo(100);
        for (int i = 0; i < 20; i++) assertThat(version(h.chat("chat", "u" + i, false))).isEqualTo("green");
        assertThat(h.metrics.scrape()).contains("sluice_route_version_weight{model=\"chat\",version=\"green\"} 100.0")
                .contains("sluice_route_weight_changes_total{model=\"chat\",reason=\"admin\"} 1.0");
        // bad input: OpenAI error bodies, weights unchanged
        Map<String, Integer> bad = new LinkedHashMap<>();
        bad.put("{\"weights\":{\"purple\":1}}", 400);
        bad.put("{\"weights\":{\"blue\":-1}}", 400);
        bad.put("{\"weights\":{\"blue\":\"ten\"}}", 400);
        bad.put("{\"weights\":{\"blue\":0,\"green\":0}}", 400);
        bad.put("{\"weights\":[]}", 400);
        bad.put("{}", 400);
        bad.put("{", 400);
        for (Map.Entry<String, Integer> b : bad.entrySet()) {
            AggregatedHttpResponse r = h.admin(HttpMethod.POST, "/admin/v1/routing/models/chat/weights", b.getKey());
            assertThat(r.status().code()).as(b.getKey()).isEqualTo(b.getValue());
            assertThat(RouteHarness.json(r).path("error").path("type").asText()).as(b.getKey()).isEqualTo("invalid_request_error");
        }
        assertThat(h.admin(HttpMethod.PUT, "/admin/v1/routing/models/nope/weights", "{\"weights\":{\"a\":1}}").status().code()).isEqualTo(404);
        assertThat(h.admin(HttpMethod.POST, "/admin/v1/routing/models/chat/canary/pause", null).status().code()).isEqualTo(400); // no canary
        assertThat(h.router.weight("chat", "green")).isEqualTo(100);
        assertThat(h.router.weight("chat", "blue")).isZero();
        // no config file to reload from
        AggregatedHttpResponse reload = h.admin(HttpMethod.POST, "/admin/v1/routing/reload", null);
        assertThat(reload.status().code()).isEqualTo(400);
        assertThat(RouteHarness.json(reload).path("error").path("message").asText()).contains("--config");
    }

    @Test
    void aFailureBeforeTheFirstByteGoesToTheFallbacksInOrder() {
        start("""
                routing:
                  backends:
                    big: {type: openai, endpoints: ["http://127.0.0.1:1/v1"]}
                    mid: {type: openai, endpoints: ["http://127.0.0.1:2/v1"]}
                    small: {type: openai, endpoints: ["http://127.0.0.1:3/v1"]}
                  models:
                    chat: {versions: {v1: {backend: big}}, fallbacks: [chat-mid, chat-small]}
                    chat-mid: {versions: {v1: {backend: mid}}}
                    chat-small: {versions: {v1: {backend: small, model: tiny}}}
                """, "big", "mid", "small");
        fakes.get("big").status = 503;
        fakes.get("mid").throwing = true; // e.g. connection refused
        for (boolean stream : new boolean[] {false, true}) {
            AggregatedHttpResponse r = h.chat("chat", "u", stream);
            assertThat(r.status().code()).isEqualTo(200);
            assertThat(r.headers().get(RegistryRouter.SERVED_MODEL_HEADER)).isEqualTo("chat-small");
            assertThat(r.contentUtf8()).contains("small");
            if (stream) assertThat(r.contentUtf8()).contains("data: [DONE]");
        }
        assertThat(fakes.get("small").models).containsOnly("tiny");
        assertThat(h.counter("sluice.route.fallbacks", "model", "chat", "to", "chat-mid")).isEqualTo(2);
        assertThat(h.counter("sluice.route.fallbacks", "model", "chat-mid", "to", "chat-small")).isEqualTo(2);
        assertThat(h.counter("sluice.route.requests", "model", "chat", "version", "v1", "status", "503")).isEqualTo(2);
        // when every fallback fails too, the client gets the last failure, not a hang
        fakes.get("small").status = 500;
        AggregatedHttpResponse r = h.chat("chat", "u", false);
        assertThat(r.status().code()).isEqualTo(500);
        assertThat(RouteHarness.json(r).path("error").path("message").asText()).isEqualTo("fake failure");
        fakes.get("small").throwing = true;
        r = h.chat("chat", "u", false);
        assertThat(r.status().code()).isEqualTo(502);
        assertThat(RouteHarness.json(r).path("error").path("code").asText()).isEqualTo("upstream_unavailable");
    }
}
