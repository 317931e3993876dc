package dev.sluice.server.gateway.route;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.server.ServerBuilder;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * The routing admin API, under {@value #PREFIX} (access control is the auth decorator's, on {@code /admin/*}):
 * <ul>
 *   <li>{@code GET  /admin/v1/routing}: every model with its versions, weights and canary state, and the backends</li>
 *   <li>{@code GET  /admin/v1/routing/models/{model}}: one model</li>
 *   <li>{@code PUT|POST /admin/v1/routing/models/{model}/weights} with {@code {"weights":{"stable":0,"canary":100}}}:
 *       sets weights (unnamed versions keep theirs; blue-green is a flip) and pauses the model's canary controller</li>
 *   <li>{@code POST /admin/v1/routing/models/{model}/canary/pause} and {@code .../canary/resume}</li>
 *   <li>{@code POST /admin/v1/routing/reload}: re-reads the config file; a bad config is refused with 400 and the current
 *       table stays</li>
 * </ul>
 * Every error is an OpenAI error body.
 */
public final class RoutingAdmin {
    private static final Logger log = LoggerFactory.getLogger(RoutingAdmin.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final String PREFIX = "/admin/v1/routing";

    private final RegistryRouter router;

    public RoutingAdmin(RegistryRouter router) {
        this.router = router;
    }

    public void register(ServerBuilder sb) {
        sb.route().get(PREFIX).build((ctx, req) -> HttpResponse.ofJson(router.describe()));
        sb.route().get(PREFIX + "/models/{model}").build((ctx, req) -> guard(() -> HttpResponse.ofJson(router.describe(ctx.pathParam("model")))));
        sb.route().methods(HttpMethod.PUT, HttpMethod.POST).path(PREFIX + "/models/{model}/weights")
                .build((ctx, req) -> withBody(req, body -> setWeights(ctx.pathParam("model"), body)));
        sb.route().post(PREFIX + "/models/{model}/canary/pause").build((ctx, req) -> guard(() -> canary(ctx.pathParam("model"), true)));
        sb.route().post(PREFIX + "/models/{model}/canary/resume").build((ctx, req) -> guard(() -> canary(ctx.pathParam("model"), false)));
        sb.route().post(PREFIX + "/reload").build(this::reload);
    }

    private HttpResponse setWeights(String model, JsonNode body) {
        JsonNode w = body.get("weights");
        if (w == null || !w.isObject()) throw OpenAiException.invalid("weights", "The body must be {\"weights\": {\"<version>\": <integer>, ...}}");
        Map<String, Integer> weights = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = w.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw OpenAiException.invalid("weights", "weights." + e.getKey() + " must be an integer, got " + v);
            }
            weights.put(e.getKey(), v.asInt());
        }
        router.setWeights(model, weights);
        return HttpResponse.ofJson(router.describe(model));
    }

    private HttpResponse canary(String model, boolean pause) {
        router.pauseCanary(model, pause);
        return HttpResponse.ofJson(router.describe(model));
    }

    private HttpResponse reload(ServiceRequestContext ctx, HttpRequest req) {
        // reading the file blocks: off the event loop
        CompletableFuture<HttpResponse> f = CompletableFuture.supplyAsync(() -> guard(() -> {
            try {
                router.reload();
            } catch (IllegalArgumentException e) {
                throw new OpenAiException(HttpStatus.BAD_REQUEST, "invalid_request_error", null, "invalid_config",
                        "Routing config rejected, the current one stays: " + e.getMessage());
            }
            ObjectNode out = router.describe();
            out.put("reloaded", true);
            return HttpResponse.ofJson(out);
        }), ctx.blockingTaskExecutor());
        return HttpResponse.of(f);
    }

    private static HttpResponse withBody(HttpRequest req, Function<JsonNode, HttpResponse> handler) {
        return HttpResponse.of(req.aggregate().thenApply(agg -> guard(() -> {
            JsonNode body = OpenAiService.parseJson(agg.contentUtf8());
            if (!body.isObject()) throw OpenAiException.invalid(null, "The request body must be a JSON object");
            return handler.apply(body);
        })));
    }

    private static HttpResponse guard(java.util.function.Supplier<HttpResponse> action) {
        try {
            return action.get();
        } catch (OpenAiException e) {
            return OpenAiService.error(e);
        } catch (RuntimeException e) {
            log.error("routing admin request failed", e);
            return OpenAiService.error(new OpenAiException(HttpStatus.INTERNAL_SERVER_ERROR, "server_error", null, null,
                    "Internal error: " + e.getClass().getSimpleName()));
        }
    }
}
