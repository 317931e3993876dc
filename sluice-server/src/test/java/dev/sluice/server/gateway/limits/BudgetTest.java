package dev.sluice.server.gateway.limits;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.SplitHttpResponse;
import dev.sluice.server.openai.FakeModel;
import dev.sluice.server.redis.RedisConfig;
import dev.sluice.server.store.StoreConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.math.BigDecimal;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Budgets: reservations at admission, settled with actual usage; no oversell under concurrency on
 * the real PostgreSQL and the real Redis; 429 {@code insufficient_quota}; released on error and cancel.
 */
class BudgetTest {
    static final ObjectMapper JSON = new ObjectMapper();
    /** Prompt tokens of "hi" plus max_tokens 5 (the fake model's reply is longer, so it always uses all 5). */
    static final int PER_REQUEST = RateLimitTest.PROMPT_HI + 5;
    LimitsHarness h;

    @AfterEach
    void stop() throws Exception {
        if (h != null) {
            h.close();
            RedisCleanup.deletePrefix(h.prefix());
        }
    }

    static LimitsConfig config(String prefix, String quotaBackend, List<LimitsConfig.Budget> budgets, Map<String, LimitsConfig.Price> prices) {
        return new LimitsConfig(true, "local", null, null, null, prefix, null, List.of(), prices, budgets, quotaBackend, null, true);
    }

    Map<Integer, AtomicInteger> twoHundredInParallel(String tenant) throws Exception {
        Map<Integer, AtomicInteger> statuses = new ConcurrentHashMap<>();
        List<CompletableFuture<AggregatedHttpResponse>> all = new ArrayList<>();
        String body = LimitsHarness.chatBody("fake", "hi", 5, false);
        var client = h.http();
        for (int i = 0; i < 200; i++) {
            all.add(client.execute(LimitsHarness.chatRequest(tenant + ",k" + (i % 7), body)).aggregate().whenComplete((r, t) -> {
                int code = t != null ? -1 : r.status().code();
                statuses.computeIfAbsent(code, k -> new AtomicInteger()).incrementAndGet();
                if (code == 429) {
                    try {
                        assertThat(JSON.readTree(r.contentUtf8()).path("error").path("code").asText()).isEqualTo("insufficient_quota");
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                }
            }));
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
        return statuses;
    }

    void assertFiftyOfTwoHundred(String tenant) throws Exception {
        Map<Integer, AtomicInteger> s = twoHundredInParallel(tenant);
        assertThat(s.get(200)).as("statuses %s", s).hasValue(50);
        assertThat(s.get(429)).as("statuses %s", s).hasValue(150);
        Catalog.BudgetLimit b = new Catalog.BudgetLimit("tenant", tenant, "month", 50L * PER_REQUEST, null);
        await().atMost(Duration.ofSeconds(20)).until(() -> h.limits.ledger().balance(b).join().tokensReserved() == 0);
        assertThat(h.limits.ledger().balance(b).join().tokensUsed()).isEqualTo(50L * PER_REQUEST);
        assertThat(h.model.generations()).isEqualTo(50);
    }

    @Test
    void twoHundredParallelRequestsAgainstABudgetForFiftyAdmitFiftyOnPostgres() throws Exception {
        h = new LimitsHarness(new FakeModel("fake", "Hello, world!", "", 4096));
        String tenant = "t-" + h.run;
        h.start(config(h.prefix(), "store", List.of(new LimitsConfig.Budget("tenant", tenant, "month", 50L * PER_REQUEST, null)), null), h.postgres(), null);
        assertThat(h.limits.ledger()).isInstanceOf(SqlLedger.class);
        assertFiftyOfTwoHundred(tenant);
    }

    @Test
    void twoHundredParallelRequestsAgainstABudgetForFiftyAdmitFiftyOnRedis(@TempDir Path dir) throws Exception {
        h = new LimitsHarness(new FakeModel("fake", "Hello, world!", "", 4096));
        String tenant = "t-" + h.run;
        h.start(config(h.prefix(), "redis", List.of(new LimitsConfig.Budget("tenant", null, "month", 50L * PER_REQUEST, null)), null),
                LimitsHarness.h2(dir), new RedisConfig(LimitsHarness.REDIS, null));
        assertThat(h.limits.ledger()).isInstanceOf(RedisLedger.class);
        assertFiftyOfTwoHundred(tenant);
    }

    @Test
    void withBudgetsInRedisAReservationMadeAlongsideARefusingBucketIsUndone(@TempDir Path dir) throws Exception {
        h = new LimitsHarness(new FakeModel("fake", "Hello, world!", "", 4096));
        String tenant = "t-" + h.run;
        LimitsConfig c = new LimitsConfig(true, "local", null, null, null, h.prefix(), "interval",
                List.of(new LimitsConfig.Rule("one", List.of("tenant"), null, null, 1L, null, null, null)), null,
                List.of(new LimitsConfig.Budget("tenant", null, "day", 1_000_000L, null)), "redis", null, false);
        h.start(c, LimitsHarness.h2(dir), new RedisConfig(LimitsHarness.REDIS, null));
        assertThat(h.chat(tenant + ",k", LimitsHarness.chatBody("fake", "hi", 5, false)).status().code()).isEqualTo(200);
        AggregatedHttpResponse refused = h.chat(tenant + ",k", LimitsHarness.chatBody("fake", "hi", 5, false));
        assertThat(refused.status().code()).isEqualTo(429);
        assertThat(JSON.readTree(refused.contentUtf8()).path("error").path("code").asText()).isEqualTo("rate_limit_exceeded");
        Catalog.BudgetLimit b = new Catalog.BudgetLimit("tenant", tenant, "day", 1_000_000L, null);
        await().atMost(Duration.ofSeconds(10)).until(() -> h.limits.ledger().balance(b).join().tokensReserved() == 0);
        assertThat(h.limits.ledger().balance(b).join().tokensUsed()).isEqualTo(PER_REQUEST);
    }

    @Test
    void theH2LedgerIsAtomicTooAndMoneyBudgetsCountAtTheModelsPrices(@TempDir Path dir) throws Exception {
        h = new LimitsHarness(new FakeModel("fake", "Hello, world!", "", 4096));
        // 1.00 per 1K input, 2.00 per 1K output: one request costs (19 * 1000 + 5 * 2000) / 1000 = 29 micro-units... x1000 = 0.029
        var prices = Map.of("fake", new LimitsConfig.Price(new BigDecimal("1.00"), new BigDecimal("2.00")));
        h.start(config(h.prefix(), "store", List.of(new LimitsConfig.Budget("key", null, "day", null, new BigDecimal("0.05"))), prices), LimitsHarness.h2(dir), null);
        assertThat(h.limits.catalog().cost("fake", 19, 5)).isEqualTo(29_000);
        AggregatedHttpResponse first = h.chat("t1,key-a", LimitsHarness.chatBody("fake", "hi", 5, false));
        assertThat(first.status().code()).isEqualTo(200);
        AggregatedHttpResponse second = h.chat("t1,key-a", LimitsHarness.chatBody("fake", "hi", 5, false));
        assertThat(second.status().code()).isEqualTo(429);
        JsonNode e = JSON.readTree(second.contentUtf8()).path("error");
        assertThat(e.path("type").asText()).isEqualTo("insufficient_quota");
        assertThat(e.path("code").asText()).isEqualTo("insufficient_quota");
        // another key has its own budget
        assertThat(h.chat("t1,key-b", LimitsHarness.chatBody("fake", "hi", 5, false)).status().code()).isEqualTo(200);
        Catalog.BudgetLimit a = new Catalog.BudgetLimit("key", "key-a", "day", null, 50_000L);
        await().until(() -> h.limits.ledger().balance(a).join().microsReserved() == 0);
        assertThat(h.limits.ledger().balance(a).join().microsUsed()).isEqualTo(29_000);

        // the ledger itself, 200 threads at once on H2: exactly 50 of 200 fit
        Catalog.BudgetLimit fifty = new Catalog.BudgetLimit("tenant", "h2-" + h.run, "month", 50L, null);
        AtomicInteger reserved = new AtomicInteger(), refused = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(32);
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            all.add(CompletableFuture.runAsync(() -> {
                try {
                    go.await();
                    h.limits.ledger().reserve(List.of(fifty), 1, 0).join();
                    reserved.incrementAndGet();
                } catch (Exception ex) {
                    if (ex.getCause() instanceof Ledger.OverBudget) refused.incrementAndGet();
                    else throw new AssertionError(ex);
                }
            }, pool));
        }
        go.countDown();
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        pool.shutdown();
        assertThat(reserved.get()).isEqualTo(50);
        assertThat(refused.get()).isEqualTo(150);
    }

    @Test
    void aReservationIsReleasedWhenTheBackendFailsAndWhenTheClientCancels() throws Exception {
        FakeModel slow = new FakeModel("fake", "y".repeat(200), "", 4096);
        h = new LimitsHarness(slow);
        String tenant = "t-" + h.run;
        h.start(config(h.prefix(), "store", List.of(new LimitsConfig.Budget("tenant", null, "day", 100_000L, null)), null), h.postgres(), null);
        Catalog.BudgetLimit b = new Catalog.BudgetLimit("tenant", tenant, "day", 100_000L, null);
        // the engine refuses (503): nothing used, nothing left reserved
        slow.full(true);
        assertThat(h.chat(tenant + ",k1", LimitsHarness.chatBody("fake", "hi", 50, false)).status().code()).isEqualTo(503);
        await().until(() -> h.limits.ledger().balance(b).join().equals(Ledger.Balance.ZERO) || h.limits.ledger().balance(b).join().tokensReserved() == 0);
        assertThat(h.limits.ledger().balance(b).join().tokensUsed()).isZero();
        slow.full(false);
        // a stream the client abandons: reserved while it runs, settled when it is cancelled
        SplitHttpResponse s = h.http().execute(LimitsHarness.chatRequest(tenant + ",k1", LimitsHarness.chatBody("fake", "hi", 150, true))).split();
        assertThat(s.headers().join().status().code()).isEqualTo(200);
        await().until(() -> h.limits.ledger().balance(b).join().tokensReserved() == RateLimitTest.PROMPT_HI + 150);
        s.body().abort();
        await().atMost(Duration.ofSeconds(10)).until(() -> h.limits.ledger().balance(b).join().tokensReserved() == 0);
        long used = h.limits.ledger().balance(b).join().tokensUsed();
        assertThat(used).isBetween(0L, (long) RateLimitTest.PROMPT_HI + 150);
    }

    @Test
    void adminRoutesSetPricesAndBudgetsThatApplyAtOnce(@TempDir Path dir) throws Exception {
        h = new LimitsHarness(new FakeModel("fake", "Hello, world!", "", 4096));
        h.start(config(h.prefix(), "store", List.of(), Map.of("fake", new LimitsConfig.Price(BigDecimal.ONE, BigDecimal.ONE))), LimitsHarness.h2(dir), null);
        var http = h.http();
        JsonNode prices = JSON.readTree(h.get("/admin/v1/prices").contentUtf8());
        assertThat(prices.path("data").get(0).path("input").decimalValue()).isEqualByComparingTo("1");
        AggregatedHttpResponse put = http.execute(HttpRequest.of(HttpMethod.PUT, "/admin/v1/prices/fake", MediaType.JSON_UTF_8, "{\"input\":0.25,\"output\":0.5}")).aggregate().join();
        assertThat(put.status().code()).isEqualTo(200);
        assertThat(h.limits.catalog().cost("fake", 1000, 1000)).isEqualTo(750_000);
        assertThat(http.execute(HttpRequest.of(HttpMethod.PUT, "/admin/v1/prices/fake", MediaType.JSON_UTF_8, "{\"input\":-1}")).aggregate().join().status().code())
                .isEqualTo(400);
        // a stored budget of 0 tokens for key k-zero: refused at once
        AggregatedHttpResponse budget = http.execute(HttpRequest.of(HttpMethod.PUT, "/admin/v1/budgets/key/k-zero", MediaType.JSON_UTF_8,
                "{\"period\":\"day\",\"tokens\":0}")).aggregate().join();
        assertThat(budget.status().code()).as(budget.contentUtf8()).isEqualTo(200);
        assertThat(JSON.readTree(budget.contentUtf8()).path("budgets").get(0).path("tokens").asLong()).isZero();
        assertThat(h.chat("t1,k-zero", LimitsHarness.chatBody("fake", "hi", 5, false)).status().code()).isEqualTo(429);
        assertThat(h.chat("t1,k-other", LimitsHarness.chatBody("fake", "hi", 5, false)).status().code()).isEqualTo(200);
        assertThat(JSON.readTree(h.get("/admin/v1/budgets").contentUtf8()).path("stored").get(0).path("subject").asText()).isEqualTo("k-zero");
        assertThat(http.execute(HttpRequest.of(HttpMethod.DELETE, "/admin/v1/budgets/key/k-zero?period=day")).aggregate().join().status().code()).isEqualTo(200);
        assertThat(h.chat("t1,k-zero", LimitsHarness.chatBody("fake", "hi", 5, false)).status().code()).isEqualTo(200);
        assertThat(http.execute(HttpRequest.of(HttpMethod.PUT, "/admin/v1/budgets/nope/x", MediaType.JSON_UTF_8, "{\"tokens\":1}")).aggregate().join().status().code())
                .isEqualTo(400);
        JsonNode view = JSON.readTree(h.get("/admin/v1/limits").contentUtf8());
        assertThat(view.path("backend").asText()).isEqualTo("local");
        assertThat(view.path("backend_up").asBoolean()).isTrue();
    }
}
