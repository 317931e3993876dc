package dev.sluice.server.gateway.route;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.GatewayAssembly;
import dev.sluice.server.gateway.LocalRouter;
import dev.sluice.server.inference.InferenceModel;
import dev.sluice.server.openai.FakeModel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The routing config through the real assembly ({@code GatewayAssembly.build}, as {@code sluice serve} wires it), the
 * in-process engine as {@code type: local} backends, and the official openai-java SDK as the client.
 */
class RoutingEndToEndTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String YAML = """
            routing:
              backends:
                engine: {type: local}
              models:
                chat:
                  versions:
                    stable: {backend: engine, model: fake-a, weight: 100}
                    canary: {backend: engine, model: fake-b, weight: 0}
            """;

    final FakeModel a = new FakeModel("fake-a", "from A", "", 4096);
    final FakeModel b = new FakeModel("fake-b", "from B", "", 4096);
    SluiceServer server;
    final AtomicReference<GatewayAssembly> assembly = new AtomicReference<>();

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    void start(String yaml) {
        SluiceConfig config = SluiceConfig.parse(yaml, Map.of(), "test.yaml");
        ServerConfig cfg = ServerConfig.defaults().withPort(0);
        ServerMetrics metrics = new ServerMetrics();
        server = new SluiceServer(cfg, List.<InferenceModel>of(a, b), () -> true, metrics, worker -> {
            GatewayAssembly g = GatewayAssembly.build(config, cfg, metrics, worker);
            assembly.set(g);
            return g;
        }).start();
    }

    OpenAIClient sdk() {
        return OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey("unused").maxRetries(0).build();
    }

    static ChatCompletionCreateParams.Builder params() {
        return ChatCompletionCreateParams.builder().model("chat").addUserMessage("hi");
    }

    @Test
    void sdkThroughTheRegistryToLocalBackendsWithPinsAndAFlip() throws Exception {
        start(YAML);
        assertThat(assembly.get().gateway().router()).isInstanceOf(RegistryRouter.class);
        OpenAIClient sdk = sdk();
        assertThat(sdk.models().list().data()).extracting(m -> m.id()).containsExactly("chat");

        ChatCompletion c = sdk.chat().completions().create(params().user("alice").build());
        assertThat(c.choices().get(0).message().content()).contains("from A");
        // the local backend counted the prompt with the served model's own template: the usage agrees
        assertThat(c.usage().get().promptTokens()).isPositive();

        ChatCompletion pinned = sdk.chat().completions().create(params().putAdditionalHeader("Model-Version", "canary").build());
        assertThat(pinned.choices().get(0).message().content()).contains("from B");
        assertThatThrownBy(() -> sdk.chat().completions().create(params().putAdditionalHeader("Model-Version", "v3").build()))
                .isInstanceOf(BadRequestException.class).hasMessageContaining("stable, canary");

        // blue-green flip through the admin API, then streamed through the SDK
        WebClient http = WebClient.of("http://127.0.0.1:" + server.port());
        var flip = http.execute(HttpRequest.of(HttpMethod.PUT, "/admin/v1/routing/models/chat/weights", MediaType.JSON_UTF_8,
                "{\"weights\":{\"stable\":0,\"canary\":100}}")).aggregate().join();
        assertThat(flip.status().code()).as(flip.contentUtf8()).isEqualTo(200);
        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = sdk.chat().completions().createStreaming(params().user("alice").build())) {
            s.stream().forEach(ch -> ch.choices().forEach(x -> x.delta().content().ifPresent(streamed::append)));
        }
        assertThat(streamed.toString()).isEqualTo("from B");
        String scrape = http.get("/metrics").aggregate().join().contentUtf8();
        assertThat(scrape).contains("sluice_route_requests_total{model=\"chat\",status=\"200\",version=\"canary\"}")
                .contains("sluice_route_version_weight{model=\"chat\",version=\"canary\"} 100.0");
    }

    @Test
    void noRoutingConfigKeepsTheLocalRouterAndOverloadOnlyKeepsEachModelUnderItsId() {
        start("");
        assertThat(assembly.get().gateway().router()).isInstanceOf(LocalRouter.class);
        assertThat(sdk().models().list().data()).extracting(m -> m.id()).containsExactly("fake-a", "fake-b");
        server.close();

        start("routing:\n  overload: {maxInFlight: 64}\n");
        assertThat(assembly.get().gateway().router()).isInstanceOf(RegistryRouter.class);
        OpenAIClient sdk = sdk();
        assertThat(sdk.models().list().data()).extracting(m -> m.id()).containsExactly("fake-a", "fake-b");
        assertThat(sdk.models().list().data().getFirst()._additionalProperties().get("max_model_len").toString()).isEqualTo("4096");
        ChatCompletion c = sdk.chat().completions().create(ChatCompletionCreateParams.builder().model("fake-b").addUserMessage("hi").build());
        assertThat(c.choices().get(0).message().content()).contains("from B");
    }

    @Test
    void aRefusedConnectionFallsBackToARemoteWorkerThroughTheOpenAiUpstream() {
        FakeModel w = new FakeModel("fake-w", "from the worker", "", 4096);
        try (SluiceServer worker = new SluiceServer(ServerConfig.defaults().withPort(0), List.<InferenceModel>of(w), () -> true).start()) {
            start("""
                    routing:
                      backends:
                        engine: {type: local}
                        dead: {type: openai, endpoints: ["http://127.0.0.1:1/v1"]}
                        remote: {type: openai, endpoints: ["http://127.0.0.1:%d/v1"], model: fake-w}
                      models:
                        chat: {versions: {v1: {backend: dead}}, fallbacks: [chat-remote, chat-local]}
                        chat-remote: {versions: {v1: {backend: remote}}}
                        chat-local: {versions: {v1: {backend: engine, model: fake-a}}}
                    """.formatted(worker.port()));
            OpenAIClient sdk = sdk();
            assertThat(sdk.chat().completions().create(params().build()).choices().get(0).message().content()).contains("from the worker");
            StringBuilder streamed = new StringBuilder();
            try (StreamResponse<ChatCompletionChunk> s = sdk.chat().completions().createStreaming(params().build())) {
                s.stream().forEach(ch -> ch.choices().forEach(x -> x.delta().content().ifPresent(streamed::append)));
            }
            assertThat(streamed.toString()).isEqualTo("from the worker");
            worker.close(); // now the remote worker is gone too: the in-process engine is the last fallback
            assertThat(sdk.chat().completions().create(params().build()).choices().get(0).message().content()).contains("from A");
        }
    }

    @Test
    void configErrorsNameTheKey() {
        assertThatThrownBy(() -> GatewayAssembly.build(SluiceConfig.parse(YAML, Map.of(), "t.yaml"), ServerConfig.defaults(), new ServerMetrics(), null))
                .hasMessageContaining("routing.backends.engine").hasMessageContaining("role all");
        assertThatThrownBy(() -> start(YAML.replace("model: fake-b", "model: fake-c")))
                .hasMessageContaining("routing.models.chat.versions.canary").hasMessageContaining("fake-c");
    }
}
