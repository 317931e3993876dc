package dev.sluice.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.RequestHeaders;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.server.ServerBuilder;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.openai.OpenAiErrors;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The gateway's OpenAI routes: {@code /v1/chat/completions}, {@code /v1/completions},
 * {@code /v1/models} and {@code /v1/models/{id}}, in front of a {@link Router}.
 *
 * <p>Design note, the request flow ({@code DESIGN.md}): authentication runs first, as a
 * decorator that puts the caller's {@link Principal} on the context (absent: auth is off and the
 * caller is {@link Principal#anonymous()}). Here the body is aggregated (bounded by the server's
 * max request length), parsed once into a {@link GatewayRequest}, checked against the caller's
 * allowed models, resolved to a model version, its prompt tokens counted, and then passed
 * through the {@link GatewayStage}s in order (admission, cache) to {@link Router#dispatch}. Every
 * failure becomes an OpenAI error body in one place, {@link OpenAiService#error}.
 */
public final class Gateway {
    private static final Logger log = LoggerFactory.getLogger(Gateway.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Router router;
    private final List<GatewayStage> stages;
    private final ServerConfig config;

    public Gateway(Router router, List<GatewayStage> stages, ServerConfig config) {
        this.router = router;
        this.stages = List.copyOf(stages);
        this.config = config;
    }

    public Router router() {
        return router;
    }

    public void register(ServerBuilder sb) {
        // POST only: GET/DELETE on this path are the stored-completions routes (gateway.cache.StoredCompletionsRoutes)
        sb.route().post("/v1/chat/completions").build((ctx, req) -> serve(ctx, req, GatewayRequest.Kind.CHAT));
        sb.service("/v1/completions", (ctx, req) -> serve(ctx, req, GatewayRequest.Kind.COMPLETION));
        sb.service("/v1/models", (ctx, req) -> HttpResponse.ofJson(listModels(principal(ctx))));
        sb.service("/v1/models/{id}", (ctx, req) -> {
            String id = ctx.pathParam("id");
            Principal p = principal(ctx);
            for (Router.ModelCard m : router.models()) {
                if (m.id().equals(id) && p.allows(id)) return HttpResponse.ofJson(card(m));
            }
            return OpenAiService.error(OpenAiException.modelNotFound(id));
        });
    }

    /**
     * {@code service} (a worker route whose JSON body names a {@code model}, such as {@code /tokenize})
     * for callers whose credential allows that model; any other model is 404 {@code model_not_found},
     * as on the generation routes, so a key cannot probe models it may not use.
     */
    public static com.linecorp.armeria.server.HttpService allowedModelsOnly(com.linecorp.armeria.server.HttpService service) {
        return (ctx, req) -> HttpResponse.of(req.aggregate().thenApply(agg -> {
            try {
                JsonNode model = OpenAiService.parseJson(agg.contentUtf8()).get("model");
                if (model != null && model.isTextual() && !principal(ctx).allows(model.asText())) {
                    return OpenAiService.error(OpenAiException.modelNotFound(model.asText()));
                }
            } catch (OpenAiException e) {
                // a bad body: the route itself answers it with the right error
            }
            try {
                return service.serve(ctx, HttpRequest.of(agg.headers(), agg.content()));
            } catch (Exception e) {
                return OpenAiService.error(OpenAiErrors.fromThrowable(e));
            }
        }));
    }

    /**
     * Serves one WebSocket request message ({@code /v1/ws}) as an HTTP request of the same path: the same parsing,
     * allowed models, routing, prompt count and stages (admission, usage records, the cache), under the caller the auth
     * decorator put on the socket at the upgrade. The message gets a request context of its own on the socket's event
     * loop; its answer is relayed to {@code sink} ({@link SocketRelay}). Returns what cancels it.
     */
    public Runnable serveSocketMessage(ServiceRequestContext socket, RequestHeaders headers, ObjectNode body, boolean chat,
                                       OpenAiService.Sink sink) {
        HttpRequest req = HttpRequest.of(headers, HttpData.ofUtf8(body.toString()));
        ServiceRequestContext ctx = ServiceRequestContext.builder(req)
                .eventLoop(socket.eventLoop().withoutContext())
                .remoteAddress(socket.remoteAddress())
                .localAddress(socket.localAddress())
                .build();
        ctx.setRequestTimeout(com.linecorp.armeria.common.util.TimeoutMode.SET_FROM_NOW, config.requestTimeout().plus(SOCKET_MESSAGE_BACKSTOP));
        ctx.setAttr(Principal.ATTR, principal(socket));
        // served as a task of the message's own context (the socket's is current here), on the socket's event loop
        SocketRelay relay = new SocketRelay(ctx, sink);
        ctx.eventLoop().execute(() -> relay.start(serve(ctx, req, chat ? GatewayRequest.Kind.CHAT : GatewayRequest.Kind.COMPLETION)));
        return () -> ctx.eventLoop().execute(relay::cancel);
    }

    /** A socket message's own context times out this long after the request timeout, only if its deadline failed to end it. */
    static final java.time.Duration SOCKET_MESSAGE_BACKSTOP = java.time.Duration.ofSeconds(5);

    /** The caller, as the auth decorator left it; anonymous when auth is off. */
    public static Principal principal(ServiceRequestContext ctx) {
        Principal p = ctx.attr(Principal.ATTR);
        return p != null ? p : Principal.anonymous();
    }

    private ObjectNode listModels(Principal p) {
        ObjectNode out = JSON.createObjectNode().put("object", "list");
        ArrayNode data = out.putArray("data");
        for (Router.ModelCard m : router.models()) if (p.allows(m.id())) data.add(card(m));
        return out;
    }

    private static ObjectNode card(Router.ModelCard m) {
        ObjectNode o = JSON.createObjectNode().put("id", m.id()).put("object", "model").put("created", m.created()).put("owned_by", m.ownedBy());
        if (m.contextLength() > 0) o.put("max_model_len", m.contextLength());
        return o;
    }

    private HttpResponse serve(ServiceRequestContext ctx, HttpRequest req, GatewayRequest.Kind kind) {
        CompletableFuture<HttpResponse> f = req.aggregate().handle((agg, failure) -> {
            try {
                if (failure != null) throw OpenAiErrors.fromThrowable(failure);
                long deadline = OpenAiService.deadlineNanos(req.headers().get(OpenAiService.DEADLINE_HEADER), config.requestTimeout());
                JsonNode body = OpenAiService.parseJson(agg.contentUtf8());
                if (!body.isObject()) throw OpenAiException.invalid(null, "The request body must be a JSON object");
                JsonNode model = body.get("model");
                if (model == null || !model.isTextual()) throw OpenAiException.invalid("model", "'model' is required");
                Principal p = principal(ctx);
                JsonNode user = body.get("user");
                if (p.user() == null && user != null && user.isTextual()) p = p.withUser(user.asText());
                if (!p.allows(model.asText())) throw OpenAiException.modelNotFound(model.asText());
                GatewayRequest g = new GatewayRequest(kind, req.headers(), (ObjectNode) body, p, deadline);
                router.resolve(ctx, g);
                CompletableFuture<Integer> counted = router.countPromptTokens(g);
                if (counted.isDone()) return admitted(ctx, g, counted.join());
                return HttpResponse.of(counted.handleAsync((n, t) -> {
                    if (t != null) return OpenAiService.error(OpenAiErrors.fromThrowable(t));
                    return admitted(ctx, g, n);
                }, ctx.eventLoop()));
            } catch (java.util.concurrent.CompletionException e) {
                return OpenAiService.error(OpenAiErrors.fromThrowable(e.getCause()));
            } catch (OpenAiException e) {
                return OpenAiService.error(e);
            } catch (RuntimeException e) {
                log.error("gateway request failed", e);
                return OpenAiService.error(OpenAiException.internal(e));
            }
        });
        return HttpResponse.of(f);
    }

    /** The request once its prompt tokens are counted: through the stages to dispatch. */
    private HttpResponse admitted(ServiceRequestContext ctx, GatewayRequest g, int promptTokens) {
        try {
            g.promptTokens(promptTokens);
            StreamUsage.force(g);
            return StreamUsage.strip(g, run(ctx, g, 0));
        } catch (OpenAiException e) {
            return OpenAiService.error(e);
        } catch (RuntimeException e) {
            log.error("gateway request failed", e);
            return OpenAiService.error(OpenAiException.internal(e));
        }
    }

    /** Runs stage {@code i}, or dispatches after the last one. */
    private HttpResponse run(ServiceRequestContext ctx, GatewayRequest g, int i) {
        try {
            if (i == stages.size()) return router.dispatch(ctx, g);
            return stages.get(i).handle(ctx, g, (c, r) -> run(c, r, i + 1));
        } catch (OpenAiException e) {
            return OpenAiService.error(e);
        } catch (Exception e) {
            log.error("gateway stage failed", e);
            return OpenAiService.error(OpenAiException.internal(e));
        }
    }
}
