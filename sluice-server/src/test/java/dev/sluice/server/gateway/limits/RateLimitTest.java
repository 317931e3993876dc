package dev.sluice.server.gateway.limits;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.SplitHttpResponse;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.RateLimitException;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.sluice.server.openai.FakeModel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** In-process rate limits through the gateway: RPM, TPM and concurrency per dimension, OpenAI's headers, the SDK's view. */
class RateLimitTest {
    /** The same tests with the buckets and slots in the real Redis. */
    static class InRedis extends RateLimitTest {
        @Override
        LimitsHarness start(LimitsConfig c, FakeModel m) {
            h = new LimitsHarness(m);
            LimitsConfig redis = new LimitsConfig(c.enabled(), "redis", "closed", c.replicas(), null, h.prefix(), c.refill(), c.rules(), null, null, "store",
                    null, false);
            h.start(redis, null, new dev.sluice.server.redis.RedisConfig(LimitsHarness.REDIS, java.time.Duration.ofSeconds(2)));
            assertThat(h.limits.limiter().redisMode()).isTrue();
            return h;
        }

        @AfterEach
        void clean() {
            if (h != null) RedisCleanup.deletePrefix(h.prefix());
        }
    }

    static final ObjectMapper JSON = new ObjectMapper();
    /** "user: hi\nassistant:" in the fake model's one-token-per-character template. */
    static final int PROMPT_HI = "user: hi\nassistant:".length();
    LimitsHarness h;

    @AfterEach
    void stop() throws Exception {
        if (h != null) h.close();
    }

    static LimitsConfig.Rule rule(String name, List<String> dims, Long rpm, Long tpm, Integer conc) {
        return new LimitsConfig.Rule(name, dims, null, null, rpm, tpm, conc, null);
    }

    static LimitsConfig config(String refill, LimitsConfig.Rule... rules) {
        return new LimitsConfig(true, "local", null, null, null, null, refill, List.of(rules), null, null, null, null, false);
    }

    LimitsHarness start(LimitsConfig c, FakeModel m) {
        h = new LimitsHarness(m).start(c, null, null);
        return h;
    }

    static JsonNode error(AggregatedHttpResponse r) throws Exception {
        return JSON.readTree(r.contentUtf8()).path("error");
    }

    @Test
    void requestsPerMinutePerKeyWithOpenAiHeadersAndRetryAfter() throws Exception {
        start(config("interval", rule("per-key", List.of("key"), 3L, null, null)), new FakeModel("fake", "Hello, world!", "", 4096));
        String body = LimitsHarness.chatBody("fake", "hi", null, false);
        for (int i = 0; i < 3; i++) {
            AggregatedHttpResponse r = h.chat("t1,k1", body);
            assertThat(r.status().code()).isEqualTo(200);
            assertThat(r.headers().get("x-ratelimit-limit-requests")).isEqualTo("3");
            assertThat(r.headers().get("x-ratelimit-remaining-requests")).isEqualTo(Integer.toString(2 - i));
            assertThat(r.headers().get("x-ratelimit-reset-requests")).matches("\\d+(\\.\\d+)?(ms|s)|\\d+m\\d+(\\.\\d+)?s");
        }
        AggregatedHttpResponse over = h.chat("t1,k1", body);
        assertThat(over.status().code()).isEqualTo(429);
        assertThat(Integer.parseInt(over.headers().get("retry-after"))).isBetween(1, 60);
        assertThat(over.headers().get("x-ratelimit-limit-requests")).isEqualTo("3");
        assertThat(over.headers().get("x-ratelimit-remaining-requests")).isEqualTo("0");
        assertThat(error(over).path("code").asText()).isEqualTo("rate_limit_exceeded");
        assertThat(error(over).path("type").asText()).isEqualTo("requests");
        assertThat(error(over).path("message").asText()).contains("per-key").contains("requests per min");
        // another key has its own bucket
        assertThat(h.chat("t1,k2", body).status().code()).isEqualTo(200);
        assertThat(h.model.generations()).isEqualTo(4);
    }

    @Test
    void everyMatchingRuleIsCheckedAtOnceAcrossDimensionsAndTiers() throws Exception {
        LimitsConfig.Rule tenant = rule("tenant", List.of("tenant"), 4L, null, null);
        LimitsConfig.Rule user = rule("user", List.of("user"), 2L, null, null);
        LimitsConfig.Rule region = rule("region", List.of("region"), 1L, null, null);
        LimitsConfig.Rule completions = new LimitsConfig.Rule("completions-only", List.of(), null, List.of("completions"), 1L, null, null, null);
        LimitsConfig.Rule model = new LimitsConfig.Rule("per-model-tier", List.of("model"), List.of("other"), null, 1L, null, null,
                Map.of("gold", new LimitsConfig.TierLimits(3L, null, null)));
        start(config("interval", tenant, user, region, completions, model), new FakeModel("fake", "Hello, world!", "", 4096));
        String body = LimitsHarness.chatBody("fake", "hi", null, false);
        // user rule: 2 per user; tenant rule: 4 per tenant
        assertThat(h.chat("t1,k,u1", body, "x-sluice-region", "eu").status().code()).isEqualTo(200);
        assertThat(h.chat("t1,k,u1", body, "x-sluice-region", "us").status().code()).isEqualTo(200);
        AggregatedHttpResponse userOver = h.chat("t1,k,u1", body, "x-sluice-region", "ap");
        assertThat(userOver.status().code()).isEqualTo(429);
        assertThat(error(userOver).path("message").asText()).contains("'user'");
        // region rule: one per region value; the refused request above took nothing from it ("ap" is still free)
        AggregatedHttpResponse regionOver = h.chat("t1,k,u2", body, "x-sluice-region", "eu");
        assertThat(regionOver.status().code()).isEqualTo(429);
        assertThat(error(regionOver).path("message").asText()).contains("'region'");
        assertThat(h.chat("t1,k,u2", body, "x-sluice-region", "ap").status().code()).isEqualTo(200);
        // no region header: one shared "-" bucket
        assertThat(h.chat("t1,k,u3", body).status().code()).isEqualTo(200);
        AggregatedHttpResponse tenantOver = h.chat("t1,k,u4", body, "x-sluice-region", "sa");
        assertThat(tenantOver.status().code()).isEqualTo(429);
        assertThat(error(tenantOver).path("message").asText()).contains("'tenant'");
        // another tenant is unaffected; the completions-only rule never sees chat requests
        assertThat(h.chat("t2,k,u9", body, "x-sluice-region", "af").status().code()).isEqualTo(200);
        assertThat(h.limits.limiter().matches(new dev.sluice.server.gateway.GatewayRequest(dev.sluice.server.gateway.GatewayRequest.Kind.COMPLETION,
                LimitsHarness.chatRequest(null, "{}").headers(), (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree("{\"model\":\"other\"}"),
                new dev.sluice.server.gateway.Principal("t", null, "k", null, "gold", null, false), 0)))
                .extracting(RateLimiter.Match::rule).containsExactly("tenant", "user", "region", "completions-only", "per-model-tier");
        assertThat(model.limitsFor("gold").requestsPerMinute()).isEqualTo(3L);
        assertThat(model.limitsFor("default").requestsPerMinute()).isEqualTo(1L);
    }

    @Test
    void tokensPerMinuteTakePromptTokensAtAdmissionAndSettleTheActualCompletionTokens() throws Exception {
        // 50 TPM: the first request takes 19 prompt tokens (31 left), then 13 completion tokens are settled (18 left) < 19
        start(config("interval", rule("tpm", List.of("key"), null, 50L, null)), new FakeModel("fake", "Hello, world!", "", 4096));
        String body = LimitsHarness.chatBody("fake", "hi", null, false);
        AggregatedHttpResponse first = h.chat("t1,k1", body);
        assertThat(first.status().code()).isEqualTo(200);
        assertThat(JSON.readTree(first.contentUtf8()).path("usage").path("prompt_tokens").asInt()).isEqualTo(PROMPT_HI);
        assertThat(first.headers().get("x-ratelimit-limit-tokens")).isEqualTo("50");
        assertThat(first.headers().get("x-ratelimit-remaining-tokens")).isEqualTo(Integer.toString(50 - PROMPT_HI));
        assertThat(first.headers().get("x-ratelimit-limit-requests")).isNull();
        // the 13 completion tokens are settled when the response ends (asynchronously: wait for it)
        await().atMost(java.time.Duration.ofSeconds(10)).until(() -> h.limits.limiter().available("tpm:key=k1:tok", 50).join() == 50 - PROMPT_HI - 13);
        AggregatedHttpResponse second = h.chat("t1,k1", body);
        assertThat(second.status().code()).isEqualTo(429);
        assertThat(error(second).path("type").asText()).isEqualTo("tokens");
        assertThat(second.headers().get("x-ratelimit-remaining-tokens")).isEqualTo(Integer.toString(50 - PROMPT_HI - 13));
        // a prompt larger than the whole bucket is refused outright
        AggregatedHttpResponse huge = h.chat("t1,k9", LimitsHarness.chatBody("fake", "x".repeat(60), null, false));
        assertThat(huge.status().code()).isEqualTo(429);
        assertThat(error(huge).path("message").asText()).contains("Request too large");
    }

    @Test
    void concurrencySlotsAreHeldWhileStreamingAndFreedOnCancelAndCompletion() throws Exception {
        start(config(null, rule("conc", List.of("key"), null, null, 2)), new FakeModel("fake", "x".repeat(150), "", 4096));
        String body = LimitsHarness.chatBody("fake", "hi", null, true);
        // two streams in flight (150 tokens at 20 ms each: 3 s)
        SplitHttpResponse a = h.http().execute(LimitsHarness.chatRequest("t1,k1", body)).split();
        HttpResponse bRes = h.http().execute(LimitsHarness.chatRequest("t1,k1", body));
        assertThat(a.headers().join().status().code()).isEqualTo(200);
        CompletableFuture<AggregatedHttpResponse> b = bRes.aggregate();
        await().until(() -> h.limits.limiter().inFlight("conc:key=k1").join() == 2);
        AggregatedHttpResponse third = h.chat("t1,k1", LimitsHarness.chatBody("fake", "hi", null, false));
        assertThat(third.status().code()).isEqualTo(429);
        assertThat(error(third).path("type").asText()).isEqualTo("concurrency");
        assertThat(third.headers().get("retry-after")).isEqualTo("1");
        // the client cancels stream a: its slot comes back
        a.body().abort();
        await().until(() -> h.limits.limiter().inFlight("conc:key=k1").join() == 1);
        assertThat(b.join().status().code()).isEqualTo(200);
        await().until(() -> h.limits.limiter().inFlight("conc:key=k1").join() == 0);
        assertThat(h.chat("t1,k1", LimitsHarness.chatBody("fake", "hi", 3, false)).status().code()).isEqualTo(200);
        await().until(() -> h.limits.limiter().inFlight("conc:key=k1").join() == 0);
    }

    @Test
    void theOfficialSdkSeesRateLimitExceptionWithOpenAiHeaders() {
        start(config("interval", rule("per-tenant", List.of("tenant"), 1L, null, null)), new FakeModel("fake", "Hello, world!", "", 4096));
        OpenAIClient sdk = OpenAIOkHttpClient.builder().baseUrl(h.base() + "/v1").apiKey("unused").maxRetries(0).build();
        ChatCompletionCreateParams p = ChatCompletionCreateParams.builder().model("fake").addUserMessage("hi").build();
        var ok = sdk.chat().completions().withRawResponse().create(p);
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.headers().values("x-ratelimit-remaining-requests")).containsExactly("0");
        assertThat(ok.parse().choices().get(0).message().content()).hasValueSatisfying(s -> assertThat(s).contains("Hello"));
        assertThatThrownBy(() -> sdk.chat().completions().create(p)).isInstanceOfSatisfying(RateLimitException.class, e -> {
            assertThat(e.statusCode()).isEqualTo(429);
            assertThat(e.headers().values("retry-after")).isNotEmpty();
            assertThat(e.headers().values("x-ratelimit-limit-requests")).containsExactly("1");
        });
    }
}
