package dev.sluice.server.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.inference.EngineStats;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Every limit of {@link ServerConfig}, and bad input, answered with OpenAI error bodies over a real socket. */
class LimitsTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final FakeModel ECHO = new FakeModel("fake", "Hello, world! ✓", "", 4096);
    static final FakeModel TINY = new FakeModel("tiny", "Hello", "", 40);
    static final FakeModel SLOW = new FakeModel("slow", "x".repeat(2000), "", 4096);
    static SluiceServer server;
    static WebClient http;

    @BeforeAll
    static void start() {
        ServerConfig config = ServerConfig.defaults().withPort(0).withMaxRequestBytes(64 << 10).withMaxTokensCap(100).withMaxHeaderBytes(4096);
        server = new SluiceServer(config, List.of(ECHO, TINY, SLOW), () -> true).start();
        http = WebClient.builder("http://127.0.0.1:" + server.port()).responseTimeoutMillis(20_000).build();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static AggregatedHttpResponse post(String path, String body) {
        return http.execute(HttpRequest.of(HttpMethod.POST, path, MediaType.JSON_UTF_8, body)).aggregate().join();
    }

    /** Asserts an OpenAI error body with {@code status}, and returns its {@code error} object. */
    static JsonNode error(AggregatedHttpResponse r, int status) throws Exception {
        assertThat(r.status().code()).as(r.contentUtf8()).isEqualTo(status);
        assertThat(r.headers().contentType().isJson()).as(r.headers().toString()).isTrue();
        JsonNode e = JSON.readTree(r.contentUtf8()).get("error");
        assertThat(e).as(r.contentUtf8()).isNotNull();
        assertThat(e.get("message").asText()).isNotBlank();
        assertThat(e.has("type") && e.has("param") && e.has("code")).isTrue();
        return e;
    }

    static String chat(String model, String content, String extra) {
        return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + content + "\"}]" + extra + "}";
    }

    @Test
    void oversizedBodyGets413WithAnOpenAiErrorBody() throws Exception {
        JsonNode e = error(post("/v1/chat/completions", chat("fake", "a".repeat(100_000), "")), 413);
        assertThat(e.get("code").asText()).isEqualTo("request_too_large");
        assertThat(e.get("type").asText()).isEqualTo("invalid_request_error");
        // the same through /tokenize
        error(post("/tokenize", "{\"model\":\"fake\",\"prompt\":\"" + "a".repeat(100_000) + "\"}"), 413);
    }

    @Test
    void malformedJsonAndWrongTypesGet400NamingTheParam() throws Exception {
        assertThat(error(post("/v1/chat/completions", "{\"model\":"), 400).get("message").asText()).contains("not valid JSON");
        assertThat(error(post("/v1/chat/completions", ""), 400).get("message").asText()).contains("empty");
        assertThat(error(post("/v1/chat/completions", "[1,2]"), 400).get("param").asText()).isEqualTo("model");
        String[][] cases = {
                {"{\"model\":\"fake\",\"messages\":\"hi\"}", "messages"},
                {"{\"model\":7,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model"},
                {chat("fake", "x", ",\"n\":\"2\""), "n"},
                {chat("fake", "x", ",\"stream\":\"yes\""), "stream"},
                {chat("fake", "x", ",\"max_tokens\":1.5"), "max_tokens"},
                {chat("fake", "x", ",\"temperature\":[1]"), "temperature"},
                {chat("fake", "x", ",\"seed\":\"s\""), "seed"},
                {"{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages[0].content"},
        };
        for (String[] c : cases) {
            JsonNode e = error(post("/v1/chat/completions", c[0]), 400);
            assertThat(e.get("param").asText()).as(c[0]).isEqualTo(c[1]);
            assertThat(e.get("type").asText()).isEqualTo("invalid_request_error");
        }
        assertThat(error(post("/v1/completions", "{\"model\":\"fake\",\"prompt\":{}}"), 400).get("param").asText()).isEqualTo("prompt");
    }

    @Test
    void promptOverTheContextGets400ContextLengthExceeded() throws Exception {
        JsonNode e = error(post("/v1/chat/completions", chat("tiny", "a very long prompt that does not fit in forty tokens", "")), 400);
        assertThat(e.get("code").asText()).isEqualTo("context_length_exceeded");
        assertThat(e.get("param").asText()).isEqualTo("messages");
        e = error(post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"" + "p".repeat(41) + "\"}"), 400);
        assertThat(e.get("param").asText()).isEqualTo("prompt");
        e = error(post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"" + "p".repeat(30) + "\",\"max_tokens\":11}"), 400);
        assertThat(e.get("code").asText()).isEqualTo("context_length_exceeded");
        assertThat(e.get("param").asText()).isEqualTo("max_tokens");
    }

    @Test
    void maxTokensCapRefusesMoreAndBoundsTheDefault() throws Exception {
        JsonNode e = error(post("/v1/chat/completions", chat("fake", "x", ",\"max_tokens\":101")), 400);
        assertThat(e.get("param").asText()).isEqualTo("max_tokens");
        assertThat(e.get("message").asText()).contains("cap of 100");
        e = error(post("/v1/chat/completions", chat("fake", "x", ",\"max_completion_tokens\":500")), 400);
        assertThat(e.get("param").asText()).isEqualTo("max_completion_tokens");
        assertThat(post("/v1/chat/completions", chat("fake", "x", ",\"max_tokens\":100")).status().code()).isEqualTo(200);
        assertThat(post("/v1/chat/completions", chat("fake", "x", "")).status().code()).isEqualTo(200);
        assertThat(ECHO.lastOptions.maxTokens()).isEqualTo(100); // min(cap, context - prompt)
        assertThat(post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"" + "p".repeat(30) + "\"}").status().code()).isEqualTo(200);
        assertThat(TINY.lastOptions.maxTokens()).isEqualTo(10);
    }

    @Test
    void oversizedHeadersGet431AndUnknownRoutes404WithOpenAiBodies() throws Exception {
        // over HTTP/1 (over HTTP/2 the client itself refuses to send headers over the server's advertised limit)
        RequestHeaders h = RequestHeaders.builder(HttpMethod.GET, "/v1/models").add("x-big", "b".repeat(8000)).build();
        JsonNode e = error(WebClient.of("h1c://127.0.0.1:" + server.port()).execute(h).aggregate().join(), 431);
        assertThat(e.get("code").asText()).isEqualTo("headers_too_large");
        e = error(http.get("/v1/nothing-here").aggregate().join(), 404);
        assertThat(e.get("code").asText()).isEqualTo("not_found");
    }

    @Test
    void deadlineHeaderCancelsWithAClearError() throws Exception {
        SLOW.lastCancelled = false;
        RequestHeaders h = RequestHeaders.builder(HttpMethod.POST, "/v1/chat/completions").contentType(MediaType.JSON_UTF_8)
                .add(OpenAiService.DEADLINE_HEADER, "200").build();
        long t0 = System.nanoTime();
        JsonNode e = error(http.execute(h, chat("slow", "x", "")).aggregate().join(), 504);
        assertThat(e.get("code").asText()).isEqualTo("deadline_exceeded");
        assertThat((System.nanoTime() - t0) / 1e9).isLessThan(5);
        await().atMost(5, TimeUnit.SECONDS).until(() -> SLOW.lastCancelled);

        // a stream ends with the error event, never a silent truncation or [DONE]
        String sse = http.execute(h, chat("slow", "x", ",\"stream\":true")).aggregate().join().contentUtf8();
        String[] events = sse.split("\n\n");
        assertThat(events.length).isGreaterThan(2);
        JsonNode last = JSON.readTree(events[events.length - 1].substring("data: ".length()));
        assertThat(last.at("/error/code").asText()).isEqualTo("deadline_exceeded");
        assertThat(sse).doesNotContain("[DONE]");

        RequestHeaders bad = h.toBuilder().set(OpenAiService.DEADLINE_HEADER, "soon").build();
        assertThat(error(http.execute(bad, chat("fake", "x", "")).aggregate().join(), 400).get("param").asText())
                .isEqualTo(OpenAiService.DEADLINE_HEADER);
        await().atMost(5, TimeUnit.SECONDS).until(() -> server.inFlight() == 0);
    }

    @Test
    void aFullEngineQueueGets503WithRetryAfterOverHttpAndWebSocket() throws Exception {
        ECHO.full = true;
        try {
            AggregatedHttpResponse r = post("/v1/chat/completions", chat("fake", "x", ""));
            JsonNode e = error(r, 503);
            assertThat(e.get("code").asText()).isEqualTo("overloaded");
            assertThat(r.headers().get("retry-after")).isEqualTo("1");
            try (WsClient ws = new WsClient(server.port())) {
                ws.send("{\"type\":\"request\",\"id\":\"q\",\"body\":" + chat("fake", "x", "") + "}");
                JsonNode m = ws.next();
                assertThat(m.get("status").asInt()).isEqualTo(503);
                assertThat(m.at("/error/code").asText()).isEqualTo("overloaded");
            }
        } finally {
            ECHO.full = false;
        }
    }

    @Test
    void aWebSocketMessageOverTheBodyLimitClosesTheSocketWith1009() throws Exception {
        try (WsClient ws = new WsClient(server.port())) {
            ws.send("{\"type\":\"request\",\"id\":\"big\",\"body\":" + chat("fake", "a".repeat(100_000), "") + "}");
            assertThat(ws.closed.get(10, TimeUnit.SECONDS)).isEqualTo(1009);
        }
    }

    @Test
    void readinessBodyAndEngineMetricsReportTheModelsLoad() throws Exception {
        ECHO.stats = new EngineStats(2, 3, 100, 400, 7);
        try {
            AggregatedHttpResponse r = http.get("/health/ready").aggregate().join();
            assertThat(r.status().code()).isEqualTo(200);
            JsonNode ready = JSON.readTree(r.contentUtf8());
            assertThat(ready.get("status").asText()).isEqualTo("ready");
            JsonNode m = ready.get("models").get(0);
            assertThat(m.get("id").asText()).isEqualTo("fake");
            assertThat(m.get("state").asText()).isEqualTo("ready");
            assertThat(m.get("context_length").asInt()).isEqualTo(4096);
            assertThat(m.get("waiting").asInt()).isEqualTo(2);
            assertThat(m.get("running").asInt()).isEqualTo(3);
            assertThat(m.get("preemptions").asInt()).isEqualTo(7);
            assertThat(m.at("/kv_cache/used_tokens").asLong()).isEqualTo(100);
            assertThat(m.at("/kv_cache/capacity_tokens").asLong()).isEqualTo(400);
            assertThat(m.at("/kv_cache/usage").asDouble()).isEqualTo(0.25);
            String metrics = http.get("/metrics").aggregate().join().contentUtf8();
            assertThat(metrics).contains("sluice_queue_depth{model=\"fake\"} 2.0")
                    .contains("sluice_running_sequences{model=\"fake\"} 3.0")
                    .contains("sluice_kv_cache_usage{model=\"fake\"} 0.25")
                    .contains("sluice_kv_cache_used_tokens{model=\"fake\"} 100.0")
                    .contains("sluice_preemptions_total{model=\"fake\"} 7.0")
                    .contains("sluice_kv_cache_usage{model=\"slow\"} -1.0");
        } finally {
            ECHO.stats = EngineStats.UNKNOWN;
        }
    }
}
