package dev.sluice.server.gateway.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.QueryParams;
import com.linecorp.armeria.server.ServerBuilder;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.gateway.Gateway;
import dev.sluice.server.openai.OpenAiErrors;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import dev.sluice.server.store.StoreException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * OpenAI's stored-completions routes, each scoped to the caller's tenant:
 * {@code GET /v1/chat/completions} (filters {@code model}, {@code metadata[key]=value}; pagination
 * {@code after}, {@code limit} (default 20, at most 100), {@code order} ({@code asc}, the default, or
 * {@code desc})), {@code GET /v1/chat/completions/{id}}, {@code POST /v1/chat/completions/{id}}
 * (replace {@code metadata}), {@code DELETE /v1/chat/completions/{id}} and
 * {@code GET /v1/chat/completions/{id}/messages}. Registered per method: the gateway's POST on
 * {@code /v1/chat/completions} stays the generation route. The database work runs on Armeria's
 * blocking task executor, never on an event loop; a store that cannot be reached is a 503.
 */
public final class StoredCompletionsRoutes {
    private static final Logger log = LoggerFactory.getLogger(StoredCompletionsRoutes.class);
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();
    private static final String BASE = "/v1/chat/completions";

    private final StoredCompletions stored;

    public StoredCompletionsRoutes(StoredCompletions stored) {
        this.stored = stored;
    }

    public void register(ServerBuilder sb) {
        sb.route().get(BASE).build((ctx, req) -> blocking(ctx, () -> list(ctx)));
        sb.route().get(BASE + "/{id}").build((ctx, req) -> blocking(ctx, () -> {
            ObjectNode c = stored.get(tenant(ctx), ctx.pathParam("id"));
            if (c == null) throw notFound(ctx.pathParam("id"));
            return c;
        }));
        sb.route().post(BASE + "/{id}").build((ctx, req) -> HttpResponse.of(req.aggregate().thenCompose(agg -> {
            Map<String, String> metadata;
            try {
                JsonNode body = OpenAiService.parseJson(agg.contentUtf8());
                if (!body.isObject() || !body.has("metadata")) throw OpenAiException.invalid("metadata", "'metadata' is required");
                var fields = body.fieldNames();
                while (fields.hasNext()) {
                    String f = fields.next();
                    if (!f.equals("metadata")) throw OpenAiException.invalid(f, "only 'metadata' can be updated");
                }
                metadata = StoredCompletions.metadata(body.get("metadata"));
            } catch (OpenAiException e) {
                return CompletableFuture.completedFuture(OpenAiService.error(e));
            }
            return CompletableFuture.completedFuture(blocking(ctx, () -> {
                ObjectNode c = stored.updateMetadata(tenant(ctx), ctx.pathParam("id"), metadata);
                if (c == null) throw notFound(ctx.pathParam("id"));
                return c;
            }));
        })));
        sb.route().delete(BASE + "/{id}").build((ctx, req) -> blocking(ctx, () -> {
            String id = ctx.pathParam("id");
            if (!stored.delete(tenant(ctx), id)) throw notFound(id);
            return JSON.createObjectNode().put("id", id).put("object", "chat.completion.deleted").put("deleted", true);
        }));
        sb.route().get(BASE + "/{id}/messages").build((ctx, req) -> blocking(ctx, () -> {
            String id = ctx.pathParam("id");
            ObjectNode request = stored.request(tenant(ctx), id);
            if (request == null) throw notFound(id);
            QueryParams q = ctx.queryParams();
            int limit = limit(q);
            boolean asc = asc(q);
            List<ObjectNode> all = StoredCompletions.messages(id, request);
            if (!asc) all = all.reversed();
            int from = 0;
            String after = q.get("after");
            if (after != null) {
                from = all.size();
                for (int i = 0; i < all.size(); i++) {
                    if (all.get(i).path("id").asText().equals(after)) {
                        from = i + 1;
                        break;
                    }
                }
            }
            int to = Math.min(all.size(), from + limit);
            return StoredCompletions.listObject(all.subList(from, to), to < all.size());
        }));
    }

    private ObjectNode list(ServiceRequestContext ctx) throws SQLException {
        QueryParams q = ctx.queryParams();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (String name : q.names()) {
            if (name.startsWith("metadata[") && name.endsWith("]")) metadata.put(name.substring(9, name.length() - 1), q.get(name));
        }
        StoredCompletions.Page p = stored.list(tenant(ctx), q.get("model"), metadata, q.get("after"), limit(q), asc(q));
        return StoredCompletions.listObject(p.data(), p.hasMore());
    }

    private static String tenant(ServiceRequestContext ctx) {
        return Gateway.principal(ctx).tenant();
    }

    private static int limit(QueryParams q) {
        String l = q.get("limit");
        if (l == null) return StoredCompletions.DEFAULT_LIMIT;
        try {
            int n = Integer.parseInt(l.trim());
            if (n >= 1 && n <= StoredCompletions.MAX_LIMIT) return n;
        } catch (NumberFormatException e) {
            // below
        }
        throw OpenAiException.invalid("limit", "'limit' must be an integer in [1, " + StoredCompletions.MAX_LIMIT + "], got '" + l + "'");
    }

    private static boolean asc(QueryParams q) {
        String o = q.get("order");
        if (o == null || o.equals("asc")) return true;
        if (o.equals("desc")) return false;
        throw OpenAiException.invalid("order", "'order' must be 'asc' or 'desc', got '" + o + "'");
    }

    private static OpenAiException notFound(String id) {
        return new OpenAiException(HttpStatus.NOT_FOUND, "invalid_request_error", "completion_id", "not_found",
                "No chat completion found with id '" + id + "'");
    }

    private static HttpResponse blocking(ServiceRequestContext ctx, Callable<ObjectNode> work) {
        return HttpResponse.of(CompletableFuture.supplyAsync(() -> {
            try {
                return HttpResponse.ofJson(work.call());
            } catch (OpenAiException e) {
                return OpenAiService.error(e);
            } catch (SQLException | StoreException e) {
                log.warn("stored completions: the store failed: {}", e.toString());
                return OpenAiService.error(new OpenAiException(HttpStatus.SERVICE_UNAVAILABLE, "server_error", null, "store_unavailable",
                        "The store of completions cannot be reached now; retry later"));
            } catch (Exception e) {
                log.error("stored completions route failed", e);
                return OpenAiService.error(OpenAiErrors.fromThrowable(e));
            }
        }, ctx.blockingTaskExecutor()));
    }
}
