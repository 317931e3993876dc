package dev.sluice.server.grpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.client.ClientFactory;
import com.linecorp.armeria.client.ClientFactoryBuilder;
import com.linecorp.armeria.client.Endpoint;
import com.linecorp.armeria.client.endpoint.EndpointGroup;
import com.linecorp.armeria.client.grpc.GrpcClients;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpHeaderNames;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpResponseWriter;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.ResponseHeaders;
import com.linecorp.armeria.common.SessionProtocol;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.config.ConfigException;
import dev.sluice.server.gateway.Backend;
import dev.sluice.server.gateway.GatewayRequest;
import dev.sluice.server.grpc.proto.GenerateRequest;
import dev.sluice.server.grpc.proto.GenerateResponse;
import dev.sluice.server.grpc.proto.InferenceGrpc;
import dev.sluice.server.grpc.proto.TokenLogprob;
import dev.sluice.server.inference.GenerationListener;
import dev.sluice.server.openai.ChatRequest;
import dev.sluice.server.openai.OpenAiErrors;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.core.instrument.Counter;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.sluice.server.grpc.proto.TokenizeRequest;
import dev.sluice.server.grpc.proto.TokenizeResponse;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.Map;
import io.grpc.stub.StreamObserver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A remote Sluice worker as a gateway backend: the OpenAI request, validated here with
 * {@link ChatRequest} (so a bad request is a 400 before any network hop), becomes a
 * {@code sluice.v1.Inference/Generate} call, and the stream of {@link GenerateResponse}s becomes
 * the same OpenAI JSON or SSE the HTTP worker writes: the role delta first, content and
 * reasoning deltas, the finish chunk, the usage chunk when asked, {@code data: [DONE]}.
 *
 * <p>Design note: the call's deadline is the gateway request's deadline, so the worker ends the
 * generation when the client's time is up; the client going away cancels the call, which cancels
 * the worker's sequence. The SSE headers are written only when the first response arrives: a
 * failure before it (bad request, unknown model, worker down, refused handshake) is a plain
 * OpenAI error with its proper status, which the gateway may still retry elsewhere; a failure
 * after it ends the stream with an error event. Prompt tokens for admission are the worker's own
 * count ({@link #countPromptTokens}: {@code Tokenize} with {@code for_generate}, bounded by
 * {@link #PROMPT_COUNT_TIMEOUT}, else the estimate), and the request's Generate is pinned to the
 * worker that counted it, which reuses the rendered prompt. n > 1: the worker sends the choices
 * one after another, each response tagged with its index. TLS: with {@code grpc.client} configured the
 * backend presents its certificate and trusts {@code grpc.client.ca}; without it, plaintext is
 * refused at construction unless {@code grpc.allowPlaintext} is set.
 */
public final class GrpcBackend implements Backend, AutoCloseable {
    /** Largest response message accepted from a worker: 16 MiB (one delta is a few bytes; a limit, not a target). */
    static final int MAX_RESPONSE_MESSAGE_BYTES = 16 << 20;
    /** Connect timeout to a worker: 5 s, then the call fails with 503 (before any byte, so it can be retried). */
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = GrpcMessages.JSON;

    /**
     * Longest the gateway waits for a worker to count a prompt before admission: 1 s (or the request's deadline when
     * sooner). Rendering and tokenizing take milliseconds; past this the count falls back to the estimate (4 characters
     * a token), counted in {@code sluice_grpc_prompt_counts_total{result="estimated"}}, and the request goes on.
     */
    static final Duration PROMPT_COUNT_TIMEOUT = Duration.ofSeconds(1);
    /** How long the endpoint that counted a request's prompt stays pinned for its Generate: 1 min (admission takes far less). */
    static final Duration PIN_TTL = Duration.ofMinutes(1);
    /** At most one warning per this interval when counts fall back to the estimate: 30 s (the metric counts each one). */
    static final Duration FALLBACK_WARN_INTERVAL = Duration.ofSeconds(30);
    private static final Logger log = LoggerFactory.getLogger(GrpcBackend.class);

    private final String name;
    private final ClientFactory factory;
    private final EndpointGroup group;
    private final InferenceGrpc.InferenceStub stub;
    private final SessionProtocol protocol;
    /** One stub per endpoint, for the calls that must reach a chosen endpoint (a count, then the Generate it pins). */
    private final Map<Endpoint, InferenceGrpc.InferenceStub> endpointStubs = new ConcurrentHashMap<>();
    /** The endpoint that counted each request's prompt (by identity, weakly held), so that its Generate goes there and reuses the rendering. */
    private final Cache<GatewayRequest, Endpoint> pinned =
            Caffeine.newBuilder().weakKeys().expireAfterWrite(PIN_TTL).build();
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicLong lastFallbackWarn = new AtomicLong(System.nanoTime() - FALLBACK_WARN_INTERVAL.toNanos());
    private final Counter exactCounts, estimatedCounts;

    /**
     * @param endpoints {@code host:port} of the worker's gRPC port (a {@code grpc://} or {@code grpcs://} prefix is
     *                  allowed; TLS follows {@code grpc.client}, not the prefix); more than one are used in turn
     * @throws ConfigException for no endpoints, a bad endpoint, or plaintext that is not allowed
     */
    public GrpcBackend(String name, List<String> endpoints, GrpcConfig grpc) {
        this(name, endpoints, grpc, null);
    }

    /**
     * @param healthInterval how often each endpoint's {@code grpc.health.v1} is checked (an endpoint that is not
     *                       {@code SERVING} leaves the rotation until it is), or null for no active checks
     */
    public GrpcBackend(String name, List<String> endpoints, GrpcConfig grpc, Duration healthInterval) {
        this(name, endpoints, grpc, healthInterval, null);
    }

    /** @param metrics where {@code sluice_grpc_prompt_counts_total} goes, or null for none */
    public GrpcBackend(String name, List<String> endpoints, GrpcConfig grpc, Duration healthInterval, MeterRegistry metrics) {
        this.name = name;
        MeterRegistry registry = metrics != null ? metrics : new SimpleMeterRegistry();
        this.exactCounts = promptCounter(registry, name, "exact");
        this.estimatedCounts = promptCounter(registry, name, "estimated");
        if (endpoints == null || endpoints.isEmpty()) throw new ConfigException("backend '" + name + "' (type grpc): at least one endpoint (host:port) is required");
        List<Endpoint> eps = new ArrayList<>();
        for (String e : endpoints) {
            try {
                Endpoint ep = Endpoint.parse(e.replaceFirst("^grpcs?://", "").replaceFirst("/$", ""));
                if (!ep.hasPort()) throw new IllegalArgumentException("no port");
                eps.add(ep);
            } catch (IllegalArgumentException x) {
                throw new ConfigException("backend '" + name + "' (type grpc): endpoint '" + e + "' is not host:port (" + x.getMessage() + ")");
            }
        }
        if (!grpc.clientTls() && !grpc.allowPlaintext()) throw plaintextRefused(name, endpoints);
        ClientFactoryBuilder fb = ClientFactory.builder().connectTimeout(CONNECT_TIMEOUT);
        if (grpc.clientTls()) {
            GrpcConfig.Tls tls = grpc.client();
            fb.tlsCustomizer(b -> {
                if (tls.ca() != null) b.trustManager(tls.ca().toFile());
                if (tls.hasKeyPair()) b.keyManager(tls.cert().toFile(), tls.key().toFile());
            });
        }
        this.factory = fb.build();
        this.protocol = grpc.clientTls() ? SessionProtocol.HTTPS : SessionProtocol.HTTP;
        this.group = healthInterval == null ? EndpointGroup.of(eps) : new GrpcHealthEndpoints(name, eps, protocol, factory, healthInterval);
        this.stub = GrpcClients.builder(protocol, group)
                .factory(factory)
                .responseTimeout(Duration.ZERO) // the call's deadline bounds it
                .maxResponseMessageLength(MAX_RESPONSE_MESSAGE_BYTES)
                .build(InferenceGrpc.InferenceStub.class);
    }

    /** The {@code healthCheck.path} that turns on gRPC health checks for a {@code type: grpc} backend. */
    public static final String HEALTH_PATH = "/grpc.health.v1.Health/Check";

    /** A backend of {@code routing.backends.<name>}: endpoints, and {@code healthCheck} ({@link #HEALTH_PATH}, interval). */
    public static GrpcBackend create(String name, dev.sluice.server.gateway.upstream.BackendConfig bc, GrpcConfig grpc) {
        return create(name, bc, grpc, null);
    }

    /** As {@link #create(String, dev.sluice.server.gateway.upstream.BackendConfig, GrpcConfig)}, with its meters in {@code metrics}. */
    public static GrpcBackend create(String name, dev.sluice.server.gateway.upstream.BackendConfig bc, GrpcConfig grpc, MeterRegistry metrics) {
        Duration health = null;
        if (bc.healthCheck().enabled()) {
            if (!HEALTH_PATH.equals(bc.healthCheck().path())) {
                throw new ConfigException("routing.backends." + name + ".healthCheck.path: a grpc backend is checked with the standard gRPC health service; "
                        + "use '" + HEALTH_PATH + "', got '" + bc.healthCheck().path() + "'");
            }
            health = bc.healthCheck().interval();
        }
        return new GrpcBackend(name, bc.endpoints(), grpc, health, metrics);
    }

    /** The config error for a gRPC backend that would be reached in plaintext. */
    public static ConfigException plaintextRefused(String name, List<String> endpoints) {
        return new ConfigException("backend '" + name + "' (type grpc, " + String.join(", ", endpoints) + "): plaintext gRPC to a remote worker is refused; "
                + "configure grpc.client.cert, grpc.client.key and grpc.client.ca (sluice certs makes development ones), "
                + "or set grpc.allowPlaintext: true on a trusted network");
    }

    @Override
    public String name() {
        return name;
    }

    private static Counter promptCounter(MeterRegistry r, String backend, String result) {
        return Counter.builder("sluice.grpc.prompt.counts")
                .description("Prompt token counts for admission of gRPC backends: exact (the worker counted) or estimated (it could not answer in time)")
                .tags("backend", backend, "result", result).register(r);
    }

    /**
     * Asks a worker to count the prompt exactly as its Generate will ({@code Tokenize} with {@code for_generate}: the
     * model's chat template and tokenizer), within {@link #PROMPT_COUNT_TIMEOUT} or the request's deadline. The worker
     * keeps the rendered prompt briefly and the request's Generate is pinned to that worker, so the template is
     * rendered once. When the worker cannot answer (down, slow, an old worker, a request it refuses), the count is
     * the estimate: the request goes on, and its Generate reports any real error.
     */
    @Override
    public CompletableFuture<Integer> countPromptTokens(GatewayRequest req) {
        boolean chat = req.chat();
        ChatRequest r = ChatRequest.parse(req.body(), chat); // a bad request is a 400 here, as it would be at dispatch
        GenerateRequest g = GrpcMessages.toProto(r, chat);
        TokenizeRequest.Builder t = TokenizeRequest.newBuilder()
                .setModel(g.getModel()).setForGenerate(true);
        if (chat) t.setChat(g.getChat());
        else t.setPrompt(g.getPrompt());
        long left = Math.min(PROMPT_COUNT_TIMEOUT.toNanos(), req.deadlineNanos() - System.nanoTime());
        CompletableFuture<Integer> out = new CompletableFuture<>();
        if (left <= 0) {
            out.complete(estimated(req, "the request's deadline has passed"));
            return out;
        }
        List<Endpoint> eps = group.endpoints();
        Endpoint ep = eps.isEmpty() ? null : eps.get(Math.floorMod(next.getAndIncrement(), eps.size()));
        InferenceGrpc.InferenceStub s = ep == null ? stub : stubFor(ep);
        s.withDeadlineAfter(left, TimeUnit.NANOSECONDS).tokenize(t.build(), new StreamObserver<>() {
            @Override
            public void onNext(TokenizeResponse res) {
                if (ep != null) pinned.put(req, ep);
                exactCounts.increment();
                out.complete(res.getCount());
            }

            @Override
            public void onError(Throwable e) {
                io.grpc.Status st = io.grpc.Status.fromThrowable(e);
                out.complete(estimated(req, st.getCode() + (st.getDescription() == null ? "" : ": " + st.getDescription())));
            }

            @Override
            public void onCompleted() {
                if (!out.isDone()) out.complete(estimated(req, "no answer"));
            }
        });
        return out;
    }

    private int estimated(GatewayRequest req, String why) {
        estimatedCounts.increment();
        long now = System.nanoTime(), last = lastFallbackWarn.get();
        if (now - last >= FALLBACK_WARN_INTERVAL.toNanos() && lastFallbackWarn.compareAndSet(last, now)) {
            log.warn("backend '{}': a worker could not count a prompt ({}); admission uses the estimate of 4 characters a token "
                    + "(sluice_grpc_prompt_counts_total{result=\"estimated\"} counts these; this warning repeats at most every {} s)",
                    name, why, FALLBACK_WARN_INTERVAL.toSeconds());
        }
        return Backend.estimatePromptTokens(req);
    }

    private InferenceGrpc.InferenceStub stubFor(Endpoint ep) {
        return endpointStubs.computeIfAbsent(ep, e -> GrpcClients.builder(protocol, e)
                .factory(factory)
                .responseTimeout(Duration.ZERO)
                .maxResponseMessageLength(MAX_RESPONSE_MESSAGE_BYTES)
                .build(InferenceGrpc.InferenceStub.class));
    }

    @Override
    public HttpResponse execute(ServiceRequestContext ctx, GatewayRequest req) {
        boolean chat = req.chat();
        ChatRequest r = ChatRequest.parse(req.body(), chat);
        GenerateRequest g = GrpcMessages.toProto(r, chat);
        long left = req.deadlineNanos() - System.nanoTime();
        if (left <= 0) throw OpenAiErrors.deadlineExceeded();
        Call call = new Call(chat, r.stream(), r.stream() && r.includeUsage(), r.options().logprobs(), r.n());
        ctx.whenRequestCancelling().thenRun(call::cancel);
        Endpoint ep = pinned.asMap().remove(req);
        InferenceGrpc.InferenceStub s = ep != null && group.endpoints().contains(ep) ? stubFor(ep) : stub;
        s.withDeadlineAfter(left, TimeUnit.NANOSECONDS).generate(g, call);
        return HttpResponse.of(call.head);
    }

    @Override
    public void close() {
        group.close();
        factory.close();
    }

    /**
     * One Generate call, rendered as the OpenAI response. Callbacks arrive in order on the client's event loop. With
     * n > 1 the worker sends the choices one after another, each response tagged with its choice's index; a response
     * with usage ends the generation.
     */
    private final class Call implements ClientResponseObserver<GenerateRequest, GenerateResponse> {
        final boolean chat, stream, includeUsage, logprobs;
        final int n;
        final CompletableFuture<HttpResponse> head = new CompletableFuture<>();
        volatile ClientCallStreamObserver<GenerateRequest> call;
        volatile boolean cancelled;
        HttpResponseWriter w;
        boolean finished;
        GenerateResponse first;
        /** Streamed: choices whose role chunk has been written. */
        int rolesWritten;
        final Choice[] choices;

        /** One choice's text so far (plain responses) and its finish reason. */
        static final class Choice {
            final StringBuilder content = new StringBuilder(), reasoning = new StringBuilder();
            final List<ObjectNode> lps = new ArrayList<>();
            String finish;
        }

        Call(boolean chat, boolean stream, boolean includeUsage, boolean logprobs, int n) {
            this.chat = chat;
            this.stream = stream;
            this.includeUsage = includeUsage;
            this.logprobs = logprobs;
            this.n = n;
            this.choices = new Choice[n];
            for (int i = 0; i < n; i++) choices[i] = new Choice();
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<GenerateRequest> call) {
            this.call = call;
            if (cancelled) call.cancel("the gateway's client went away", null);
        }

        void cancel() {
            cancelled = true;
            ClientCallStreamObserver<GenerateRequest> c = call;
            if (c != null && !finished) c.cancel("the gateway's client went away", null);
        }

        @Override
        public void onNext(GenerateResponse res) {
            if (finished) return;
            int index = res.getIndex();
            if (index >= n) {
                failed(io.grpc.Status.INTERNAL.withDescription("the worker sent choice " + index + " of a request for " + n).asRuntimeException(), true);
                return;
            }
            if (first == null) {
                first = res;
                if (stream) startStream();
            }
            Choice choice = choices[index];
            List<ObjectNode> entries = new ArrayList<>();
            if (logprobs) for (TokenLogprob t : res.getLogprobsList()) entries.add(entry(t));
            if (!res.getFinishReason().isEmpty()) choice.finish = res.getFinishReason();
            if (stream) {
                if (chat) while (rolesWritten <= index) write(chunk(rolesWritten++, JSON.createObjectNode().put("role", "assistant").put("content", ""), null, null));
                if (!res.getContent().isEmpty() || !res.getReasoningContent().isEmpty() || !entries.isEmpty()) {
                    ObjectNode delta = JSON.createObjectNode();
                    if (!res.getReasoningContent().isEmpty()) delta.put("reasoning_content", res.getReasoningContent());
                    if (!res.getContent().isEmpty() || res.getReasoningContent().isEmpty()) delta.put("content", res.getContent());
                    write(chunk(index, delta, null, entries.isEmpty() ? null : logprobsJson(entries)));
                }
                if (!res.getFinishReason().isEmpty()) write(chunk(index, JSON.createObjectNode(), res.getFinishReason(), null));
            } else {
                choice.content.append(res.getContent());
                choice.reasoning.append(res.getReasoningContent());
                choice.lps.addAll(entries);
            }
            if (!res.hasUsage()) return;
            for (int i = 0; i < n; i++) {
                if (choices[i].finish == null) {
                    failed(io.grpc.Status.INTERNAL.withDescription("the worker ended the generation after " + i + " of " + n
                            + " choices (a worker that predates n > 1 over gRPC?)").asRuntimeException(), true);
                    return;
                }
            }
            finished = true;
            if (stream) {
                if (includeUsage) {
                    ObjectNode u = base(chat ? "chat.completion.chunk" : "text_completion");
                    u.putArray("choices");
                    u.set("usage", usage(res));
                    write(u);
                }
                w.tryWrite(HttpData.ofUtf8("data: [DONE]\n\n"));
                w.close();
            } else {
                head.complete(HttpResponse.ofJson(plain(res)));
            }
        }

        @Override
        public void onError(Throwable t) {
            failed(t, false);
        }

        /** Ends the client's response with {@code t}'s error; also cancels the call when the gateway itself gave up on it. */
        private void failed(Throwable t, boolean cancelCall) {
            if (finished) return;
            finished = true;
            ClientCallStreamObserver<GenerateRequest> c = call;
            if (cancelCall && c != null) c.cancel("the gateway gave up on this call", null);
            OpenAiException e = GrpcErrors.fromStatus(t, name);
            if (w == null) head.complete(OpenAiService.error(e));
            else {
                w.tryWrite(HttpData.ofUtf8("data: " + OpenAiService.errorJson(e) + "\n\n"));
                w.close();
            }
        }

        @Override
        public void onCompleted() {
            if (finished) return;
            failed(io.grpc.Status.INTERNAL.withDescription("the worker ended the stream without its final response").asRuntimeException(), false);
        }

        private void startStream() {
            w = HttpResponse.streaming();
            w.write(ResponseHeaders.builder(HttpStatus.OK).contentType(MediaType.EVENT_STREAM).add(HttpHeaderNames.CACHE_CONTROL, "no-cache").build());
            w.whenComplete().handle((v, t) -> {
                if (!finished) cancel();
                return null;
            });
            head.complete(w);
        }

        private void write(ObjectNode chunk) {
            w.tryWrite(HttpData.ofUtf8("data: " + chunk + "\n\n"));
        }

        ObjectNode base(String object) {
            return JSON.createObjectNode().put("id", first.getId()).put("object", object).put("created", first.getCreated())
                    .put("model", first.getModel()).put("system_fingerprint", "sluice");
        }

        ObjectNode chunk(int index, ObjectNode delta, String finish, JsonNode logprobs) {
            return OpenAiService.chunk(base(chat ? "chat.completion.chunk" : "text_completion"), chat, index, delta, finish, logprobs);
        }

        JsonNode logprobsJson(List<ObjectNode> entries) {
            if (!chat) return OpenAiService.legacyLogprobs(entries);
            ObjectNode x = JSON.createObjectNode();
            ArrayNode arr = x.putArray("content");
            entries.forEach(arr::add);
            return x;
        }

        ObjectNode plain(GenerateResponse last) {
            ObjectNode out = base(chat ? "chat.completion" : "text_completion");
            ArrayNode arr = out.putArray("choices");
            for (int i = 0; i < n; i++) {
                Choice ch = choices[i];
                ObjectNode c = arr.addObject().put("index", i);
                if (chat) {
                    ObjectNode msg = c.putObject("message").put("role", "assistant").put("content", ch.content.toString());
                    if (!ch.reasoning.isEmpty()) msg.put("reasoning_content", ch.reasoning.toString());
                } else {
                    c.put("text", ch.content.toString());
                }
                if (logprobs) c.set("logprobs", logprobsJson(ch.lps));
                else c.putNull("logprobs");
                c.put("finish_reason", ch.finish);
            }
            out.set("usage", usage(last));
            return out;
        }
    }

    private static ObjectNode usage(GenerateResponse r) {
        return JSON.createObjectNode().put("prompt_tokens", r.getUsage().getPromptTokens())
                .put("completion_tokens", r.getUsage().getCompletionTokens()).put("total_tokens", r.getUsage().getTotalTokens());
    }

    private static ObjectNode entry(TokenLogprob t) {
        List<GenerationListener.TopLogprob> top = new ArrayList<>();
        t.getTopLogprobsList().forEach(x -> top.add(new GenerationListener.TopLogprob(x.getToken(), x.getLogprob())));
        return OpenAiService.logprobEntry(t.getToken(), t.getLogprob(), top);
    }

}
