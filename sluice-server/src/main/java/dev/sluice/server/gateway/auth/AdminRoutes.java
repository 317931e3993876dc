package dev.sluice.server.gateway.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.QueryParams;
import com.linecorp.armeria.server.HttpService;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.gateway.Gateway;
import dev.sluice.server.gateway.Principal;
import dev.sluice.server.openai.OpenAiErrors;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import dev.sluice.server.store.StoreException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;

/**
 * The admin API's shared mechanism: every concern adds its admin routes under {@link #PREFIX}
 * as {@link #json} services (from a {@code GatewayAssembly} customizer), and the
 * {@link AuthDecorator} lets only admin credentials reach any path under {@code /admin/}.
 *
 * <p>Access: the decorator lets only operator admins reach {@code /admin/*}, except the
 * {@link #TENANT_SCOPED} prefixes, which tenant admins reach too.
 *
 * <p>Design note: a handler gets the aggregated request (JSON body parsed, 400 on bad JSON), the
 * caller's {@link Principal} and path parameters, runs on the blocking executor (it may use the
 * store), and returns a JSON body ({@code 200}) or a {@link Reply}. Scoping is the handler's job,
 * with {@link #operator}, {@link #requireOperator} and {@link #requireTenant}: an admin of the
 * operator's tenant ({@code default}) administers every tenant; an admin key of another tenant only
 * its own, and other tenants' resources are 404 to it (their existence is not revealed).
 * Exceptions map to OpenAI error bodies: {@link OpenAiException} as is,
 * {@link IdentityStore.IdentityException} to 409/404, {@link IllegalArgumentException} to 400,
 * {@link StoreException} to 503.
 */
public final class AdminRoutes {
    private static final Logger log = LoggerFactory.getLogger(AdminRoutes.class);
    static final ObjectMapper JSON = new ObjectMapper();
    /** Where every admin route lives. */
    public static final String PREFIX = "/admin/v1";
    /**
     * Admin paths that a tenant's admin (not only the operator) may reach; their handlers must scope
     * every read and write to the caller's tenant with {@link #requireTenant}. Every other path under
     * {@code /admin/} is operator-only (deny by default): add a prefix here only together with that scoping.
     */
    public static final java.util.List<String> TENANT_SCOPED = java.util.List.of(PREFIX + "/tenants", PREFIX + "/keys");

    private AdminRoutes() {}

    /** A handler's answer with a status other than 200. */
    public record Reply(HttpStatus status, JsonNode body) {
        public static Reply created(JsonNode body) {
            return new Reply(HttpStatus.CREATED, body);
        }
    }

    /** One admin call. */
    public record Request(ServiceRequestContext ctx, HttpMethod method, Principal principal, JsonNode body) {
        public String path(String name) {
            return ctx.pathParam(name);
        }

        public QueryParams query() {
            return ctx.queryParams();
        }

        /** A text field of the body; 400 naming it when required and absent, or not text. */
        public String text(String field, boolean required) {
            JsonNode v = body.get(field);
            if (v == null || v.isNull()) {
                if (required) throw OpenAiException.invalid(field, "'" + field + "' is required");
                return null;
            }
            if (!v.isTextual()) throw OpenAiException.invalid(field, "'" + field + "' must be a string");
            return v.asText();
        }

        /** A text field that must match {@code pattern}; the message says what is allowed. */
        public String id(String field, boolean required, Pattern pattern, String allowed) {
            String v = text(field, required);
            if (v != null && !pattern.matcher(v).matches()) throw OpenAiException.invalid(field, "'" + field + "' must be " + allowed);
            return v;
        }

        /** Fails with 400 when the body has a field not in {@code allowed} (a typo must not be silently ignored). */
        public void onlyFields(String... allowed) {
            var names = java.util.Set.of(allowed);
            body.fieldNames().forEachRemaining(f -> {
                if (!names.contains(f)) throw OpenAiException.invalid(f, "unknown field '" + f + "'; allowed: " + String.join(", ", allowed));
            });
        }
    }

    @FunctionalInterface
    public interface Handler {
        /** Returns a {@link JsonNode} (200), a {@link Reply}, or an {@link HttpResponse}. */
        Object handle(Request r) throws Exception;
    }

    /** True when {@code path} is under one of {@link #TENANT_SCOPED}. */
    public static boolean tenantScoped(String path) {
        for (String p : TENANT_SCOPED) if (path.equals(p) || path.startsWith(p + "/")) return true;
        return false;
    }

    /** True for an admin of the operator's tenant: it administers every tenant, and may read {@code /metrics}. */
    public static boolean operator(Principal p) {
        return p.admin() && Principal.DEFAULT_TENANT.equals(p.tenant());
    }

    /** 403 unless {@code p} is an operator admin. */
    public static void requireOperator(Principal p) {
        if (!operator(p)) throw AuthException.forbidden("This needs an admin credential of the operator's tenant ('" + Principal.DEFAULT_TENANT + "')");
    }

    /** True when {@code p} may administer {@code tenant}. */
    public static boolean canAdminister(Principal p, String tenant) {
        return operator(p) || (p.admin() && p.tenant().equals(tenant));
    }

    /** 404 (as if it did not exist) unless {@code p} may administer {@code tenant}. */
    public static void requireTenant(Principal p, String tenant) {
        if (!canAdminister(p, tenant)) throw notFound("tenant '" + tenant + "' not found");
    }

    public static OpenAiException notFound(String message) {
        return new OpenAiException(HttpStatus.NOT_FOUND, "invalid_request_error", null, "not_found", message);
    }

    public static OpenAiException methodNotAllowed(HttpMethod m) {
        return new OpenAiException(HttpStatus.METHOD_NOT_ALLOWED, "invalid_request_error", null, "method_not_allowed", m + " is not allowed here");
    }

    /** An admin service: see the class note. */
    public static HttpService json(Handler handler) {
        return (ctx, req) -> {
            CompletableFuture<HttpResponse> f = req.aggregate().thenApplyAsync(agg -> {
                try {
                    String text = agg.contentUtf8();
                    JsonNode body = text.isBlank() ? JSON.createObjectNode() : OpenAiService.parseJson(text);
                    if (!body.isObject()) throw OpenAiException.invalid(null, "The request body must be a JSON object");
                    Object out = handler.handle(new Request(ctx, req.method(), Gateway.principal(ctx), body));
                    return switch (out) {
                        case HttpResponse r -> r;
                        case Reply r -> HttpResponse.of(r.status(), MediaType.JSON_UTF_8, HttpData.ofUtf8(r.body().toString()));
                        case JsonNode n -> HttpResponse.of(HttpStatus.OK, MediaType.JSON_UTF_8, HttpData.ofUtf8(n.toString()));
                        case null -> HttpResponse.of(HttpStatus.NO_CONTENT);
                        default -> throw new IllegalStateException("admin handler returned " + out.getClass().getName());
                    };
                } catch (Exception e) {
                    return OpenAiService.error(map(e));
                }
            }, ctx.blockingTaskExecutor());
            return HttpResponse.of(f.exceptionally(t -> OpenAiService.error(map(t))));
        };
    }

    private static OpenAiException map(Throwable t) {
        while (t instanceof java.util.concurrent.CompletionException && t.getCause() != null) t = t.getCause();
        return switch (t) {
            case OpenAiException e -> e;
            case IdentityStore.IdentityException e when e.kind() == IdentityStore.IdentityException.Kind.CONFLICT ->
                    new OpenAiException(HttpStatus.CONFLICT, "invalid_request_error", null, "conflict", e.getMessage());
            case IdentityStore.IdentityException e -> notFound(e.getMessage());
            case IllegalArgumentException e -> OpenAiException.invalid(null, e.getMessage());
            case StoreException e -> {
                log.warn("admin: store failure: {}", e.getMessage());
                yield new OpenAiException(HttpStatus.SERVICE_UNAVAILABLE, "server_error", null, "store_unavailable", "The store is unavailable; retry later");
            }
            default -> {
                log.error("admin request failed", t);
                yield OpenAiErrors.fromThrowable(t);
            }
        };
    }

    /** A JSON list body: {@code {"object":"list","data":[...]}}. */
    public static ObjectNode list(Iterable<? extends JsonNode> items) {
        ObjectNode o = JSON.createObjectNode().put("object", "list");
        ArrayNode data = o.putArray("data");
        items.forEach(data::add);
        return o;
    }
}
