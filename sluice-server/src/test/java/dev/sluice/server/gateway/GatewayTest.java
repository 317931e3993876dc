package dev.sluice.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.NotFoundException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.openai.FakeModel;
import dev.sluice.server.openai.OpenAiException;
import com.linecorp.armeria.common.HttpStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The gateway in front of the in-process worker: the OpenAI routes, stage order, the response tap. */
class GatewayTest {
    static final ObjectMapper JSON = new ObjectMapper();
    final FakeModel echo = new FakeModel("fake", "Hello, world!", "", 4096);
    SluiceServer server;

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    SluiceServer start(List<GatewayStage> stages) {
        ServerConfig cfg = ServerConfig.defaults().withPort(0);
        server = new SluiceServer(cfg, List.of(echo), () -> true, new ServerMetrics(),
                worker -> GatewayAssembly.forTest(new Gateway(new LocalRouter(worker), stages, cfg))).start();
        return server;
    }

    OpenAIClient sdk() {
        return OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey("unused").maxRetries(0).build();
    }

    @Test
    void sdkThroughTheGatewayPlainAndStreamedWithTheTapSeeingUsage() {
        List<ResponseTap.Outcome> outcomes = new CopyOnWriteArrayList<>();
        List<String> seen = new CopyOnWriteArrayList<>();
        start(List.of((ctx, req, next) -> {
            seen.add(req.model() + "/" + req.version() + "/" + req.promptTokens() + "/" + req.principal().tenant());
            return ResponseTap.tap(next.proceed(ctx, req), outcomes::add);
        }));
        OpenAIClient sdk = sdk();
        ChatCompletion c = sdk.chat().completions().create(ChatCompletionCreateParams.builder().model("fake").addUserMessage("hi").build());
        assertThat(c.choices().get(0).message().content()).contains("Hello, world!");
        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = sdk.chat().completions().createStreaming(
                ChatCompletionCreateParams.builder().model("fake").addUserMessage("hi").build())) {
            s.stream().forEach(ch -> ch.choices().forEach(x -> x.delta().content().ifPresent(streamed::append)));
        }
        assertThat(streamed.toString()).isEqualTo("Hello, world!");
        await().until(() -> outcomes.size() == 2);
        ResponseTap.Outcome plain = outcomes.get(0), stream = outcomes.get(1);
        assertThat(plain.ok()).isTrue();
        assertThat(plain.stream()).isFalse();
        assertThat(plain.usage().completionTokens()).isEqualTo(c.usage().get().completionTokens());
        assertThat(plain.usage().promptTokens()).isEqualTo((int) c.usage().get().promptTokens());
        assertThat(stream.ok()).isTrue();
        assertThat(stream.stream()).isTrue();
        assertThat(stream.done()).isTrue();
        StringBuilder fromChunks = new StringBuilder();
        stream.chunks().forEach(ch -> ch.path("choices").forEach(x -> fromChunks.append(x.path("delta").path("content").asText(""))));
        assertThat(fromChunks.toString()).isEqualTo("Hello, world!");
        // the router counted the prompt with the model's own template before the stages ran
        assertThat(seen).hasSize(2).allMatch(s -> s.equals("fake/default/" + plain.usage().promptTokens() + "/default"));
    }

    @Test
    void aStageMayAnswerItselfWithAnOpenAiErrorAndHeaders() throws Exception {
        start(List.of((ctx, req, next) -> {
            throw new OpenAiException(HttpStatus.TOO_MANY_REQUESTS, "requests", null, "rate_limit_exceeded", "slow down")
                    .header("retry-after", "7").header("x-ratelimit-limit-requests", "10");
        }));
        AggregatedHttpResponse r = WebClient.of("http://127.0.0.1:" + server.port())
                .execute(HttpRequest.of(HttpMethod.POST, "/v1/chat/completions", MediaType.JSON_UTF_8,
                        "{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")).aggregate().join();
        assertThat(r.status().code()).isEqualTo(429);
        assertThat(r.headers().get("retry-after")).isEqualTo("7");
        assertThat(r.headers().get("x-ratelimit-limit-requests")).isEqualTo("10");
        assertThat(JSON.readTree(r.contentUtf8()).path("error").path("code").asText()).isEqualTo("rate_limit_exceeded");
    }

    @Test
    void unknownModelIs404AndBadBodiesAre400BeforeAnyStage() throws Exception {
        List<String> reached = new CopyOnWriteArrayList<>();
        start(List.of((ctx, req, next) -> {
            reached.add(req.model());
            return next.proceed(ctx, req);
        }));
        assertThatThrownBy(() -> sdk().chat().completions().create(ChatCompletionCreateParams.builder().model("nope").addUserMessage("hi").build()))
                .isInstanceOf(NotFoundException.class);
        WebClient http = WebClient.of("http://127.0.0.1:" + server.port());
        for (String bad : List.of("{", "[]", "{\"messages\":[]}", "{\"model\":5}")) {
            AggregatedHttpResponse r = http.execute(HttpRequest.of(HttpMethod.POST, "/v1/chat/completions", MediaType.JSON_UTF_8, bad)).aggregate().join();
            assertThat(r.status().code()).as(bad).isEqualTo(400);
            JsonNode e = JSON.readTree(r.contentUtf8()).path("error");
            assertThat(e.path("type").asText()).isEqualTo("invalid_request_error");
        }
        assertThat(reached).isEmpty();
        JsonNode models = JSON.readTree(http.get("/v1/models").aggregate().join().contentUtf8());
        assertThat(models.path("data").get(0).path("id").asText()).isEqualTo("fake");
        assertThat(http.get("/v1/models/nope").aggregate().join().status().code()).isEqualTo(404);
    }

    @Test
    void principalRestrictsModels() {
        Principal p = new Principal("t1", null, "k1", null, null, java.util.Set.of("a"), false);
        assertThat(p.allows("a")).isTrue();
        assertThat(p.allows("b")).isFalse();
        assertThat(Principal.anonymous().allows("anything")).isTrue();
        assertThatThrownBy(() -> new Principal(" ", null, null, null, null, null, false)).hasMessageContaining("tenant");
    }
}
