package dev.sluice.server.gateway.cache;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Ticker;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.HttpResponseFor;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.redis.Redis;
import dev.sluice.server.redis.RedisConfig;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static dev.sluice.server.gateway.cache.Harness.chatBody;
import static dev.sluice.server.gateway.cache.Harness.content;
import static dev.sluice.server.gateway.cache.Harness.events;
import static dev.sluice.server.gateway.cache.Harness.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The response cache end to end: a real gateway on a socket, the in-process worker behind it, and
 * this machine's real Redis (127.0.0.1:6379) under a key prefix unique to the run (entries expire
 * by their TTL; nothing is flushed).
 */
class CacheStageTest {
    static final String REDIS = "redis://127.0.0.1:6379";
    static final String REPLY = "Hello, wörld! 🙂 The answer is 42.";
    static final String GREEDY = "\"temperature\":0";
    static RedisClient direct;
    static StatefulRedisConnection<String, String> redisConn;

    final String prefix = "sluice-test:cache:" + UUID.randomUUID() + ":";
    final CountingModel model = new CountingModel("fake", REPLY);
    final List<AutoCloseable> closing = new ArrayList<>();
    Harness h;

    @BeforeAll
    static void redis() {
        direct = RedisClient.create(REDIS);
        redisConn = direct.connect();
    }

    @AfterAll
    static void closeRedis() {
        redisConn.close();
        direct.shutdown();
    }

    @AfterEach
    void stop() throws Exception {
        if (h != null) h.close();
        for (AutoCloseable c : closing.reversed()) c.close();
    }

    CacheConfig config(boolean memory, Duration redisTtl, Map<String, CacheConfig.Model> models) {
        return new CacheConfig(null, memory ? null : 0L, null, null, redisTtl == null ? Duration.ofMinutes(2) : redisTtl, prefix, null, models, null);
    }

    Redis redis(String uri) {
        Redis r = new Redis(new RedisConfig(uri, null));
        closing.add(r);
        return r;
    }

    Harness withCache(CacheConfig config, Redis redis, Ticker ticker, CountingModel... models) {
        return Harness.withStages(List.of(models), metrics -> List.of(new CacheStage(config, redis, metrics.registry(), ticker)));
    }

    static String cacheHeader(HttpResponse<?> r) {
        return r.headers().firstValue("x-sluice-cache").orElse("(none)");
    }

    List<String> redisKeys() {
        return redisConn.sync().keys(prefix + "*");
    }

    @Test
    void aHitAfterAMissThroughTheAssembledGatewayWithTheOpenAiSdkAndRedisSharedAcrossReplicas(@TempDir Path dir) {
        SluiceConfig cfg = SluiceConfig.parse("""
                store:
                  url: jdbc:h2:file:%s/sluice;MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH
                redis:
                  uri: %s
                cache:
                  redisKeyPrefix: "%s"
                  redisTtl: PT2M
                """.formatted(dir, REDIS, prefix), Map.of(), "test.yaml");
        h = Harness.assembled(List.of(model), cfg);
        OpenAIClient sdk = OpenAIOkHttpClient.builder().baseUrl(h.base() + "/v1").apiKey("unused").maxRetries(0).build();
        ChatCompletionCreateParams p = ChatCompletionCreateParams.builder().model("fake").addUserMessage("what is 6*7?").temperature(0.0).build();
        HttpResponseFor<ChatCompletion> first = sdk.chat().completions().withRawResponse().create(p);
        HttpResponseFor<ChatCompletion> second = sdk.chat().completions().withRawResponse().create(p);
        assertThat(first.headers().values("x-sluice-cache")).containsExactly("miss");
        assertThat(second.headers().values("x-sluice-cache")).containsExactly("hit");
        ChatCompletion a = first.parse(), b = second.parse();
        assertThat(b.choices().get(0).message().content()).contains(REPLY).isEqualTo(a.choices().get(0).message().content());
        assertThat(b.id()).isNotEqualTo(a.id()).startsWith("chatcmpl-");
        assertThat(b.usage().get().completionTokens()).isEqualTo(a.usage().get().completionTokens());
        assertThat(model.generations.get()).isEqualTo(1);
        assertThat(h.counter("sluice.cache.requests", "result", "hit")).isEqualTo(1);
        assertThat(h.counter("sluice.cache.requests", "result", "miss")).isEqualTo(1);
        assertThat(h.gauge("sluice.cache.hit_ratio")).isEqualTo(0.5);
        await().atMost(5, TimeUnit.SECONDS).until(() -> redisKeys().size() == 1);
        assertThat(h.server.port()).isPositive();
        // a second replica (fresh memory) with the same Redis: served from Redis
        h.close();
        CountingModel other = new CountingModel("fake", REPLY);
        h = Harness.assembled(List.of(other), cfg);
        sdk = OpenAIOkHttpClient.builder().baseUrl(h.base() + "/v1").apiKey("unused").maxRetries(0).build();
        HttpResponseFor<ChatCompletion> third = sdk.chat().completions().withRawResponse().create(p);
        assertThat(third.headers().values("x-sluice-cache")).containsExactly("hit");
        assertThat(third.parse().choices().get(0).message().content()).isEqualTo(a.choices().get(0).message().content());
        assertThat(other.generations.get()).isZero();
        assertThat(h.counter("sluice.cache.hits", "level", "redis")).isEqualTo(1);
        // and a streamed request through the SDK replays the same content
        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = sdk.chat().completions().createStreaming(p)) {
            s.stream().forEach(ch -> ch.choices().forEach(x -> x.delta().content().ifPresent(streamed::append)));
        }
        assertThat(streamed.toString()).isEqualTo(a.choices().get(0).message().content().get());
        assertThat(other.generations.get()).isZero();
    }

    @Test
    void memoryEntriesExpireAfterTheirTtl() throws Exception {
        AtomicLong now = new AtomicLong(1_000_000_000L);
        CacheConfig cfg = new CacheConfig(null, null, null, Duration.ofMinutes(1), null, prefix, null,
                Map.of("short", new CacheConfig.Model(null, Duration.ofSeconds(5), null, null)), null);
        CountingModel shortLived = new CountingModel("short", REPLY);
        h = withCache(cfg, null, now::get, model, shortLived);
        String body = chatBody("fake", "ttl", GREEDY), shortBody = chatBody("short", "ttl", GREEDY);
        assertThat(cacheHeader(h.chat(body))).isEqualTo("miss");
        assertThat(cacheHeader(h.chat(shortBody))).isEqualTo("miss");
        now.addAndGet(Duration.ofSeconds(30).toNanos());
        assertThat(cacheHeader(h.chat(body))).isEqualTo("hit");
        assertThat(cacheHeader(h.chat(shortBody))).as("the per-model TTL (5 s) has passed").isEqualTo("miss");
        now.addAndGet(Duration.ofSeconds(31).toNanos());
        assertThat(cacheHeader(h.chat(body))).as("the section TTL (1 min) has passed").isEqualTo("miss");
        assertThat(model.generations.get()).isEqualTo(2);
        assertThat(shortLived.generations.get()).isEqualTo(2);
    }

    @Test
    void redisEntriesExpireAfterTheirTtl() throws Exception {
        h = withCache(config(false, Duration.ofMillis(500), null), redis(REDIS), Ticker.systemTicker(), model);
        String body = chatBody("fake", "redis ttl", GREEDY);
        assertThat(cacheHeader(h.chat(body))).isEqualTo("miss");
        await().atMost(5, TimeUnit.SECONDS).until(() -> redisKeys().size() == 1);
        HttpResponse<String> hit = h.chat(body);
        assertThat(cacheHeader(hit)).isEqualTo("hit");
        assertThat(h.counter("sluice.cache.hits", "level", "redis")).isEqualTo(1);
        await().atMost(5, TimeUnit.SECONDS).until(() -> redisKeys().isEmpty());
        assertThat(cacheHeader(h.chat(body))).isEqualTo("miss");
        assertThat(model.generations.get()).isEqualTo(2);
    }

    @Test
    void noCacheSkipsTheReadAndNoStoreSkipsTheWrite() throws Exception {
        h = withCache(config(true, null, null), redis(REDIS), Ticker.systemTicker(), model);
        String body = chatBody("fake", "control", GREEDY);
        assertThat(cacheHeader(h.chat(body, "cache-control", "no-store"))).isEqualTo("miss");
        assertThat(cacheHeader(h.chat(body))).as("no-store wrote nothing").isEqualTo("miss");
        assertThat(cacheHeader(h.chat(body))).isEqualTo("hit");
        assertThat(cacheHeader(h.chat(body, "cache-control", "no-cache"))).as("no-cache does not read").isEqualTo("miss");
        assertThat(cacheHeader(h.chat(body, "cache-control", "no-store, no-cache"))).isEqualTo("bypass");
        assertThat(cacheHeader(h.chat(body, "cache-control", "no-store"))).as("no-store still reads").isEqualTo("hit");
        assertThat(model.generations.get()).isEqualTo(4);
        assertThat(h.counter("sluice.cache.requests", "result", "bypass")).isEqualTo(1);
    }

    @Test
    void nonDeterministicRequestsBypassAndASeedMakesARequestCacheable() throws Exception {
        h = withCache(config(true, null, null), null, Ticker.systemTicker(), model);
        String warm = chatBody("fake", "hot", "\"temperature\":0.8");
        assertThat(cacheHeader(h.chat(warm))).isEqualTo("bypass");
        assertThat(cacheHeader(h.chat(warm))).isEqualTo("bypass");
        String seeded = chatBody("fake", "hot", "\"temperature\":0.8,\"seed\":7");
        assertThat(cacheHeader(h.chat(seeded))).isEqualTo("miss");
        assertThat(cacheHeader(h.chat(seeded))).isEqualTo("hit");
        assertThat(cacheHeader(h.chat(chatBody("fake", "hot", "\"temperature\":0.8,\"seed\":8")))).as("another seed, another key").isEqualTo("miss");
        // user, stream and stream_options are not in the key; sampling parameters are
        assertThat(cacheHeader(h.chat(chatBody("fake", "hot", "\"temperature\":0.8,\"seed\":7,\"user\":\"bob\"")))).isEqualTo("hit");
        assertThat(cacheHeader(h.chat(chatBody("fake", "hot", "\"temperature\":0.8,\"seed\":7,\"max_tokens\":5")))).isEqualTo("miss");
        assertThat(model.generations.get()).isEqualTo(5);
    }

    @Test
    void aStreamedReplayIsIdenticalToTheOriginalStream() throws Exception {
        h = withCache(config(true, null, null), redis(REDIS), Ticker.systemTicker(), model);
        // stream first (without a usage chunk: the cache asks the engine for one, the client must not see it)
        String stream = chatBody("fake", "s", GREEDY + ",\"stream\":true");
        HttpResponse<String> original = h.chat(stream);
        assertThat(cacheHeader(original)).isEqualTo("miss");
        List<String> first = events(original.body());
        assertThat(first.getLast()).isEqualTo("[DONE]");
        assertThat(first).noneMatch(e -> e.contains("\"usage\""));
        String text = content(first);
        assertThat(text).isEqualTo(REPLY);
        // then stream again, from the cache
        HttpResponse<String> replay = h.chat(stream);
        assertThat(cacheHeader(replay)).isEqualTo("hit");
        assertThat(replay.headers().firstValue("content-type").orElse("")).startsWith("text/event-stream");
        List<String> again = events(replay.body());
        assertThat(content(again)).isEqualTo(text);
        assertThat(again.getLast()).isEqualTo("[DONE]");
        assertThat(again).noneMatch(e -> e.contains("\"usage\""));
        JsonNode role = json(again.getFirst()).path("choices").get(0).path("delta");
        assertThat(role.path("role").asText()).isEqualTo("assistant");
        JsonNode finish = json(again.get(again.size() - 2)).path("choices").get(0);
        assertThat(finish.path("finish_reason").asText()).isEqualTo("stop");
        // with include_usage: a usage chunk, the original's usage
        HttpResponse<String> withUsage = h.chat(chatBody("fake", "s", GREEDY + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
        assertThat(cacheHeader(withUsage)).isEqualTo("hit");
        List<String> u = events(withUsage.body());
        ObjectNode usage = json(u.get(u.size() - 2));
        assertThat(usage.path("choices").isEmpty()).isTrue();
        assertThat(usage.path("usage").path("completion_tokens").asInt()).isEqualTo(REPLY.codePointCount(0, REPLY.length()));
        // plain, from the streamed original
        HttpResponse<String> plain = h.chat(chatBody("fake", "s", GREEDY));
        assertThat(cacheHeader(plain)).isEqualTo("hit");
        ObjectNode p = json(plain.body());
        assertThat(p.path("object").asText()).isEqualTo("chat.completion");
        assertThat(p.path("choices").get(0).path("message").path("content").asText()).isEqualTo(text);
        assertThat(p.path("usage").path("prompt_tokens").asInt()).isPositive();
        assertThat(model.generations.get()).isEqualTo(1);

        // plain first, then stream: the stream's content is what an uncached stream of the same request gives
        HttpResponse<String> plainFirst = h.chat(chatBody("fake", "p", GREEDY + ",\"logprobs\":true,\"top_logprobs\":1"));
        assertThat(cacheHeader(plainFirst)).isEqualTo("miss");
        String streamBody = chatBody("fake", "p", GREEDY + ",\"logprobs\":true,\"top_logprobs\":1,\"stream\":true");
        HttpResponse<String> fromPlain = h.chat(streamBody);
        assertThat(cacheHeader(fromPlain)).isEqualTo("hit");
        HttpResponse<String> uncached = h.chat(streamBody, "cache-control", "no-cache, no-store");
        assertThat(cacheHeader(uncached)).isEqualTo("bypass");
        assertThat(content(events(fromPlain.body()))).isEqualTo(content(events(uncached.body())))
                .isEqualTo(json(plainFirst.body()).path("choices").get(0).path("message").path("content").asText());
        assertThat(logprobTokens(events(fromPlain.body()))).isEqualTo(logprobTokens(events(uncached.body()))).hasSize(REPLY.codePointCount(0, REPLY.length()));
        assertThat(model.generations.get()).isEqualTo(3);
    }

    private static List<String> logprobTokens(List<String> events) throws Exception {
        List<String> out = new ArrayList<>();
        for (String e : events) {
            if (e.equals("[DONE]")) continue;
            for (JsonNode c : json(e).path("choices")) for (JsonNode t : c.path("logprobs").path("content")) out.add(t.path("token").asText());
        }
        return out;
    }

    @Test
    void legacyCompletionsAreCachedAndReplayedToo() throws Exception {
        h = withCache(config(true, null, null), null, Ticker.systemTicker(), model);
        String stream = "{\"model\":\"fake\",\"prompt\":\"x\",\"temperature\":0,\"stream\":true}";
        HttpResponse<String> a = h.post("/v1/completions", stream);
        HttpResponse<String> b = h.post("/v1/completions", stream);
        HttpResponse<String> c = h.post("/v1/completions", "{\"model\":\"fake\",\"prompt\":\"x\",\"temperature\":0}");
        assertThat(List.of(cacheHeader(a), cacheHeader(b), cacheHeader(c))).containsExactly("miss", "hit", "hit");
        assertThat(content(events(b.body()))).isEqualTo(content(events(a.body()))).isEqualTo(REPLY);
        assertThat(json(c.body()).path("object").asText()).isEqualTo("text_completion");
        assertThat(json(c.body()).path("choices").get(0).path("text").asText()).isEqualTo(REPLY);
        // a chat request with the same model is another key (another route)
        assertThat(cacheHeader(h.chat(chatBody("fake", "x", GREEDY)))).isEqualTo("miss");
        assertThat(model.generations.get()).isEqualTo(2);
    }

    @Test
    void tenIdenticalConcurrentRequestsCauseExactlyOneEngineGeneration() throws Exception {
        h = withCache(config(true, null, null), redis(REDIS), Ticker.systemTicker(), model);
        model.hold();
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            boolean stream = i % 2 == 1;
            String body = chatBody("fake", "together", GREEDY + (stream ? ",\"stream\":true" + (i == 3 ? ",\"stream_options\":{\"include_usage\":true}" : "") : ""));
            all.add(Harness.HTTP.sendAsync(java.net.http.HttpRequest.newBuilder(java.net.URI.create(h.base() + "/v1/chat/completions"))
                    .header("content-type", "application/json").POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString()));
            if (i == 0) await().atMost(5, TimeUnit.SECONDS).until(() -> model.generations.get() == 1);
        }
        await().atMost(10, TimeUnit.SECONDS).until(() -> h.counter("sluice.cache.requests", "result", "coalesced") == 9);
        model.open();
        List<String> headers = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < 10; i++) {
            HttpResponse<String> r = all.get(i).get(30, TimeUnit.SECONDS);
            assertThat(r.statusCode()).isEqualTo(200);
            headers.add(cacheHeader(r));
            if (i % 2 == 1) {
                List<String> ev = events(r.body());
                assertThat(content(ev)).as("stream %d", i).isEqualTo(REPLY);
                assertThat(ev.getLast()).isEqualTo("[DONE]");
                assertThat(ev.stream().anyMatch(e -> e.contains("\"usage\""))).as("usage chunk only where asked, %d", i).isEqualTo(i == 3);
                ids.add(json(ev.getFirst()).path("id").asText());
            } else {
                ObjectNode o = json(r.body());
                assertThat(o.path("choices").get(0).path("message").path("content").asText()).isEqualTo(REPLY);
                assertThat(o.path("usage").path("completion_tokens").asInt()).isPositive();
                ids.add(o.path("id").asText());
            }
        }
        assertThat(model.generations.get()).isEqualTo(1);
        assertThat(headers.stream().filter("miss"::equals).count()).isEqualTo(1);
        assertThat(headers.stream().filter("coalesced"::equals).count()).isEqualTo(9);
        assertThat(ids).as("each client gets its own response id").hasSize(10);
        assertThat(cacheHeader(h.chat(chatBody("fake", "together", GREEDY)))).isEqualTo("hit");
        assertThat(model.generations.get()).isEqualTo(1);
    }

    @Test
    void aFollowerThatLeavesDoesNotCancelTheSharedGenerationButTheLastOneToLeaveDoes() throws Exception {
        h = withCache(config(true, null, null), null, Ticker.systemTicker(), model);
        WebClient web = WebClient.of(h.base());
        String body = chatBody("fake", "leave", GREEDY + ",\"stream\":true");
        model.hold();
        CompletableFuture<HttpResponse<String>> leader = h.HTTP.sendAsync(java.net.http.HttpRequest.newBuilder(java.net.URI.create(h.base() + "/v1/chat/completions"))
                .header("content-type", "application/json").POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        await().atMost(5, TimeUnit.SECONDS).until(() -> model.generations.get() == 1);
        var follower = web.execute(RequestHeaders.of(HttpMethod.POST, "/v1/chat/completions", "content-type", MediaType.JSON_UTF_8), body);
        await().atMost(5, TimeUnit.SECONDS).until(() -> h.counter("sluice.cache.requests", "result", "coalesced") == 1);
        follower.abort();
        Thread.sleep(200);
        model.open();
        HttpResponse<String> r = leader.get(30, TimeUnit.SECONDS);
        assertThat(content(events(r.body()))).isEqualTo(REPLY);
        assertThat(model.cancelled.get()).isZero();
        assertThat(model.generations.get()).isEqualTo(1);

        // both leave: the generation is cancelled, nothing is cached
        String body2 = chatBody("fake", "everyone leaves", GREEDY + ",\"stream\":true");
        model.hold();
        var a = web.execute(RequestHeaders.of(HttpMethod.POST, "/v1/chat/completions", "content-type", MediaType.JSON_UTF_8), body2);
        await().atMost(5, TimeUnit.SECONDS).until(() -> model.generations.get() == 2);
        var b = web.execute(RequestHeaders.of(HttpMethod.POST, "/v1/chat/completions", "content-type", MediaType.JSON_UTF_8), body2);
        await().atMost(5, TimeUnit.SECONDS).until(() -> h.counter("sluice.cache.requests", "result", "coalesced") == 2);
        b.abort();
        a.abort();
        Thread.sleep(200);
        model.open();
        await().atMost(10, TimeUnit.SECONDS).until(() -> model.cancelled.get() == 1);
        assertThat(cacheHeader(h.chat(body2))).isEqualTo("miss");
    }

    @Test
    void aTenantNeverGetsAnotherTenantsAnswerUnlessTheModelIsShared() throws Exception {
        CountingModel shared = new CountingModel("public", REPLY);
        CacheConfig cfg = config(true, null, Map.of("public", new CacheConfig.Model(null, null, null, true)));
        h = withCache(cfg, redis(REDIS), Ticker.systemTicker(), model, shared);
        String mine = chatBody("fake", "secret", GREEDY);
        assertThat(cacheHeader(h.chat(mine, "x-test-tenant", "alice"))).isEqualTo("miss");
        assertThat(cacheHeader(h.chat(mine, "x-test-tenant", "alice"))).isEqualTo("hit");
        assertThat(cacheHeader(h.chat(mine, "x-test-tenant", "bob"))).isEqualTo("miss");
        assertThat(cacheHeader(h.chat(mine))).as("the anonymous default tenant is a tenant too").isEqualTo("miss");
        assertThat(model.generations.get()).isEqualTo(3);
        String pub = chatBody("public", "faq", GREEDY);
        assertThat(cacheHeader(h.chat(pub, "x-test-tenant", "alice"))).isEqualTo("miss");
        assertThat(cacheHeader(h.chat(pub, "x-test-tenant", "bob"))).isEqualTo("hit");
        assertThat(shared.generations.get()).isEqualTo(1);
        // per-tenant keys in Redis too: no tenant reads another's entry at the shared level
        await().atMost(5, TimeUnit.SECONDS).until(() -> redisKeys().size() == 4);
    }

    @Test
    void aDisabledModelBypasses() throws Exception {
        h = withCache(config(true, null, Map.of("fake", new CacheConfig.Model(false, null, null, null))), null, Ticker.systemTicker(), model);
        String body = chatBody("fake", "off", GREEDY);
        assertThat(cacheHeader(h.chat(body))).isEqualTo("bypass");
        assertThat(cacheHeader(h.chat(body))).isEqualTo("bypass");
        assertThat(model.generations.get()).isEqualTo(2);
    }

    /**
     * "Redis stopped in the middle of the test", done without stopping this machine's shared Redis:
     * the gateway talks to Redis through a {@link CuttableProxy}, and cutting it closes every
     * connection and refuses new ones, which is what a stopped Redis looks like from the gateway.
     */
    @Test
    void redisCutMidTestRequestsStillSucceedAndAMetricAndALogLineSaySo() throws Exception {
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        Logger logger = (Logger) LoggerFactory.getLogger(ResponseCache.class);
        logger.addAppender(logs);
        try (CuttableProxy proxy = new CuttableProxy(6379)) {
            h = withCache(config(true, null, null), redis("redis://127.0.0.1:" + proxy.port()), Ticker.systemTicker(), model);
            String before = chatBody("fake", "before", GREEDY);
            assertThat(cacheHeader(h.chat(before))).isEqualTo("miss");
            await().atMost(5, TimeUnit.SECONDS).until(() -> redisKeys().size() == 1);
            assertThat(h.gauge("sluice.cache.redis_up")).isEqualTo(1);

            proxy.cut();
            long t0 = System.nanoTime();
            for (int i = 0; i < 5; i++) {
                HttpResponse<String> r = h.chat(chatBody("fake", "during " + i, GREEDY));
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(json(r.body()).path("choices").get(0).path("message").path("content").asText()).isEqualTo(REPLY);
                assertThat(cacheHeader(r)).isEqualTo("miss");
            }
            assertThat(cacheHeader(h.chat(before))).as("the in-process level still serves").isEqualTo("hit");
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("nothing hangs").isLessThan(Duration.ofSeconds(10));
            await().atMost(5, TimeUnit.SECONDS).until(() -> h.gauge("sluice.cache.redis_up") == 0);
            double errors = h.counter("sluice.cache.redis_errors", "op", "get") + h.counter("sluice.cache.redis_errors", "op", "set");
            assertThat(errors).isPositive();
            assertThat(logs.list).anyMatch(e -> e.getLevel() == ch.qos.logback.classic.Level.WARN
                    && e.getFormattedMessage().contains("Redis level is bypassed"));

            // Redis comes back: the level recovers by itself
            proxy.restore();
            await().atMost(30, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(300)).until(() -> {
                h.chat(chatBody("fake", "after " + System.nanoTime(), GREEDY));
                return h.gauge("sluice.cache.redis_up") == 1;
            });
            assertThat(logs.list).anyMatch(e -> e.getFormattedMessage().contains("Redis level is back"));
        } finally {
            logger.detachAppender(logs);
        }
    }

    @Test
    void anUnreachableRedisFromTheStartCostsNothingButAMetric() throws Exception {
        int dead;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            dead = s.getLocalPort();
        }
        h = withCache(config(true, null, null), redis("redis://127.0.0.1:" + dead), Ticker.systemTicker(), model);
        String body = chatBody("fake", "dead", GREEDY);
        long t0 = System.nanoTime();
        assertThat(cacheHeader(h.chat(body))).isEqualTo("miss");
        assertThat(cacheHeader(h.chat(body))).isEqualTo("hit");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
        await().atMost(5, TimeUnit.SECONDS).until(() -> h.counter("sluice.cache.redis_errors", "op", "connect") >= 1);
        assertThat(h.gauge("sluice.cache.redis_up")).isZero();
    }

    @Test
    void anErrorIsNotCachedAndEveryCoalescedClientGetsIt() throws Exception {
        h = withCache(config(true, null, null), null, Ticker.systemTicker(), model);
        String tooLong = chatBody("fake", "x", GREEDY + ",\"max_tokens\":100000");
        HttpResponse<String> a = h.chat(tooLong);
        assertThat(a.statusCode()).isEqualTo(400);
        assertThat(json(a.body()).path("error").path("type").asText()).isEqualTo("invalid_request_error");
        assertThat(h.chat(tooLong).statusCode()).isEqualTo(400);
        assertThat(h.counter("sluice.cache.writes")).isZero();
    }

    static CompletableFuture<HttpResponse<String>> async(Harness h, String body) {
        return Harness.HTTP.sendAsync(java.net.http.HttpRequest.newBuilder(java.net.URI.create(h.base() + "/v1/chat/completions"))
                .header("content-type", "application/json").POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void whenTheSharedGenerationFailsEveryClientGetsTheErrorAndNothingIsCached() throws Exception {
        h = withCache(config(true, null, null), null, Ticker.systemTicker(), model);
        model.fail = true;
        model.hold();
        String plain = chatBody("fake", "doomed", GREEDY), stream = chatBody("fake", "doomed", GREEDY + ",\"stream\":true");
        var leader = async(h, plain);
        await().atMost(5, TimeUnit.SECONDS).until(() -> model.generations.get() == 1);
        var plainFollower = async(h, plain);
        var streamFollower = async(h, stream);
        await().atMost(5, TimeUnit.SECONDS).until(() -> h.counter("sluice.cache.requests", "result", "coalesced") == 2);
        model.open();
        for (var f : List.of(leader, plainFollower)) {
            HttpResponse<String> r = f.get(30, TimeUnit.SECONDS);
            assertThat(r.statusCode()).isEqualTo(500);
            assertThat(json(r.body()).path("error").path("message").asText()).contains("engine failure");
        }
        HttpResponse<String> s = streamFollower.get(30, TimeUnit.SECONDS);
        assertThat(s.statusCode()).as("the stream's headers were not sent before the failure").isEqualTo(500);
        assertThat(model.generations.get()).isEqualTo(1);
        // a failed stream: live followers get the error event, never a silent truncation
        model.hold();
        var streamLeader = async(h, chatBody("fake", "doomed stream", GREEDY + ",\"stream\":true"));
        await().atMost(5, TimeUnit.SECONDS).until(() -> model.generations.get() == 2);
        var live = async(h, chatBody("fake", "doomed stream", GREEDY + ",\"stream\":true"));
        await().atMost(5, TimeUnit.SECONDS).until(() -> h.counter("sluice.cache.requests", "result", "coalesced") == 3);
        model.open();
        for (var f : List.of(streamLeader, live)) {
            List<String> ev = events(f.get(30, TimeUnit.SECONDS).body());
            assertThat(ev.getLast()).contains("\"error\"").contains("engine failure");
            assertThat(ev).doesNotContain("[DONE]");
        }
        model.fail = false;
        assertThat(cacheHeader(h.chat(plain))).isEqualTo("miss");
        assertThat(h.counter("sluice.cache.writes")).isEqualTo(1);
    }

    @Test
    void whenTheLeadersClientLeavesAPlainFollowerIsServedByItsOwnGeneration() throws Exception {
        h = withCache(config(true, null, null), null, Ticker.systemTicker(), model);
        WebClient web = WebClient.of(h.base());
        String body = chatBody("fake", "leader leaves", GREEDY);
        model.hold();
        var leader = web.execute(RequestHeaders.of(HttpMethod.POST, "/v1/chat/completions", "content-type", MediaType.JSON_UTF_8), body);
        await().atMost(5, TimeUnit.SECONDS).until(() -> model.generations.get() == 1);
        var follower = async(h, body);
        await().atMost(5, TimeUnit.SECONDS).until(() -> h.counter("sluice.cache.requests", "result", "coalesced") == 1);
        leader.abort(); // cancels the generation, which runs on the leader's request
        Thread.sleep(200);
        model.open();
        HttpResponse<String> r = follower.get(30, TimeUnit.SECONDS);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(model.cancelled.get()).isEqualTo(1);
        assertThat(model.generations.get()).as("the follower's own, after the leader's was cancelled").isEqualTo(2);
        assertThat(json(r.body()).path("choices").get(0).path("message").path("content").asText()).isEqualTo(REPLY);
    }

    @Test
    void aRedisThatStallsCostsAtMostATimeoutNeverAHang() throws Exception {
        try (java.net.ServerSocket blackhole = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            List<java.net.Socket> held = new java.util.concurrent.CopyOnWriteArrayList<>();
            Thread.ofVirtual().start(() -> {
                try {
                    while (true) held.add(blackhole.accept()); // accepts, never answers
                } catch (java.io.IOException e) {
                    // closed
                }
            });
            h = withCache(config(true, null, null), redis("redis://127.0.0.1:" + blackhole.getLocalPort()), Ticker.systemTicker(), model);
            for (int i = 0; i < 5; i++) {
                long t0 = System.nanoTime();
                HttpResponse<String> r = h.chat(chatBody("fake", "stall " + i, GREEDY));
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(cacheHeader(r)).isEqualTo("miss");
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("request %d", i).isLessThan(Duration.ofSeconds(3));
            }
            await().atMost(10, TimeUnit.SECONDS).until(() -> h.counter("sluice.cache.redis_errors", "op", "connect") >= 1);
            assertThat(h.gauge("sluice.cache.redis_up")).isZero();
            for (java.net.Socket s : held) s.close();
        }
    }
}
