package dev.sluice.server.grpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.util.TimeoutMode;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.grpc.proto.GenerateRequest;
import dev.sluice.server.grpc.proto.GenerateResponse;
import dev.sluice.server.grpc.proto.InferenceGrpc;
import dev.sluice.server.grpc.proto.ListModelsRequest;
import dev.sluice.server.grpc.proto.ListModelsResponse;
import dev.sluice.server.grpc.proto.Model;
import dev.sluice.server.grpc.proto.StreamRequest;
import dev.sluice.server.grpc.proto.StreamResponse;
import dev.sluice.server.grpc.proto.TokenLogprob;
import dev.sluice.server.grpc.proto.TokenizeRequest;
import dev.sluice.server.grpc.proto.TokenizeResponse;
import dev.sluice.server.grpc.proto.TopLogprob;
import dev.sluice.server.grpc.proto.Usage;
import dev.sluice.server.inference.GenerationListener;
import dev.sluice.server.inference.InferenceModel;
import dev.sluice.server.openai.ChatRequest;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The worker's {@code sluice.v1.Inference} service, on top of the same {@link OpenAiService} runs
 * as the HTTP API: a request is turned into the OpenAI body and validated by {@link ChatRequest},
 * rendered, admitted and generated exactly as {@code /v1/chat/completions} would, and its chunks
 * are translated into {@link GenerateResponse}s (the token ids come from the sink's token hook).
 *
 * <p>Design note, deadlines and cancellation: a call's deadline is its {@code grpc-timeout}
 * (Armeria sets the request timeout from it), capped by the server's request timeout; the run's
 * own timer ends the generation at the deadline with {@code DEADLINE_EXCEEDED}, and Armeria's
 * timeout is pushed 5 s later as a backstop. A cancelled call (client gone, its deadline passed,
 * RST_STREAM) cancels its runs through the call's cancel handler; the engine drops the sequence at
 * its next step. Responses for one call are written under the call's lock: engine threads of
 * several runs (on {@code Stream}) write to one observer.
 */
public final class InferenceService extends InferenceGrpc.InferenceImplBase {
    private static final Logger log = LoggerFactory.getLogger(InferenceService.class);
    /** Armeria's timeout fires this long after the run's own deadline, only if the run failed to end the call itself. */
    static final Duration BACKSTOP = Duration.ofSeconds(5);

    /** Longest a prompt rendered for a gateway's count waits for its Generate: 30 s (the gateway sends it right after admission). */
    static final Duration RENDERED_TTL = Duration.ofSeconds(30);
    /** Memory bound of the rendered prompts kept for Generate: 64 MiB (token ids, text and the request's input); the oldest go first. */
    static final long RENDERED_MAX_BYTES = 64L << 20;

    private final OpenAiService openai;
    private final ServerConfig config;
    private final ServerMetrics metrics;
    /**
     * Chat prompts rendered by {@code Tokenize} with {@code for_generate}, by model and chat input, each taken (removed) by
     * the first {@code Generate} of the same model and input: the gateway counts a prompt, then generates it, and
     * the template is rendered once. Bounded by {@link #RENDERED_MAX_BYTES} and {@link #RENDERED_TTL}; a miss only
     * costs a second rendering.
     */
    private final com.github.benmanes.caffeine.cache.Cache<RenderedKey, InferenceModel.ChatPrompt> rendered =
            com.github.benmanes.caffeine.cache.Caffeine.newBuilder()
                    .maximumWeight(RENDERED_MAX_BYTES)
                    .weigher((RenderedKey k, InferenceModel.ChatPrompt p) -> (int) Math.min(Integer.MAX_VALUE,
                            64L + k.chat().getSerializedSize() + 4L * p.ids().length + 2L * p.text().length()))
                    .expireAfterWrite(RENDERED_TTL)
                    .build();

    private record RenderedKey(String model, dev.sluice.server.grpc.proto.ChatInput chat) {}

    /** Prompts rendered for a count and reused by a Generate so far (for tests). */
    final java.util.concurrent.atomic.AtomicLong renderedReused = new java.util.concurrent.atomic.AtomicLong();

    public InferenceService(OpenAiService openai, ServerConfig config, ServerMetrics metrics) {
        this.openai = openai;
        this.config = config;
        this.metrics = metrics;
    }

    // ---- Generate ----

    @Override
    public void generate(GenerateRequest req, StreamObserver<GenerateResponse> observer) {
        ServerCallStreamObserver<GenerateResponse> call = (ServerCallStreamObserver<GenerateResponse>) observer;
        ServiceRequestContext ctx = ServiceRequestContext.current();
        try {
            long deadline = callDeadline(ctx);
            Out out = new Out() {
                @Override void next(GenerateResponse r) { safely(call, () -> call.onNext(r)); }
                @Override void completed() { safely(call, call::onCompleted); }
                @Override void cancelled() { safely(call, () -> call.onError(Status.CANCELLED.withDescription("cancelled").asRuntimeException())); }
                @Override void error(OpenAiException e) { safely(call, () -> call.onError(GrpcErrors.toStatus(e))); }
            };
            OpenAiService.Run run = prepare(req, out, deadline);
            call.setOnCancelHandler(() -> run.cancel(OpenAiService.Run.CLIENT));
            ctx.setRequestTimeout(TimeoutMode.SET_FROM_NOW, Duration.ofNanos(Math.max(0, deadline - System.nanoTime())).plus(BACKSTOP));
            metrics.request("grpc", 200);
            run.begin(ctx.eventLoop());
        } catch (RuntimeException e) {
            OpenAiException oe = asOpenAi(e);
            metrics.request("grpc", oe.status().code());
            safely(call, () -> call.onError(GrpcErrors.toStatus(oe)));
        }
    }

    /** The call's deadline ({@link System#nanoTime}): its {@code grpc-timeout}, capped by the request timeout. */
    private long callDeadline(ServiceRequestContext ctx) {
        long ms = ctx.requestTimeoutMillis();
        long cap = config.requestTimeout().toMillis();
        return System.nanoTime() + Duration.ofMillis(ms > 0 ? Math.min(ms, cap) : cap).toNanos();
    }

    private OpenAiService.Run prepare(GenerateRequest req, Out out, long deadline) {
        boolean chat = GrpcMessages.isChat(req);
        ObjectNode body = GrpcMessages.toOpenAi(req);
        InferenceModel model = openai.model(body);
        ChatRequest r = ChatRequest.parse(body, chat);
        InferenceModel.ChatPrompt pre = chat ? rendered.asMap().remove(new RenderedKey(model.id(), req.getChat())) : null;
        if (pre != null) renderedReused.incrementAndGet();
        return openai.prepare(model, r, chat, pre, new ResponseSink(chat, req.getSampling().getLogprobs(), r.n(), out), deadline);
    }

    // ---- Stream ----

    @Override
    public StreamObserver<StreamRequest> stream(StreamObserver<StreamResponse> observer) {
        ServerCallStreamObserver<StreamResponse> call = (ServerCallStreamObserver<StreamResponse>) observer;
        ServiceRequestContext ctx = ServiceRequestContext.current();
        // the call lives as long as the client keeps it; each request has its own deadline
        if (!ctx.request().headers().contains("grpc-timeout")) ctx.clearRequestTimeout();
        Multiplexer m = new Multiplexer(call, ctx);
        call.setOnCancelHandler(m::cancelAll);
        return m;
    }

    /** One {@code Stream} call: its runs by request id, and the half-close bookkeeping. */
    private final class Multiplexer implements StreamObserver<StreamRequest> {
        final ServerCallStreamObserver<StreamResponse> call;
        final ServiceRequestContext ctx;
        final Map<String, OpenAiService.Run> runs = new ConcurrentHashMap<>();
        boolean halfClosed, closed; // guarded by call

        Multiplexer(ServerCallStreamObserver<StreamResponse> call, ServiceRequestContext ctx) {
            this.call = call;
            this.ctx = ctx;
        }

        void send(StreamResponse r) {
            synchronized (call) {
                if (!closed) safely(call, () -> call.onNext(r));
            }
        }

        void ended(String id) {
            runs.remove(id);
            maybeComplete();
        }

        void maybeComplete() {
            synchronized (call) {
                if (halfClosed && runs.isEmpty() && !closed) {
                    closed = true;
                    safely(call, call::onCompleted);
                }
            }
        }

        void cancelAll() {
            for (OpenAiService.Run r : List.copyOf(runs.values())) r.cancel(OpenAiService.Run.CLIENT);
        }

        @Override
        public void onNext(StreamRequest req) {
            String id = req.getRequestId();
            try {
                if (id.isEmpty()) throw OpenAiException.invalid("request_id", "'request_id' is required");
                switch (req.getActionCase()) {
                    case CANCEL -> {
                        OpenAiService.Run r = runs.get(id);
                        if (r != null) r.cancel(OpenAiService.Run.CLIENT);
                    }
                    case GENERATE -> start(id, req);
                    case ACTION_NOT_SET -> throw OpenAiException.invalid("action", "one of 'generate' or 'cancel' is required");
                }
            } catch (RuntimeException e) {
                OpenAiException oe = asOpenAi(e);
                metrics.request("grpc", oe.status().code());
                send(StreamResponse.newBuilder().setRequestId(id).setError(GrpcErrors.toProto(oe)).build());
            }
        }

        void start(String id, StreamRequest req) {
            if (runs.containsKey(id)) throw OpenAiException.invalid("request_id", "A request with id '" + id + "' is already in flight on this call");
            if (runs.size() >= config.maxWsRequests()) {
                throw new OpenAiException(HttpStatus.TOO_MANY_REQUESTS, "rate_limit_error", null, "too_many_requests",
                        "This call already has " + runs.size() + " generations in flight (limit " + config.maxWsRequests() + ")");
            }
            long deadline = OpenAiService.deadlineNanos(req.getDeadlineMs() == 0 ? null : Long.toUnsignedString(req.getDeadlineMs()), config.requestTimeout());
            Out out = new Out() {
                @Override void next(GenerateResponse r) { send(StreamResponse.newBuilder().setRequestId(id).setResponse(r).build()); }
                @Override void completed() { ended(id); }
                @Override void cancelled() {
                    send(StreamResponse.newBuilder().setRequestId(id).setCancelled(true).build());
                    ended(id);
                }
                @Override void error(OpenAiException e) {
                    send(StreamResponse.newBuilder().setRequestId(id).setError(GrpcErrors.toProto(e)).build());
                    ended(id);
                }
            };
            OpenAiService.Run run = prepare(req.getGenerate(), out, deadline);
            runs.put(id, run);
            metrics.request("grpc", 200);
            if (call.isCancelled()) run.cancel(OpenAiService.Run.CLIENT);
            run.begin(ctx.eventLoop());
        }

        @Override
        public void onError(Throwable t) {
            cancelAll();
        }

        @Override
        public void onCompleted() {
            synchronized (call) {
                halfClosed = true;
            }
            maybeComplete();
        }
    }

    // ---- Tokenize, ListModels ----

    @Override
    public void tokenize(TokenizeRequest req, StreamObserver<TokenizeResponse> observer) {
        try {
            ObjectNode body = GrpcMessages.JSON.createObjectNode().put("model", req.getModel());
            InferenceModel model = openai.model(body);
            int[] ids = switch (req.getInputCase()) {
                case CHAT -> {
                    GrpcMessages.chatInput(body, req.getChat());
                    ChatRequest r = ChatRequest.parse(body, true);
                    InferenceModel.ChatPrompt p = model.encodeChat(r.messages(), r.tools(), r.templateVars());
                    if (req.getForGenerate()) rendered.put(new RenderedKey(model.id(), req.getChat()), p);
                    yield p.ids();
                }
                // for_generate: as Generate tokenizes a prompt (OpenAiService.prepare)
                case PROMPT -> req.getForGenerate() ? model.tokenize(req.getPrompt(), true, false)
                        : model.tokenize(req.getPrompt(), !req.hasAddSpecialTokens() || req.getAddSpecialTokens(), true);
                case INPUT_NOT_SET -> throw OpenAiException.invalid("input", "one of 'chat' or 'prompt' is required");
            };
            TokenizeResponse.Builder b = TokenizeResponse.newBuilder().setCount(ids.length).setMaxModelLen(model.contextLength());
            if (!req.getForGenerate()) for (int id : ids) b.addTokens(id);
            observer.onNext(b.build());
            observer.onCompleted();
        } catch (RuntimeException e) {
            observer.onError(GrpcErrors.toStatus(asOpenAi(e)));
        }
    }

    @Override
    public void listModels(ListModelsRequest req, StreamObserver<ListModelsResponse> observer) {
        ListModelsResponse.Builder b = ListModelsResponse.newBuilder();
        for (InferenceModel m : openai.models()) {
            b.addModels(Model.newBuilder().setId(m.id()).setCreated(m.created()).setOwnedBy("sluice").setMaxModelLen(m.contextLength()));
        }
        observer.onNext(b.build());
        observer.onCompleted();
    }

    // ---- shared ----

    /** Where one run's responses go: a {@code Generate} call, or one request id of a {@code Stream} call. */
    private abstract static class Out {
        abstract void next(GenerateResponse r);

        abstract void completed();

        abstract void cancelled();

        abstract void error(OpenAiException e);
    }

    /**
     * Translates a run's OpenAI chunks into {@link GenerateResponse}s: text deltas with the token ids
     * (and logprobs) sampled since the previous response, tagged with their choice's index; the
     * finish chunk of every choice but the last becomes that choice's finish response, and the last
     * choice's finish chunk and the usage chunk become the one final response.
     */
    private static final class ResponseSink implements OpenAiService.Sink {
        final boolean chat, logprobs;
        final int n;
        final Out out;
        final List<Integer> ids = new ArrayList<>();
        final List<TokenLogprob> lps = new ArrayList<>();
        String finish = "";
        int finishIndex;
        boolean finalSent;

        ResponseSink(boolean chat, boolean logprobs, int n, Out out) {
            this.chat = chat;
            this.logprobs = logprobs;
            this.n = n;
            this.out = out;
        }

        @Override
        public void token(int tokenId, String token, float logprob, List<GenerationListener.TopLogprob> top) {
            ids.add(tokenId);
            if (!logprobs) return;
            TokenLogprob.Builder b = TokenLogprob.newBuilder().setToken(token).setLogprob(logprob);
            for (GenerationListener.TopLogprob t : top) b.addTopLogprobs(TopLogprob.newBuilder().setToken(t.token()).setLogprob(t.logprob()));
            lps.add(b.build());
        }

        GenerateResponse.Builder response(JsonNode chunk, int index) {
            GenerateResponse.Builder b = GenerateResponse.newBuilder().setId(chunk.path("id").asText()).setModel(chunk.path("model").asText())
                    .setCreated(chunk.path("created").asLong()).setIndex(index).addAllTokenIds(ids).addAllLogprobs(lps);
            ids.clear();
            lps.clear();
            return b;
        }

        @Override
        public void chunk(ObjectNode chunk) {
            JsonNode choices = chunk.path("choices");
            if (choices.isEmpty()) { // the usage chunk: the final response
                JsonNode u = chunk.path("usage");
                finalSent = true;
                out.next(response(chunk, finishIndex).setFinishReason(finish).setUsage(Usage.newBuilder().setPromptTokens(u.path("prompt_tokens").asInt())
                        .setCompletionTokens(u.path("completion_tokens").asInt()).setTotalTokens(u.path("total_tokens").asInt())).build());
                return;
            }
            JsonNode c = choices.get(0);
            int index = c.path("index").asInt();
            JsonNode fr = c.get("finish_reason");
            if (fr != null && fr.isTextual()) {
                if (index < n - 1) out.next(response(chunk, index).setFinishReason(fr.asText()).build()); // a choice before the last
                else {
                    finish = fr.asText();
                    finishIndex = index;
                }
                return;
            }
            String content = chat ? c.path("delta").path("content").asText("") : c.path("text").asText("");
            String reasoning = chat ? c.path("delta").path("reasoning_content").asText("") : "";
            if (content.isEmpty() && reasoning.isEmpty() && ids.isEmpty()) return; // the role chunk
            out.next(response(chunk, index).setContent(content).setReasoningContent(reasoning).build());
        }

        @Override
        public void done() {
            if (!finalSent) log.warn("gRPC run ended without its usage chunk");
            out.completed();
        }

        @Override
        public void cancelled() {
            out.cancelled();
        }

        @Override
        public void error(OpenAiException e) {
            out.error(e);
        }
    }

    private static OpenAiException asOpenAi(RuntimeException e) {
        if (e instanceof OpenAiException oe) return oe;
        if (e instanceof dev.sluice.engine.ModelFormatException || e instanceof IllegalArgumentException) return OpenAiException.invalid(null, e.getMessage());
        log.error("gRPC request failed", e);
        return OpenAiException.internal(e);
    }

    /** Runs a write to a call that may have been cancelled meanwhile (then the write is dropped). */
    private static void safely(ServerCallStreamObserver<?> call, Runnable write) {
        synchronized (call) {
            if (call.isCancelled()) return;
            try {
                write.run();
            } catch (RuntimeException e) {
                log.debug("gRPC write dropped: {}", e.toString());
            }
        }
    }
}
