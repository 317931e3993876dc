package dev.sluice.server.gateway.route;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.server.ServerBuilder;
import dev.sluice.server.gateway.auth.AdminRoutes;
import dev.sluice.server.openai.OpenAiException;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The routing admin API, under {@value #PREFIX}, operator-only (the auth decorator guards {@code /admin/*}, and every
 * handler checks again); built on {@link AdminRoutes#json}, so every error is an OpenAI error body:
 * <ul>
 *   <li>{@code GET  /admin/v1/routing}: every model with its versions, weights and canary state, and the backends</li>
 *   <li>{@code GET  /admin/v1/routing/models/{model}}: one model</li>
 *   <li>{@code PUT|POST /admin/v1/routing/models/{model}/weights} with {@code {"weights":{"stable":0,"canary":100}}}:
 *       sets weights (unnamed versions keep theirs; blue-green is one flip) and pauses the model's canary controller</li>
 *   <li>{@code POST /admin/v1/routing/models/{model}/canary/pause} and {@code .../canary/resume}</li>
 *   <li>{@code POST /admin/v1/routing/reload}: re-reads the config file; a bad config is refused with 400
 *       ({@code invalid_config}) and the current table stays</li>
 * </ul>
 */
public final class RoutingAdmin {
    public static final String PREFIX = AdminRoutes.PREFIX + "/routing";

    private final RegistryRouter router;

    public RoutingAdmin(RegistryRouter router) {
        this.router = router;
    }

    public void register(ServerBuilder sb) {
        sb.service(PREFIX, AdminRoutes.json(r -> {
            only(r, HttpMethod.GET);
            return router.describe();
        }));
        sb.service(PREFIX + "/models/{model}", AdminRoutes.json(r -> {
            only(r, HttpMethod.GET);
            return router.describe(r.path("model"));
        }));
        sb.service(PREFIX + "/models/{model}/weights", AdminRoutes.json(r -> {
            only(r, HttpMethod.PUT, HttpMethod.POST);
            return setWeights(r);
        }));
        sb.service(PREFIX + "/models/{model}/canary/pause", AdminRoutes.json(r -> {
            only(r, HttpMethod.POST);
            router.pauseCanary(r.path("model"), true);
            return router.describe(r.path("model"));
        }));
        sb.service(PREFIX + "/models/{model}/canary/resume", AdminRoutes.json(r -> {
            only(r, HttpMethod.POST);
            router.pauseCanary(r.path("model"), false);
            return router.describe(r.path("model"));
        }));
        sb.service(PREFIX + "/reload", AdminRoutes.json(r -> {
            only(r, HttpMethod.POST);
            try {
                router.reload();
            } catch (IllegalArgumentException e) {
                throw new OpenAiException(HttpStatus.BAD_REQUEST, "invalid_request_error", null, "invalid_config",
                        "Routing config rejected, the current one stays: " + e.getMessage());
            }
            ObjectNode out = router.describe();
            out.put("reloaded", true);
            return out;
        }));
    }

    private static void only(AdminRoutes.Request r, HttpMethod... allowed) {
        AdminRoutes.requireOperator(r.principal());
        for (HttpMethod m : allowed) if (m == r.method()) return;
        throw AdminRoutes.methodNotAllowed(r.method());
    }

    private JsonNode setWeights(AdminRoutes.Request r) {
        r.onlyFields("weights");
        JsonNode w = r.body().get("weights");
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
        String model = r.path("model");
        router.setWeights(model, weights);
        return router.describe(model);
    }
}
