package dev.sluice.server.grpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import com.linecorp.armeria.server.ServiceRequestContext;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.gateway.Gateway;
import dev.sluice.server.gateway.GatewayAssembly;
import dev.sluice.server.gateway.GatewayRequest;
import dev.sluice.server.gateway.Router;
import dev.sluice.server.openai.FakeModel;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The gateway over a remote worker: openai-java SDK -> gateway (a {@link Router} over
 * {@link GrpcBackend}) -> gRPC with mTLS -> worker -> FakeModel, compared with the worker's own HTTP API.
 */
class GrpcBackendTest {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path certs;
    static SluiceServer worker, gateway;
    static GrpcBackend backend;
    static OpenAIClient viaGateway, direct;
    static WebClient gatewayHttp, workerHttp;
    static final SeededModel seeded = new SeededModel("seeded");
    /** Prompt tokens each request had when it reached the stages (admission's view). */
    static final List<Integer> admitted = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** Every model goes to the one gRPC backend. */
    record OneBackend(GrpcBackend backend) implements Router {
        @Override public void resolve(ServiceRequestContext ctx, GatewayRequest req) {
            if (!List.of("fake", "fake-r1", "slow", "seeded").contains(req.model())) throw OpenAiException.modelNotFound(req.model());
            req.version("remote");
        }
        @Override public java.util.concurrent.CompletableFuture<Integer> countPromptTokens(GatewayRequest req) { return backend.countPromptTokens(req); }
        @Override public HttpResponse dispatch(ServiceRequestContext ctx, GatewayRequest req) { return backend.execute(ctx, req); }
        @Override public List<ModelCard> models() { return List.of(new ModelCard("fake", 1, "sluice", 4096)); }
    }

    @BeforeAll
    static void start() throws IOException {
        DevCertificates.write(certs, List.of(), 1, false);
        GrpcConfig grpc = new GrpcConfig(new GrpcConfig.Tls(certs.resolve("server.pem"), certs.resolve("server-key.pem"), certs.resolve("ca.pem")),
                new GrpcConfig.Tls(certs.resolve("client.pem"), certs.resolve("client-key.pem"), certs.resolve("ca.pem")), null);
        List<FakeModel> models = List.of(new FakeModel("fake", "Hello, world! ✓", "", 4096),
                new FakeModel("fake-r1", "Let me add.\n12 + 30 = 42\n</think>\n\nThe answer is 42.", "<think>\n", 4096),
                new FakeModel("slow", "x".repeat(400), "", 4096));
        List<dev.sluice.server.inference.InferenceModel> all = new ArrayList<>(models);
        all.add(seeded);
        worker = new SluiceServer(ServerConfig.defaults().withPort(0).withDrainTimeout(Duration.ofMillis(200)), all, () -> true, new ServerMetrics(), null)
                .withGrpc(grpc, 0).start();
        backend = new GrpcBackend("remote", List.of("localhost:" + worker.grpcPort()), grpc);
        ServerConfig gcfg = ServerConfig.defaults().withPort(0);
        gateway = new SluiceServer(gcfg, List.of(), () -> true, new ServerMetrics(),
                w -> GatewayAssembly.forTest(new Gateway(new OneBackend(backend), List.of((ctx, req, next) -> {
                    admitted.add(req.promptTokens());
                    return next.proceed(ctx, req);
                }), gcfg))).start();
        viaGateway = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + gateway.port() + "/v1").apiKey("unused").maxRetries(0).build();
        direct = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + worker.port() + "/v1").apiKey("unused").maxRetries(0).build();
        gatewayHttp = WebClient.of("http://127.0.0.1:" + gateway.port());
        workerHttp = WebClient.of("http://127.0.0.1:" + worker.port());
    }

    @AfterAll
    static void stop() {
        if (gateway != null) gateway.close();
        if (backend != null) backend.close();
        if (worker != null && !worker.draining()) worker.close();
    }

    static ChatCompletionCreateParams params(String model, String user) {
        return ChatCompletionCreateParams.builder().model(model).addUserMessage(user).build();
    }

    @Test
    void sdkChatNotStreamedMatchesTheWorkersHttpApi() {
        ChatCompletion g = viaGateway.chat().completions().create(params("fake", "hi"));
        ChatCompletion d = direct.chat().completions().create(params("fake", "hi"));
        assertThat(g.choices().get(0).message().content()).isEqualTo(d.choices().get(0).message().content()).contains("Hello, world! ✓");
        assertThat(g.choices().get(0).finishReason()).isEqualTo(d.choices().get(0).finishReason());
        assertThat(g.usage().get().promptTokens()).isEqualTo(d.usage().get().promptTokens());
        assertThat(g.usage().get().completionTokens()).isEqualTo(d.usage().get().completionTokens());
        assertThat(g.model()).isEqualTo("fake");
        assertThat(g.id()).startsWith("chatcmpl-");
    }

    @Test
    void sdkChatStreamedHasTheSameChunksAsTheWorker() {
        ChatCompletionCreateParams p = params("fake-r1", "12+30?").toBuilder()
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        List<ChatCompletionChunk> g = new ArrayList<>(), d = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = viaGateway.chat().completions().createStreaming(p)) {
            s.stream().forEach(g::add);
        }
        try (StreamResponse<ChatCompletionChunk> s = direct.chat().completions().createStreaming(p)) {
            s.stream().forEach(d::add);
        }
        assertThat(g.getFirst().choices().get(0).delta().role()).isPresent(); // the role delta first
        assertThat(text(g, false)).isEqualTo(text(d, false)).isEqualTo("The answer is 42.");
        assertThat(text(g, true)).isEqualTo(text(d, true)).isEqualTo("Let me add.\n12 + 30 = 42");
        ChatCompletionChunk usage = g.getLast();
        assertThat(usage.choices()).isEmpty();
        assertThat(usage.usage().get().completionTokens()).isEqualTo(d.getLast().usage().get().completionTokens());
        assertThat(g.get(g.size() - 2).choices().get(0).finishReason().get().asString()).isEqualTo("stop");
    }

    static String text(List<ChatCompletionChunk> chunks, boolean reasoning) {
        StringBuilder sb = new StringBuilder();
        for (ChatCompletionChunk c : chunks) {
            for (ChatCompletionChunk.Choice ch : c.choices()) {
                if (reasoning) ch.delta()._additionalProperties().getOrDefault("reasoning_content", com.openai.core.JsonValue.from("")).asString().ifPresent(sb::append);
                else ch.delta().content().ifPresent(sb::append);
            }
        }
        return sb.toString();
    }

    @Test
    void legacyCompletionsAndRawSseEndWithDone() throws Exception {
        Completion c = viaGateway.completions().create(CompletionCreateParams.builder().model(CompletionCreateParams.Model.of("fake")).prompt("x").maxTokens(5).build());
        assertThat(c.choices().get(0).text()).isEqualTo("Hello");
        assertThat(c.choices().get(0).finishReason().asString()).isEqualTo("length");
        String body = "{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true}";
        AggregatedHttpResponse r = gatewayHttp.execute(HttpRequest.of(HttpMethod.POST, "/v1/chat/completions", MediaType.JSON_UTF_8, body)).aggregate().join();
        assertThat(r.status().code()).isEqualTo(200);
        assertThat(r.headers().contentType().is(MediaType.EVENT_STREAM)).isTrue();
        assertThat(r.contentUtf8()).endsWith("data: [DONE]\n\n").doesNotContain("\"usage\"");
    }

    @Test
    void badRequestsGetTheWorkersErrorsBeforeAnyStream() throws Exception {
        assertThatThrownBy(() -> viaGateway.chat().completions().create(params("fake", "hi").toBuilder().temperature(5.0).build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.getMessage()).contains("'temperature' must be a number"));
        // a value only the worker can judge (its context length) comes back as the worker's own 400
        String body = "{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":5000,\"stream\":true}";
        AggregatedHttpResponse r = gatewayHttp.execute(HttpRequest.of(HttpMethod.POST, "/v1/chat/completions", MediaType.JSON_UTF_8, body)).aggregate().join();
        AggregatedHttpResponse w = workerHttp.execute(HttpRequest.of(HttpMethod.POST, "/v1/chat/completions", MediaType.JSON_UTF_8, body)).aggregate().join();
        assertThat(r.status()).isEqualTo(w.status());
        assertThat(JSON.readTree(r.contentUtf8())).isEqualTo(JSON.readTree(w.contentUtf8()));
    }

    @Test
    void theGatewaysDeadlineEndsTheRemoteGeneration() throws Exception {
        String body = "{\"model\":\"slow\",\"messages\":[{\"role\":\"user\",\"content\":\"go\"}],\"stream\":true}";
        RequestHeaders h = RequestHeaders.builder(HttpMethod.POST, "/v1/chat/completions").contentType(MediaType.JSON_UTF_8)
                .add(OpenAiService.DEADLINE_HEADER, "400").build();
        long t0 = System.nanoTime();
        AggregatedHttpResponse r = gatewayHttp.execute(HttpRequest.of(h, com.linecorp.armeria.common.HttpData.ofUtf8(body))).aggregate().join();
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5)); // the reply would take 8 s
        String sse = r.contentUtf8();
        assertThat(sse).contains("\"content\":\"x\"").contains("deadline_exceeded").doesNotContain("[DONE]");
        await().atMost(Duration.ofSeconds(4)).until(() -> worker.inFlight() == 0);
    }

    @Test
    void aClientLeavingMidStreamCancelsTheRemoteSequence() {
        try (StreamResponse<ChatCompletionChunk> s = viaGateway.chat().completions().createStreaming(params("slow", "go"))) {
            s.stream().limit(3).forEach(c -> {});
        }
        await().atMost(Duration.ofSeconds(4)).until(() -> worker.inFlight() == 0);
    }

    /** A model whose reply depends on the seed (choice i of n samples with seed + i), so that n choices differ. */
    static final class SeededModel implements dev.sluice.server.inference.InferenceModel {
        final FakeModel base;
        final java.util.concurrent.atomic.AtomicInteger renders = new java.util.concurrent.atomic.AtomicInteger();

        SeededModel(String id) {
            this.base = new FakeModel(id, "", "", 4096);
        }

        @Override public String id() { return base.id(); }
        @Override public long created() { return base.created(); }
        @Override public int contextLength() { return base.contextLength(); }
        @Override public dev.sluice.server.inference.EngineStats stats() { return base.stats(); }
        @Override public void admit() {}
        @Override public ChatPrompt encodeChat(List<java.util.Map<String, Object>> m, List<java.util.Map<String, Object>> t, java.util.Map<String, Object> v) {
            renders.incrementAndGet();
            return base.encodeChat(m, t, v);
        }
        @Override public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) { return base.tokenize(text, addSpecial, parseSpecial); }
        @Override public String detokenize(int[] ids) { return base.detokenize(ids); }

        @Override
        public Generation generate(int[] prompt, dev.sluice.server.inference.GenerationOptions o, dev.sluice.server.inference.GenerationListener l) {
            long seed = o.seed() == null ? 0 : o.seed();
            return new FakeModel(id(), "seed " + seed + (seed % 2 == 0 ? " is even" : " odd"), "", 4096).generate(prompt, o, l);
        }
    }

    /** An OpenAI response or chunk without what differs between two runs (id, created). */
    static JsonNode stable(JsonNode n) {
        com.fasterxml.jackson.databind.node.ObjectNode o = n.deepCopy();
        o.remove("id");
        o.remove("created");
        return o;
    }

    static List<JsonNode> sseEvents(String sse) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : sse.split("\n")) {
            if (!line.startsWith("data: ")) continue;
            String d = line.substring(6);
            out.add(d.equals("[DONE]") ? JSON.getNodeFactory().textNode(d) : stable(JSON.readTree(d)));
        }
        return out;
    }

    static AggregatedHttpResponse post(WebClient c, String path, String body) {
        return c.execute(HttpRequest.of(HttpMethod.POST, path, MediaType.JSON_UTF_8, body)).aggregate().join();
    }

    @Test
    void nChoicesMatchTheWorkersHttpApiPlainAndStreamed() throws Exception {
        for (String path : List.of("/v1/chat/completions", "/v1/completions")) {
            String input = path.contains("chat") ? "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]" : "\"prompt\":\"hi\"";
            String plain = "{\"model\":\"seeded\"," + input + ",\"n\":3,\"seed\":7,\"max_tokens\":11,\"logprobs\":" + (path.contains("chat") ? "true" : "1") + "}";
            AggregatedHttpResponse g = post(gatewayHttp, path, plain), d = post(workerHttp, path, plain);
            assertThat(g.status().code()).as(g.contentUtf8()).isEqualTo(200);
            JsonNode gj = JSON.readTree(g.contentUtf8());
            assertThat(stable(gj)).isEqualTo(stable(JSON.readTree(d.contentUtf8())));
            assertThat(gj.get("choices")).hasSize(3);
            // seed 7: "seed 7 odd" (10, stop); seed 8: "seed 8 is " (11 tokens, length); seed 9: "seed 9 odd"
            assertThat(gj.at("/choices/1/finish_reason").asText()).isEqualTo("length");
            assertThat(gj.at("/choices/2/index").asInt()).isEqualTo(2);
            assertThat(gj.at("/usage/completion_tokens").asInt()).isEqualTo(10 + 11 + 10);
            assertThat(gj.at("/usage/prompt_tokens").asInt()).isEqualTo(JSON.readTree(d.contentUtf8()).at("/usage/prompt_tokens").asInt()).isPositive();

            String streamed = plain.substring(0, plain.length() - 1) + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
            AggregatedHttpResponse gs = post(gatewayHttp, path, streamed), ds = post(workerHttp, path, streamed);
            List<JsonNode> ge = sseEvents(gs.contentUtf8());
            assertThat(ge).isEqualTo(sseEvents(ds.contentUtf8()));
            assertThat(ge.getLast().asText()).isEqualTo("[DONE]");
            assertThat(ge.get(ge.size() - 2).at("/usage/completion_tokens").asInt()).isEqualTo(31);
            assertThat(ge.stream().filter(e -> e.at("/choices/0/finish_reason").isTextual()).map(e -> e.at("/choices/0/index").asInt()).toList())
                    .containsExactly(0, 1, 2);
        }
    }

    static GatewayRequest chatRequest(String model, String content) {
        com.fasterxml.jackson.databind.node.ObjectNode body = JSON.createObjectNode().put("model", model);
        body.putArray("messages").addObject().put("role", "user").put("content", content);
        return new GatewayRequest(GatewayRequest.Kind.CHAT, RequestHeaders.of(HttpMethod.POST, "/v1/chat/completions"), body,
                dev.sluice.server.gateway.Principal.anonymous(), System.nanoTime() + Duration.ofSeconds(10).toNanos());
    }

    @Test
    void admissionSeesTheWorkersExactPromptCountAndTheTemplateIsRenderedOnce() throws Exception {
        String content = "a longer prompt, so that 4 characters a token is visibly wrong";
        String body = "{\"model\":\"seeded\",\"messages\":[{\"role\":\"user\",\"content\":\"" + content + "\"}],\"seed\":2}";
        int direct = JSON.readTree(post(workerHttp, "/v1/chat/completions", body).contentUtf8()).at("/usage/prompt_tokens").asInt();
        assertThat(direct).isEqualTo(("user: " + content + "\nassistant:").length()); // FakeModel: a token per character
        assertThat(dev.sluice.server.gateway.Backend.estimatePromptTokens(chatRequest("seeded", content))).isNotEqualTo(direct);
        admitted.clear();
        int rendersBefore = seeded.renders.get();
        AggregatedHttpResponse r = post(gatewayHttp, "/v1/chat/completions", body);
        assertThat(r.status().code()).as(r.contentUtf8()).isEqualTo(200);
        assertThat(admitted).containsExactly(direct); // counted by the worker before admission
        assertThat(JSON.readTree(r.contentUtf8()).at("/usage/prompt_tokens").asInt()).isEqualTo(direct); // the worker's usage
        assertThat(seeded.renders.get() - rendersBefore).isEqualTo(1); // the count's rendering was reused by Generate
    }

    @Test
    void aWorkerThatCannotCountFallsBackToTheEstimateWithinTheTimeout() throws Exception {
        // a worker whose Tokenize never answers, and an address where nothing listens
        com.linecorp.armeria.server.Server stalled = com.linecorp.armeria.server.Server.builder().http(0)
                .service(com.linecorp.armeria.server.grpc.GrpcService.builder().addService(new dev.sluice.server.grpc.proto.InferenceGrpc.InferenceImplBase() {
                    @Override
                    public void tokenize(dev.sluice.server.grpc.proto.TokenizeRequest req, io.grpc.stub.StreamObserver<dev.sluice.server.grpc.proto.TokenizeResponse> o) {}
                }).build()).build();
        stalled.start().join();
        int deadPort;
        try (java.net.ServerSocket ss = new java.net.ServerSocket(0)) {
            deadPort = ss.getLocalPort();
        }
        io.micrometer.core.instrument.simple.SimpleMeterRegistry registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        GrpcConfig plain = new GrpcConfig(null, null, true);
        try (GrpcBackend slow = new GrpcBackend("slow", List.of("127.0.0.1:" + stalled.activeLocalPort()), plain, null, registry);
             GrpcBackend dead = new GrpcBackend("dead", List.of("127.0.0.1:" + deadPort), plain, null, registry)) {
            for (GrpcBackend b : List.of(slow, dead)) {
                GatewayRequest req = chatRequest("fake", "hello there");
                long t0 = System.nanoTime();
                int n = b.countPromptTokens(req).get(5, java.util.concurrent.TimeUnit.SECONDS);
                assertThat(n).isEqualTo(dev.sluice.server.gateway.Backend.estimatePromptTokens(req));
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(GrpcBackend.PROMPT_COUNT_TIMEOUT.plusMillis(1500));
                assertThat(registry.get("sluice.grpc.prompt.counts").tags("backend", b.name(), "result", "estimated").counter().count()).isEqualTo(1.0);
            }
        } finally {
            stalled.stop().join();
        }
    }
}
