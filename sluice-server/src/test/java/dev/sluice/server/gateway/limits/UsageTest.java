package dev.sluice.server.gateway.limits;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import dev.sluice.server.openai.FakeModel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.math.BigDecimal;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/** Usage records: one per request, written in batches, none lost on graceful shutdown; the usage API's totals. */
class UsageTest {
    static final ObjectMapper JSON = new ObjectMapper();
    LimitsHarness h;

    @AfterEach
    void stop() throws Exception {
        if (h != null) h.close();
    }

    static LimitsConfig config(List<LimitsConfig.Rule> rules) {
        return new LimitsConfig(true, "local", null, null, null, null, null, rules,
                Map.of("fake", new LimitsConfig.Price(new BigDecimal("1"), new BigDecimal("2"))), null, null, null, true);
    }

    @Test
    void everyRequestIsRecordedInBatchesAndNoneIsLostOnGracefulShutdownOnPostgres() throws Exception {
        h = new LimitsHarness(new FakeModel("fake", "Hello, world!", "", 4096));
        var store = h.postgres();
        h.start(config(List.of(new LimitsConfig.Rule("per-key", List.of("key"), null, null, 10L, null, null, null))), store, null);
        List<CompletableFuture<AggregatedHttpResponse>> all = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            all.add(h.http().execute(LimitsHarness.chatRequest("tenant-" + (i % 2) + ",key-" + (i % 3) + ",user-" + i, LimitsHarness.chatBody("fake", "hi", 5, false))).aggregate());
        }
        int ok = 0, limited = 0;
        for (var f : all) {
            int s = f.join().status().code();
            if (s == 200) ok++;
            else if (s == 429) limited++;
        }
        assertThat(ok).isEqualTo(30); // 10 per key, 3 keys
        assertThat(limited).isEqualTo(30);
        // shut down at once: records still queued (the writer flushes every 200 ms) must be written by the drain
        h.server.close();
        try (Connection c = DriverManager.getConnection(store.url(), "postgres", null)) {
            try (ResultSet r = c.createStatement().executeQuery("SELECT status, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_micros), "
                    + "COUNT(DISTINCT key_id), COUNT(DISTINCT tenant), MIN(model), MIN(model_version), MIN(route) FROM usage_records GROUP BY status ORDER BY status")) {
                assertThat(r.next()).isTrue();
                assertThat(r.getInt(1)).isEqualTo(200);
                assertThat(r.getInt(2)).isEqualTo(30);
                assertThat(r.getLong(3)).isEqualTo(30L * RateLimitTest.PROMPT_HI);
                assertThat(r.getLong(4)).isEqualTo(30L * 5);
                assertThat(r.getLong(5)).isEqualTo(30L * 29_000); // (19 * 1 + 5 * 2) / 1000 per request
                assertThat(r.getInt(6)).isEqualTo(3);
                assertThat(r.getInt(7)).isEqualTo(2);
                assertThat(r.getString(8)).isEqualTo("fake");
                assertThat(r.getString(9)).isEqualTo("default");
                assertThat(r.getString(10)).isEqualTo("chat");
                assertThat(r.next()).isTrue();
                assertThat(r.getInt(1)).isEqualTo(429);
                assertThat(r.getInt(2)).isEqualTo(30);
                assertThat(r.getLong(5)).isZero();
            }
        }
        assertThat(h.metrics.scrape()).contains("sluice_store_records_written_total{writer=\"usage\"} 60.0");
    }

    @Test
    void theUsageApiTotalsByKeyTenantModelAndDayAndScopesV1UsageToTheCallersTenant(@TempDir Path dir) throws Exception {
        h = new LimitsHarness(new FakeModel("fake", "Hello, world!", "", 4096));
        h.start(config(List.of()), LimitsHarness.h2(dir), null);
        Map<String, Integer> perKey = new HashMap<>();
        for (int i = 0; i < 12; i++) {
            String key = "key-" + (i % 4);
            String tenant = i % 4 < 3 ? "acme" : "globex";
            assertThat(h.chat(tenant + "," + key, LimitsHarness.chatBody("fake", "hi", 5, false)).status().code()).isEqualTo(200);
            perKey.merge(key, 1, Integer::sum);
        }
        assertThat(h.limits.flushUsage(Duration.ofSeconds(10))).isTrue();
        String today = LocalDate.now(ZoneOffset.UTC).toString();

        JsonNode byKey = JSON.readTree(h.get("/admin/v1/usage?group_by=key").contentUtf8());
        assertThat(byKey.path("data")).hasSize(4);
        for (JsonNode row : byKey.path("data")) {
            int n = perKey.get(row.path("key").asText());
            assertThat(row.path("requests").asInt()).isEqualTo(n);
            assertThat(row.path("prompt_tokens").asLong()).isEqualTo((long) n * RateLimitTest.PROMPT_HI);
            assertThat(row.path("completion_tokens").asLong()).isEqualTo(n * 5L);
            assertThat(row.path("total_tokens").asLong()).isEqualTo((long) n * (RateLimitTest.PROMPT_HI + 5));
            assertThat(row.path("cost").decimalValue()).isEqualByComparingTo(new BigDecimal("0.029").multiply(BigDecimal.valueOf(n)));
        }
        JsonNode byTenant = JSON.readTree(h.get("/admin/v1/usage?group_by=tenant").contentUtf8());
        assertThat(byTenant.path("data").get(0).path("tenant").asText()).isEqualTo("acme");
        assertThat(byTenant.path("data").get(0).path("requests").asInt()).isEqualTo(9);
        assertThat(byTenant.path("data").get(1).path("requests").asInt()).isEqualTo(3);
        JsonNode byDay = JSON.readTree(h.get("/admin/v1/usage?group_by=day&from=" + today + "&to=" + today + "&tenant=globex").contentUtf8());
        assertThat(byDay.path("data")).hasSize(1);
        assertThat(byDay.path("data").get(0).path("day").asText()).isEqualTo(today);
        assertThat(byDay.path("data").get(0).path("requests").asInt()).isEqualTo(3);
        JsonNode byModel = JSON.readTree(h.get("/admin/v1/usage?group_by=model").contentUtf8());
        assertThat(byModel.path("data").get(0).path("requests").asInt()).isEqualTo(12);
        JsonNode yesterday = JSON.readTree(h.get("/admin/v1/usage?group_by=model&to=" + LocalDate.now(ZoneOffset.UTC).minusDays(1)).contentUtf8());
        assertThat(yesterday.path("data")).isEmpty();

        // the caller's own usage: only its tenant, whatever it asks for
        AggregatedHttpResponse mine = h.http().execute(com.linecorp.armeria.common.HttpRequest.of(
                com.linecorp.armeria.common.RequestHeaders.of(com.linecorp.armeria.common.HttpMethod.GET, "/v1/usage?group_by=tenant&tenant=acme",
                        LimitsHarness.PRINCIPAL_HEADER, "globex,key-3"))).aggregate().join();
        JsonNode m = JSON.readTree(mine.contentUtf8());
        assertThat(m.path("data")).hasSize(1);
        assertThat(m.path("data").get(0).path("tenant").asText()).isEqualTo("globex");

        for (String bad : List.of("group_by=password", "from=yesterday", "from=2026-02-01&to=2026-01-01", "from=2020-01-01&to=2026-01-01")) {
            AggregatedHttpResponse r = h.get("/admin/v1/usage?" + bad);
            assertThat(r.status().code()).as(bad).isEqualTo(400);
            assertThat(JSON.readTree(r.contentUtf8()).path("error").path("type").asText()).isEqualTo("invalid_request_error");
        }
    }
}
