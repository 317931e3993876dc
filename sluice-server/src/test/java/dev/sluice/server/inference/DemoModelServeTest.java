package dev.sluice.server.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.sluice.engine.LoadedModel;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.SluiceServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The built-in demo model behind the OpenAI API: answers that can be checked. */
class DemoModelServeTest {
    static Path file;
    static EngineInferenceModel model;
    static SluiceServer server;
    static OpenAIClient sdk;
    static WebClient http;

    @BeforeAll
    static void start() throws Exception {
        file = Files.createTempFile("demo", ".gguf");
        try (InputStream in = LoadedModel.class.getResourceAsStream("/models/demo.gguf")) {
            assertThat(in).as("the demo model is packaged in sluice-engine").isNotNull();
            Files.copy(in, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        model = new EngineInferenceModel("demo", LoadedModel.load(file, 512), 8);
        server = new SluiceServer(ServerConfig.defaults().withPort(0), List.of(model), () -> true).start();
        sdk = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey("unused").maxRetries(0).build();
        http = WebClient.of("http://127.0.0.1:" + server.port());
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        model.close();
        Files.deleteIfExists(file);
    }

    static String ask(String q) {
        ChatCompletion c = sdk.chat().completions().create(ChatCompletionCreateParams.builder()
                .model("demo").addUserMessage(q).temperature(0.0).maxCompletionTokens(64).build());
        assertThat(c.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP); // ended with EOS
        return c.choices().get(0).message().content().orElse("");
    }

    @Test
    void answersArithmetic() {
        assertThat(ask("What is 12 + 30?")).contains("42").doesNotStartWith("\n");
        assertThat(ask("What is 75 - 38?")).contains("37");
    }

    @Test
    void thinkingModeSplitsReasoningContent() throws Exception {
        String body = "{\"model\":\"demo\",\"temperature\":0,\"max_tokens\":96,\"chat_template_kwargs\":{\"enable_thinking\":true},"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"What is 12 + 30?\"}]}";
        JsonNode c = new ObjectMapper().readTree(http.execute(HttpRequest.of(HttpMethod.POST, "/v1/chat/completions", MediaType.JSON_UTF_8, body))
                .aggregate().join().contentUtf8());
        assertThat(c.at("/choices/0/message/reasoning_content").asText()).isNotBlank().doesNotContain("<think>").doesNotContain("</think>");
        assertThat(c.at("/choices/0/message/content").asText()).contains("42").doesNotContain("</think>");
    }

    private static JsonNode post(String body) throws Exception {
        return new ObjectMapper().readTree(http.execute(HttpRequest.of(HttpMethod.POST, "/v1/chat/completions", MediaType.JSON_UTF_8, body))
                .aggregate().join().contentUtf8());
    }

    /** vLLM's {@code ignore_eos}: the answer's end-of-sequence token no longer ends it, so the output runs to {@code max_tokens}. */
    @Test
    void ignoreEosRunsToMaxTokens() throws Exception {
        String ask = "\"temperature\":0,\"max_tokens\":24,\"messages\":[{\"role\":\"user\",\"content\":\"What is 12 + 30?\"}]";
        JsonNode normal = post("{\"model\":\"demo\"," + ask + "}");
        assertThat(normal.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
        assertThat(normal.at("/usage/completion_tokens").asInt()).isLessThan(24);

        JsonNode ignoring = post("{\"model\":\"demo\",\"ignore_eos\":true," + ask + "}");
        assertThat(ignoring.at("/choices/0/finish_reason").asText()).isEqualTo("length");
        assertThat(ignoring.at("/usage/completion_tokens").asInt()).isEqualTo(24);
        assertThat(ignoring.at("/choices/0/message/content").asText()).startsWith(normal.at("/choices/0/message/content").asText());

        JsonNode bad = post("{\"model\":\"demo\",\"ignore_eos\":\"yes\"," + ask + "}");
        assertThat(bad.at("/error/param").asText()).isEqualTo("ignore_eos");
    }
}
