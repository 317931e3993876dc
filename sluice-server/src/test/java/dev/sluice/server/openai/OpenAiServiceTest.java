package dev.sluice.server.openai;

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
import dev.sluice.server.SluiceServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The OpenAI routes over a real socket, driven by the official openai-java SDK and raw HTTP. */
class OpenAiServiceTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final FakeModel ECHO = new FakeModel("fake", "Hello, world! ✓", "", 4096);
    static final FakeModel R1 = new FakeModel("fake-r1", "Let me add.\n12 + 30 = 42\n</think>\n\nThe answer is 42.", "<think>\n", 4096);
    static final FakeModel SLOW = new FakeModel("slow", "x".repeat(2000), "", 4096);
    static SluiceServer server;
    static OpenAIClient sdk;
    static WebClient http;

    @BeforeAll
    static void start() {
        server = new SluiceServer(ServerConfig.defaults().withPort(0), List.of(ECHO, R1, SLOW), () -> true).start();
        sdk = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey("unused").maxRetries(0).build();
        http = WebClient.of("http://127.0.0.1:" + server.port());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static JsonNode post(String path, String body, int expectStatus) throws Exception {
        AggregatedHttpResponse r = http.execute(HttpRequest.of(HttpMethod.POST, path, MediaType.JSON_UTF_8, body)).aggregate().join();
        assertThat(r.status().code()).as(r.contentUtf8()).isEqualTo(expectStatus);
        return JSON.readTree(r.contentUtf8());
    }

    @Test
    void sdkNonStreamingChatCompletion() {
        ChatCompletion c = sdk.chat().completions().create(ChatCompletionCreateParams.builder()
                .model("fake").addSystemMessage("Be brief.").addUserMessage("hi").temperature(0.0).build());
        assertThat(c.choices()).hasSize(1);
        assertThat(c.choices().get(0).message().content()).contains("Hello, world! ✓");
        assertThat(c.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
        assertThat(c.usage().get().completionTokens()).isEqualTo("Hello, world! ✓".codePointCount(0, 15));
        String prompt = "system: Be brief.\nuser: hi\nassistant:";
        assertThat(c.usage().get().promptTokens()).isEqualTo(prompt.length());
        assertThat(c.model()).isEqualTo("fake");
        assertThat(c.id()).startsWith("chatcmpl-");
    }

    @Test
    void sdkStreamingChatCompletionConcatenatesToTheWholeReply() {
        StringBuilder sb = new StringBuilder();
        List<String> finish = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = sdk.chat().completions().createStreaming(ChatCompletionCreateParams.builder()
                .model("fake").addUserMessage("hi").build())) {
            s.stream().forEach(ch -> ch.choices().forEach(c -> {
                c.delta().content().ifPresent(sb::append);
                c.finishReason().ifPresent(f -> finish.add(f.asString()));
            }));
        }
        assertThat(sb.toString()).isEqualTo("Hello, world! ✓");
        assertThat(finish).containsExactly("stop");
    }

    @Test
    void sseStreamHasRoleFirstUsageChunkAndDone() throws Exception {
        AggregatedHttpResponse r = http.execute(HttpRequest.of(HttpMethod.POST, "/v1/chat/completions", MediaType.JSON_UTF_8,
                "{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true,\"stream_options\":{\"include_usage\":true}}")).aggregate().join();
        assertThat(r.headers().contentType().toString()).startsWith("text/event-stream");
        String[] events = r.contentUtf8().split("\n\n");
        assertThat(events[events.length - 1]).isEqualTo("data: [DONE]");
        JsonNode first = JSON.readTree(events[0].substring(6));
        assertThat(first.at("/choices/0/delta/role").asText()).isEqualTo("assistant");
        JsonNode usage = JSON.readTree(events[events.length - 2].substring(6));
        assertThat(usage.get("choices")).isEmpty();
        assertThat(usage.at("/usage/completion_tokens").asInt()).isEqualTo(15);
        for (String e : events) assertThat(e).startsWith("data: ");
    }

    @Test
    void reasoningGoesToReasoningContentInBothModes() throws Exception {
        JsonNode c = post("/v1/chat/completions", "{\"model\":\"fake-r1\",\"messages\":[{\"role\":\"user\",\"content\":\"What is 12 + 30?\"}]}", 200);
        assertThat(c.at("/choices/0/message/reasoning_content").asText()).isEqualTo("Let me add.\n12 + 30 = 42");
        assertThat(c.at("/choices/0/message/content").asText()).isEqualTo("The answer is 42.");
        AggregatedHttpResponse r = http.execute(HttpRequest.of(HttpMethod.POST, "/v1/chat/completions", MediaType.JSON_UTF_8,
                "{\"model\":\"fake-r1\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"What is 12 + 30?\"}]}")).aggregate().join();
        StringBuilder reasoning = new StringBuilder(), content = new StringBuilder();
        for (String e : r.contentUtf8().split("\n\n")) {
            if (e.equals("data: [DONE]")) continue;
            JsonNode d = JSON.readTree(e.substring(6)).at("/choices/0/delta");
            if (d.has("reasoning_content")) reasoning.append(d.get("reasoning_content").asText());
            if (d.has("content")) content.append(d.get("content").asText());
        }
        assertThat(reasoning.toString()).startsWith("Let me add.\n12 + 30 = 42");
        assertThat(content.toString()).isEqualTo("The answer is 42.");
    }

    @Test
    void invalidValuesGet400NamingTheParam() throws Exception {
        String[][] cases = {
                {"{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":5}", "temperature"},
                {"{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":100}", "n"},
                {"{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}", "max_tokens"},
                {"{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_logprobs\":3}", "top_logprobs"},
                {"{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[1]}", "stop"},
                {"{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"logit_bias\":{\"a\":1}}", "logit_bias"},
                {"{\"model\":\"fake\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", "messages[0].role"},
                {"{\"model\":\"fake\",\"messages\":[]}", "messages"},
                {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model"},
                {"{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":100000}", "max_tokens"},
        };
        for (String[] c : cases) {
            JsonNode e = post("/v1/chat/completions", c[0], 400);
            assertThat(e.at("/error/param").asText()).as(c[0]).isEqualTo(c[1]);
            assertThat(e.at("/error/type").asText()).isEqualTo("invalid_request_error");
            assertThat(e.at("/error/message").asText()).isNotBlank();
        }
        JsonNode bad = post("/v1/chat/completions", "{not json", 400);
        assertThat(bad.at("/error/message").asText()).contains("not valid JSON");
    }

    @Test
    void unknownModelIs404ThroughTheSdkToo() throws Exception {
        JsonNode e = post("/v1/chat/completions", "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 404);
        assertThat(e.at("/error/code").asText()).isEqualTo("model_not_found");
        assertThatThrownBy(() -> sdk.chat().completions().create(ChatCompletionCreateParams.builder().model("nope").addUserMessage("x").build()))
                .isInstanceOf(NotFoundException.class);
    }

    @Test
    void maxTokensStopsWithLengthAndOptionsReachTheModel() throws Exception {
        JsonNode c = post("/v1/chat/completions", "{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_completion_tokens\":5,\"seed\":7,\"top_k\":3,\"min_p\":0.1,\"stop\":\"zz\",\"n\":2}", 200);
        assertThat(c.get("choices")).hasSize(2);
        assertThat(c.at("/choices/0/message/content").asText()).isEqualTo("Hello");
        assertThat(c.at("/choices/1/finish_reason").asText()).isEqualTo("length");
        assertThat(c.at("/usage/completion_tokens").asInt()).isEqualTo(10);
        assertThat(ECHO.lastOptions.topK()).isEqualTo(3);
        assertThat(ECHO.lastOptions.seed()).isEqualTo(8L); // seed + choice index
        assertThat(ECHO.lastOptions.stop()).containsExactly("zz");
    }

    @Test
    void logprobsHaveOpenAiShape() throws Exception {
        JsonNode c = post("/v1/chat/completions", "{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"logprobs\":true,\"top_logprobs\":2,\"max_tokens\":3}", 200);
        JsonNode lp = c.at("/choices/0/logprobs/content");
        assertThat(lp).hasSize(3);
        assertThat(lp.get(0).get("token").asText()).isEqualTo("H");
        assertThat(lp.get(0).get("bytes").get(0).asInt()).isEqualTo('H');
        assertThat(lp.get(0).get("top_logprobs")).hasSize(2);
    }

    @Test
    void legacyCompletionsModelsAndTokenize() throws Exception {
        JsonNode c = post("/v1/completions", "{\"model\":\"fake\",\"prompt\":\"Say\",\"max_tokens\":5}", 200);
        assertThat(c.get("object").asText()).isEqualTo("text_completion");
        assertThat(c.at("/choices/0/text").asText()).isEqualTo("Hello");
        JsonNode models = JSON.readTree(http.get("/v1/models").aggregate().join().contentUtf8());
        assertThat(models.get("data")).extracting(m -> m.get("id").asText()).containsExactly("fake", "fake-r1", "slow");
        assertThat(http.get("/v1/models/nope").aggregate().join().status().code()).isEqualTo(404);
        JsonNode t = post("/tokenize", "{\"model\":\"fake\",\"prompt\":\"abc\"}", 200);
        assertThat(t.get("tokens")).extracting(JsonNode::asInt).containsExactly(97, 98, 99);
        JsonNode d = post("/detokenize", "{\"model\":\"fake\",\"tokens\":[104,105]}", 200);
        assertThat(d.get("prompt").asText()).isEqualTo("hi");
        assertThat(http.get("/health/live").aggregate().join().status().code()).isEqualTo(200);
        assertThat(http.get("/health/ready").aggregate().join().contentUtf8()).contains("\"ready\"");
        post("/v1/chat/completions", "{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 200);
        await().atMost(5, TimeUnit.SECONDS).until(() -> http.get("/metrics").aggregate().join().contentUtf8().contains("sluice_requests_total{route=\"chat\""));
        String metrics = http.get("/metrics").aggregate().join().contentUtf8();
        assertThat(metrics).contains("sluice_requests_total{route=\"chat\",status=\"200\"}")
                .contains("sluice_time_to_first_token_seconds_bucket").contains("sluice_e2e_request_latency_seconds_count")
                .contains("sluice_generation_tokens_total");
    }

    @Test
    void clientDisconnectCancelsTheGeneration() {
        SLOW.lastCancelled = false;
        var stream = sdk.chat().completions().createStreaming(ChatCompletionCreateParams.builder().model("slow").addUserMessage("x").build());
        var it = stream.stream().iterator();
        it.next();
        it.next();
        stream.close();
        await().atMost(10, TimeUnit.SECONDS).until(() -> SLOW.lastCancelled);
    }
}
