package dev.sluice.server.gateway.upstream;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.GatewayAssembly;
import dev.sluice.server.gateway.upstream.FakeUpstream.Behavior;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The whole gateway ({@code sluice serve --role gateway} as the config file builds it: the model
 * registry over an {@code openai} backend of two fake upstreams) with the official openai-java
 * SDK as the client.
 */
class UpstreamGatewaySdkTest {
    FakeUpstream a, b;
    SluiceServer server;

    @AfterEach
    void stop() {
        if (server != null) server.close();
        if (a != null) a.close();
        if (b != null) b.close();
    }

    @Test
    void theSdkStreamsAndGetsPlainAnswersThroughTheGatewayWithFailoverAndUsage() {
        a = FakeUpstream.start("A");
        b = FakeUpstream.start("B");
        SluiceConfig cfg = SluiceConfig.parse("""
                routing:
                  backends:
                    up:
                      type: openai
                      endpoints: ["%s", "%s"]
                      apiKey: ${UP_KEY}
                      model: upstream-model
                      retry: {backoff: PT0S}
                  models:
                    chat:
                      versions:
                        v1: {backend: up, weight: 100}
                """.formatted(a.baseUrl(), b.baseUrl()), Map.of("UP_KEY", "sk-upstream"), "test.yaml");
        ServerConfig sc = ServerConfig.defaults().withPort(0);
        ServerMetrics metrics = new ServerMetrics();
        server = new SluiceServer(sc, List.of(), () -> true, metrics, w -> GatewayAssembly.build(cfg, null, sc, metrics, w, true)).start();
        OpenAIClient sdk = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey("sk-client").maxRetries(0).build();

        ChatCompletion c = sdk.chat().completions().create(ChatCompletionCreateParams.builder().model("chat").addUserMessage("say hello").build());
        String text = c.choices().getFirst().message().content().orElseThrow();
        assertThat(text).isIn(a.text(), b.text());
        assertThat(c.usage().orElseThrow().completionTokens()).isEqualTo(4);

        // streamed, usage asked for: the upstream's usage arrives in the last chunk
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = sdk.chat().completions().createStreaming(ChatCompletionCreateParams.builder().model("chat")
                .addUserMessage("say hello").streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            s.stream().forEach(chunks::add);
        }
        StringBuilder streamed = new StringBuilder();
        chunks.forEach(ch -> ch.choices().forEach(x -> x.delta().content().ifPresent(streamed::append)));
        assertThat(streamed.toString()).isIn(a.text(), b.text());
        assertThat(chunks.getLast().usage().orElseThrow().completionTokens()).isEqualTo(4);

        // streamed, usage not asked for: no chunk carries it
        chunks.clear();
        try (StreamResponse<ChatCompletionChunk> s = sdk.chat().completions().createStreaming(
                ChatCompletionCreateParams.builder().model("chat").addUserMessage("say hello").build())) {
            s.stream().forEach(chunks::add);
        }
        assertThat(chunks).isNotEmpty().allMatch(ch -> ch.usage().isEmpty());

        // legacy completions, and failover: A fails every request before its first byte, B serves them all
        a.behave(Behavior.ERROR_5XX);
        for (int i = 0; i < 6; i++) {
            Completion done = sdk.completions().create(CompletionCreateParams.builder().model("chat").prompt("say hello").maxTokens(8).build());
            assertThat(done.choices().getFirst().text()).isEqualTo(b.text());
            try (StreamResponse<ChatCompletionChunk> s = sdk.chat().completions().createStreaming(
                    ChatCompletionCreateParams.builder().model("chat").addUserMessage("say hello").build())) {
                StringBuilder sb = new StringBuilder();
                s.stream().forEach(ch -> ch.choices().forEach(x -> x.delta().content().ifPresent(sb::append)));
                assertThat(sb.toString()).isEqualTo(b.text());
            }
        }
        // the gateway's key went upstream, never the client's
        List<FakeUpstream.Recorded> all = new ArrayList<>(a.requests());
        all.addAll(b.requests());
        assertThat(all).isNotEmpty().allSatisfy(r -> {
            assertThat(r.headers().get("authorization")).isEqualTo("Bearer sk-upstream");
            assertThat(r.body().path("model").asText()).isEqualTo("upstream-model");
        });
    }
}
