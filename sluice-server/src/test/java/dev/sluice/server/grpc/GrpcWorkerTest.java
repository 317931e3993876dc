package dev.sluice.server.grpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.client.grpc.GrpcClients;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.grpc.proto.ChatInput;
import dev.sluice.server.grpc.proto.ChatMessage;
import dev.sluice.server.grpc.proto.GenerateRequest;
import dev.sluice.server.grpc.proto.GenerateResponse;
import dev.sluice.server.grpc.proto.InferenceGrpc;
import dev.sluice.server.grpc.proto.ListModelsRequest;
import dev.sluice.server.grpc.proto.ListModelsResponse;
import dev.sluice.server.grpc.proto.SamplingParams;
import dev.sluice.server.grpc.proto.StreamRequest;
import dev.sluice.server.grpc.proto.StreamResponse;
import dev.sluice.server.grpc.proto.TokenizeRequest;
import dev.sluice.server.grpc.proto.TokenizeResponse;
import dev.sluice.server.openai.FakeModel;
import dev.sluice.server.openai.OpenAiException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The worker's gRPC port in plaintext: the four methods, health, deadlines and cancellation. */
class GrpcWorkerTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final FakeModel ECHO = new FakeModel("fake", "Hello, world! ✓", "", 4096);
    static final FakeModel R1 = new FakeModel("fake-r1", "Let me add.\n12 + 30 = 42\n</think>\n\nThe answer is 42.", "<think>\n", 4096);
    /** 400 characters at 20 ms each: 8 s unless cancelled. */
    static final FakeModel SLOW = new FakeModel("slow", "x".repeat(400), "", 4096);
    static final AtomicBoolean READY = new AtomicBoolean();
    static SluiceServer server;
    static WebClient http;
    static InferenceGrpc.InferenceBlockingStub blocking;
    static InferenceGrpc.InferenceStub async;

    @BeforeAll
    static void start() {
        server = new SluiceServer(ServerConfig.defaults().withPort(0), List.of(ECHO, R1, SLOW), READY::get, new ServerMetrics(), null)
                .withGrpc(GrpcConfig.defaults(), 0).start();
        http = WebClient.of("http://127.0.0.1:" + server.port());
        String uri = "http://127.0.0.1:" + server.grpcPort();
        blocking = GrpcClients.newClient(uri, InferenceGrpc.InferenceBlockingStub.class);
        async = GrpcClients.newClient(uri, InferenceGrpc.InferenceStub.class);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static GenerateRequest chat(String model, String user) {
        return GenerateRequest.newBuilder().setModel(model)
                .setChat(ChatInput.newBuilder().addMessages(ChatMessage.newBuilder().setRole("user").setContent(user))).build();
    }

    static JsonNode httpChat(String model, String user) throws Exception {
        String body = JSON.createObjectNode().put("model", model).set("messages", JSON.createArrayNode()
                .add(JSON.createObjectNode().put("role", "user").put("content", user))).toString();
        AggregatedHttpResponse r = http.execute(HttpRequest.of(HttpMethod.POST, "/v1/chat/completions", MediaType.JSON_UTF_8, body)).aggregate().join();
        assertThat(r.status()).isEqualTo(HttpStatus.OK);
        return JSON.readTree(r.contentUtf8());
    }

    @Test
    void generateStreamsTheSameTextAsTheHttpApiWithTokenIdsAndUsage() throws Exception {
        JsonNode viaHttp = httpChat("fake", "hi");
        List<GenerateResponse> rs = new ArrayList<>();
        blocking.generate(chat("fake", "hi")).forEachRemaining(rs::add);
        StringBuilder text = new StringBuilder();
        List<Integer> ids = new ArrayList<>();
        for (GenerateResponse r : rs) {
            text.append(r.getContent());
            ids.addAll(r.getTokenIdsList());
        }
        assertThat(text.toString()).isEqualTo(viaHttp.at("/choices/0/message/content").asText()).isEqualTo("Hello, world! ✓");
        assertThat(ids).containsExactlyElementsOf("Hello, world! ✓".codePoints().boxed().toList()); // the fake's tokens are code points
        assertThat(rs.size()).isGreaterThan(2); // streamed, not one blob
        GenerateResponse last = rs.getLast();
        assertThat(rs.subList(0, rs.size() - 1)).allMatch(r -> r.getFinishReason().isEmpty() && !r.hasUsage());
        assertThat(last.getFinishReason()).isEqualTo("stop");
        assertThat(last.getUsage().getPromptTokens()).isEqualTo(viaHttp.at("/usage/prompt_tokens").asInt());
        assertThat(last.getUsage().getCompletionTokens()).isEqualTo(viaHttp.at("/usage/completion_tokens").asInt());
        assertThat(last.getUsage().getTotalTokens()).isEqualTo(last.getUsage().getPromptTokens() + last.getUsage().getCompletionTokens());
        assertThat(rs).allMatch(r -> r.getId().startsWith("chatcmpl-") && r.getId().equals(rs.getFirst().getId()) && r.getModel().equals("fake"));
    }

    @Test
    void reasoningIsSplitLikeTheHttpApiAndPlainPromptsAndSamplingWork() throws Exception {
        JsonNode viaHttp = httpChat("fake-r1", "12+30?");
        StringBuilder content = new StringBuilder(), reasoning = new StringBuilder();
        blocking.generate(chat("fake-r1", "12+30?")).forEachRemaining(r -> {
            content.append(r.getContent());
            reasoning.append(r.getReasoningContent());
        });
        assertThat(reasoning.toString()).isEqualTo(viaHttp.at("/choices/0/message/reasoning_content").asText()).isEqualTo("Let me add.\n12 + 30 = 42");
        assertThat(content.toString()).isEqualTo(viaHttp.at("/choices/0/message/content").asText()).isEqualTo("The answer is 42.");

        List<GenerateResponse> rs = new ArrayList<>();
        blocking.generate(GenerateRequest.newBuilder().setModel("fake").setPrompt("once upon")
                .setSampling(SamplingParams.newBuilder().setMaxTokens(5).setLogprobs(true).setTopLogprobs(1).setSeed(7)).build()).forEachRemaining(rs::add);
        assertThat(rs.stream().map(GenerateResponse::getContent).reduce("", String::concat)).isEqualTo("Hello");
        assertThat(rs.getLast().getFinishReason()).isEqualTo("length");
        assertThat(rs.stream().mapToInt(GenerateResponse::getLogprobsCount).sum()).isEqualTo(5);
        assertThat(rs.getFirst().getLogprobs(0).getTopLogprobsCount()).isEqualTo(1);
        assertThat(rs.getFirst().getLogprobs(0).getLogprob()).isEqualTo(-0.1f);
        assertThat(rs.getFirst().getId()).startsWith("cmpl-");
    }

    @Test
    void badRequestsFailWithInvalidArgumentNamingTheFieldAndCarryTheOpenAiError() {
        assertThatThrownBy(() -> blocking.generate(GenerateRequest.newBuilder().setModel("fake").setPrompt("x")
                .setSampling(SamplingParams.newBuilder().setTemperature(3f)).build()).hasNext())
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getStatus().getDescription()).contains("'temperature' must be a number in [0.0, 2.0]");
                    OpenAiException oe = GrpcErrors.fromStatus(e, "w");
                    assertThat(oe.status()).isEqualTo(HttpStatus.BAD_REQUEST);
                    assertThat(oe.param()).isEqualTo("temperature");
                });
        assertThatThrownBy(() -> blocking.generate(chat("nope", "hi")).hasNext())
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
                    assertThat(GrpcErrors.fromStatus(e, "w").code()).isEqualTo("model_not_found");
                });
        assertThatThrownBy(() -> blocking.generate(GenerateRequest.newBuilder().setModel("fake").build()).hasNext())
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getDescription()).contains("one of 'chat' or 'prompt' is required"));
    }

    @Test
    void streamMultiplexesTwoRequestsByIdAndCancelsOneById() throws Exception {
        Map<String, List<StreamResponse>> byId = new ConcurrentHashMap<>();
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<Throwable> failed = new AtomicReference<>();
        StreamObserver<StreamRequest> out = async.stream(new StreamObserver<>() {
            @Override public void onNext(StreamResponse r) { byId.computeIfAbsent(r.getRequestId(), k -> new CopyOnWriteArrayList<>()).add(r); }
            @Override public void onError(Throwable t) { failed.set(t); done.countDown(); }
            @Override public void onCompleted() { done.countDown(); }
        });
        out.onNext(StreamRequest.newBuilder().setRequestId("slow").setGenerate(chat("slow", "go")).build());
        out.onNext(StreamRequest.newBuilder().setRequestId("a").setGenerate(chat("fake", "hi")).build());
        out.onNext(StreamRequest.newBuilder().setRequestId("b").setGenerate(chat("fake-r1", "12+30?")).build());
        await().atMost(Duration.ofSeconds(15)).until(() -> byId.containsKey("slow") && byId.get("slow").size() >= 2);
        out.onNext(StreamRequest.newBuilder().setRequestId("slow").setGenerate(chat("fake", "again")).build()); // duplicate id while in flight
        await().atMost(Duration.ofSeconds(15)).until(() -> byId.get("slow").stream().anyMatch(StreamResponse::hasError));
        out.onNext(StreamRequest.newBuilder().setRequestId("slow").setCancel(StreamRequest.Cancel.getDefaultInstance()).build());
        out.onCompleted();
        assertThat(done.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(failed.get()).isNull();
        String a = byId.get("a").stream().filter(StreamResponse::hasResponse).map(r -> r.getResponse().getContent()).reduce("", String::concat);
        String b = byId.get("b").stream().filter(StreamResponse::hasResponse).map(r -> r.getResponse().getContent()).reduce("", String::concat);
        assertThat(a).isEqualTo("Hello, world! ✓");
        assertThat(b).isEqualTo("The answer is 42.");
        assertThat(byId.get("slow").stream().filter(StreamResponse::hasError).toList()).singleElement()
                .satisfies(r -> assertThat(r.getError().getParam()).isEqualTo("request_id"));
        assertThat(byId.get("a").stream().filter(StreamResponse::hasError).toList()).isEmpty();
        assertThat(byId.get("a").stream().filter(r -> r.hasResponse() && r.getResponse().hasUsage()).count()).isEqualTo(1);
        assertThat(byId.get("slow").getLast().getCancelled()).isTrue();
        assertThat(server.inFlight()).isZero();
    }

    @Test
    void tokenizeAndListModels() {
        TokenizeResponse t = blocking.tokenize(TokenizeRequest.newBuilder().setModel("fake").setPrompt("héllo").build());
        assertThat(t.getTokensList()).containsExactlyElementsOf("héllo".codePoints().boxed().toList());
        assertThat(t.getCount()).isEqualTo(5);
        assertThat(t.getMaxModelLen()).isEqualTo(4096);
        TokenizeResponse c = blocking.tokenize(TokenizeRequest.newBuilder().setModel("fake")
                .setChat(ChatInput.newBuilder().addMessages(ChatMessage.newBuilder().setRole("user").setContent("hi"))).build());
        assertThat(c.getCount()).isEqualTo("user: hi\nassistant:".length()); // the fake's template, rendered as for Generate
        // for_generate: the count only, the same as Generate's prompt_tokens
        TokenizeResponse g = blocking.tokenize(TokenizeRequest.newBuilder().setModel("fake").setForGenerate(true)
                .setChat(ChatInput.newBuilder().addMessages(ChatMessage.newBuilder().setRole("user").setContent("hi"))).build());
        assertThat(g.getTokensList()).isEmpty();
        assertThat(g.getCount()).isEqualTo(c.getCount());
        ListModelsResponse m = blocking.listModels(ListModelsRequest.getDefaultInstance());
        assertThat(m.getModelsList()).extracting(x -> x.getId()).containsExactly("fake", "fake-r1", "slow");
        assertThat(m.getModels(0).getMaxModelLen()).isEqualTo(4096);
        assertThatThrownBy(() -> blocking.tokenize(TokenizeRequest.newBuilder().setModel("nope").setPrompt("x").build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    }

    @Test
    void healthServiceReportsServingOnceReady() {
        HealthGrpc.HealthBlockingStub health = GrpcClients.newClient("http://127.0.0.1:" + server.grpcPort(), HealthGrpc.HealthBlockingStub.class);
        READY.set(false);
        await().atMost(Duration.ofSeconds(10)).until(() -> health.check(HealthCheckRequest.getDefaultInstance()).getStatus() == HealthCheckResponse.ServingStatus.NOT_SERVING);
        READY.set(true);
        await().atMost(Duration.ofSeconds(10)).until(() -> health.check(HealthCheckRequest.getDefaultInstance()).getStatus() == HealthCheckResponse.ServingStatus.SERVING);
        assertThat(health.check(HealthCheckRequest.newBuilder().setService("sluice.v1.Inference").build()).getStatus())
                .isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    }

    @Test
    void deadlineExceededEndsTheGenerationAndFreesTheSequence() {
        long t0 = System.nanoTime();
        List<GenerateResponse> got = new ArrayList<>();
        assertThatThrownBy(() -> blocking.withDeadlineAfter(400, TimeUnit.MILLISECONDS).generate(chat("slow", "go")).forEachRemaining(got::add))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
        assertThat(got).isNotEmpty(); // it was streaming when the deadline hit
        await().atMost(Duration.ofSeconds(3)).until(() -> server.inFlight() == 0); // the whole reply would take 8 s
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
    }

    @Test
    void cancellingTheCallCancelsTheSequenceWithinAStep() throws Exception {
        CountDownLatch first = new CountDownLatch(1);
        AtomicReference<ClientCallStreamObserver<GenerateRequest>> call = new AtomicReference<>();
        AtomicReference<Throwable> error = new AtomicReference<>();
        async.generate(chat("slow", "go"), new ClientResponseObserver<GenerateRequest, GenerateResponse>() {
            @Override public void beforeStart(ClientCallStreamObserver<GenerateRequest> c) { call.set(c); }
            @Override public void onNext(GenerateResponse r) { first.countDown(); }
            @Override public void onError(Throwable t) { error.set(t); }
            @Override public void onCompleted() {}
        });
        assertThat(first.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(server.inFlight()).isEqualTo(1);
        long t0 = System.nanoTime();
        call.get().cancel("test cancels", null);
        await().atMost(Duration.ofSeconds(3)).until(() -> server.inFlight() == 0);
        // one fake step is 20 ms and the rest of the reply 8 s: generous for a loaded machine, far below a full run
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(2));
        await().until(() -> error.get() != null);
        assertThat(Status.fromThrowable(error.get()).getCode()).isEqualTo(Status.Code.CANCELLED);
    }
}
