package dev.sluice.server.inference;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.sluice.engine.LoadedModel;
import dev.sluice.engine.sampling.SamplingParams;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.SluiceServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** A real (tiny reference) model behind the OpenAI routes, driven by the openai-java SDK. */
class EngineInferenceModelTest {
    static final Path QWEN2 = Path.of("../sluice-engine/src/test/resources/reference/qwen2");
    static LoadedModel loaded;
    static EngineInferenceModel model;
    static SluiceServer server;
    static OpenAIClient sdk;

    @BeforeAll
    static void start() {
        loaded = LoadedModel.load(QWEN2, 256);
        model = new EngineInferenceModel("tiny-qwen2", loaded, 4);
        model.warmUp();
        server = new SluiceServer(ServerConfig.defaults().withPort(0), List.of(model), () -> true).start();
        sdk = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey("unused").maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        server.close();
        model.close();
    }

    static ChatCompletionCreateParams.Builder params() {
        return ChatCompletionCreateParams.builder().model("tiny-qwen2").addUserMessage("hello world").temperature(0.0).maxCompletionTokens(12);
    }

    @Test
    void greedyChatMatchesTheEngineRunDirectly() {
        ChatCompletion c = sdk.chat().completions().create(params().build());
        var prompt = model.encodeChat(List.of(Map.of("role", "user", "content", "hello world")), null, null);
        assertThat(prompt.text()).isEqualTo("<|bos|>user\nhello world<|eos|>\n<|bos|>assistant\n");
        var direct = loaded.generator().generate(prompt.ids(), SamplingParams.greedy(12), null, null);
        assertThat(c.choices().get(0).message().content()).contains(direct.text());
        assertThat(c.usage().get().promptTokens()).isEqualTo(prompt.ids().length);
        assertThat(c.usage().get().completionTokens()).isEqualTo(direct.tokens().length);
    }

    @Test
    void streamingGivesTheSameTextAsNonStreaming() {
        String whole = sdk.chat().completions().create(params().build()).choices().get(0).message().content().orElse("");
        StringBuilder sb = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = sdk.chat().completions().createStreaming(params().build())) {
            s.stream().forEach(ch -> ch.choices().forEach(c -> c.delta().content().ifPresent(sb::append)));
        }
        assertThat(sb.toString()).isEqualTo(whole);
    }

    @Test
    void sameSeedSameSampledOutput() {
        var p = params().temperature(1.0).seed(1234L).build();
        String a = sdk.chat().completions().create(p).choices().get(0).message().content().orElse("");
        String b = sdk.chat().completions().create(p).choices().get(0).message().content().orElse("");
        assertThat(a).isEqualTo(b);
    }

    @Test
    void logprobsAreRealDistributions() {
        ChatCompletion c = sdk.chat().completions().create(params().logprobs(true).topLogprobs(3).maxCompletionTokens(4).build());
        var content = c.choices().get(0).logprobs().get().content().get();
        assertThat(content).isNotEmpty();
        for (var t : content) {
            assertThat(t.logprob()).isLessThanOrEqualTo(0.0);
            assertThat(t.topLogprobs()).hasSize(3);
            // greedy: the chosen token is the most likely alternative
            assertThat(t.logprob()).isCloseTo(t.topLogprobs().get(0).logprob(), org.assertj.core.data.Offset.offset(1e-5));
        }
    }
}
