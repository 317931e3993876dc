package dev.sluice.server.gateway.limits;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.QueryParams;
import com.linecorp.armeria.server.ServerBuilder;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.gateway.Gateway;
import dev.sluice.server.gateway.Principal;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import dev.sluice.server.store.StoreException;

import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Admin routes of the limits concern, under {@code /admin/v1/} (the auth decorator requires an
 * admin credential there), and the caller's own usage at {@code GET /v1/usage}.
 *
 * <ul>
 *   <li>{@code GET /admin/v1/limits}: mode, backend health, the rules</li>
 *   <li>{@code GET /admin/v1/prices}, {@code PUT|DELETE /admin/v1/prices/{model}} ({@code {"input":0.5,"output":1.5}} per 1K tokens)</li>
 *   <li>{@code GET /admin/v1/budgets}, {@code GET|PUT|DELETE /admin/v1/budgets/{scope}/{subject}}
 *       ({@code {"period":"month","tokens":100000,"money":25.0}}; DELETE takes {@code ?period=})</li>
 *   <li>{@code GET /admin/v1/usage?group_by=key|tenant|model|day|user&from=YYYY-MM-DD&to=YYYY-MM-DD&tenant=}</li>
 *   <li>{@code GET /v1/usage?group_by=...&from=&to=}: the same, within the caller's tenant</li>
 * </ul>
 * Store work runs on the blocking pool; every failure is an OpenAI error body.
 */
final class LimitsAdmin {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Largest admin request body: 64 KiB. */
    static final int MAX_BODY = 64 << 10;
    /** Days a usage query spans when {@code from} is not given: 30. */
    static final int DEFAULT_USAGE_DAYS = 30;

    private final Limits limits;

    LimitsAdmin(Limits limits) {
        this.limits = limits;
    }

    @FunctionalInterface
    private interface Handler {
        Object handle(ServiceRequestContext ctx, HttpRequest req, JsonNode body) throws Exception;
    }

    private static HttpResponse blocking(ServiceRequestContext ctx, HttpRequest req, Handler h) {
        CompletableFuture<HttpResponse> f = req.aggregate().thenApplyAsync(agg -> {
            try {
                if (agg.content().length() > MAX_BODY) throw OpenAiException.invalid(null, "request body over " + MAX_BODY + " bytes");
                JsonNode body = agg.content().isEmpty() ? JSON.createObjectNode() : OpenAiService.parseJson(agg.contentUtf8());
                Object out = h.handle(ctx, req, body);
                if (out instanceof HttpResponse r) return r;
                return HttpResponse.ofJson(out);
            } catch (OpenAiException e) {
                return OpenAiService.error(e);
            } catch (IllegalArgumentException e) {
                return OpenAiService.error(OpenAiException.invalid(null, e.getMessage()));
            } catch (StoreException e) {
                return OpenAiService.error(new OpenAiException(HttpStatus.SERVICE_UNAVAILABLE, "server_error", null, "store_unavailable", e.getMessage()));
            } catch (Exception e) {
                return OpenAiService.error(new OpenAiException(HttpStatus.INTERNAL_SERVER_ERROR, "server_error", null, null,
                        "Internal error: " + e.getClass().getSimpleName()));
            }
        }, ctx.blockingTaskExecutor());
        return HttpResponse.of(f);
    }

    private static OpenAiException notAllowed(HttpMethod m) {
        return new OpenAiException(HttpStatus.METHOD_NOT_ALLOWED, "invalid_request_error", null, null, "Method " + m + " is not allowed here");
    }

    void register(ServerBuilder sb) {
        sb.service("/admin/v1/limits", (ctx, req) -> blocking(ctx, req, (c, r, b) -> {
            if (r.method() != HttpMethod.GET) throw notAllowed(r.method());
            return limitsView();
        }));
        sb.service("/admin/v1/prices", (ctx, req) -> blocking(ctx, req, (c, r, b) -> {
            if (r.method() != HttpMethod.GET) throw notAllowed(r.method());
            return pricesView();
        }));
        sb.service("/admin/v1/prices/{model}", (ctx, req) -> blocking(ctx, req, (c, r, b) -> {
            String model = c.pathParam("model");
            return switch (r.method()) {
                case PUT -> {
                    LimitsConfig.Price p = new LimitsConfig.Price(decimal(b, "input"), decimal(b, "output"));
                    limits.catalog().putPrice(model, Catalog.Price.of(p));
                    yield priceView(model, limits.catalog().price(model));
                }
                case DELETE -> {
                    if (!limits.catalog().deletePrice(model)) throw notFound("no stored price for model '" + model + "'");
                    yield JSON.createObjectNode().put("model", model).put("deleted", true);
                }
                case GET -> priceView(model, limits.catalog().price(model));
                default -> throw notAllowed(r.method());
            };
        }));
        sb.service("/admin/v1/budgets", (ctx, req) -> blocking(ctx, req, (c, r, b) -> {
            if (r.method() != HttpMethod.GET) throw notAllowed(r.method());
            return budgetsView();
        }));
        sb.service("/admin/v1/budgets/{scope}/{subject}", (ctx, req) -> blocking(ctx, req, (c, r, b) -> {
            String scope = LimitsConfig.oneOf("scope", c.pathParam("scope"), null, "key", "tenant");
            String subject = c.pathParam("subject");
            return switch (r.method()) {
                case PUT -> {
                    LimitsConfig.Budget cfg = new LimitsConfig.Budget(scope, subject, text(b, "period"),
                            b.hasNonNull("tokens") ? b.get("tokens").asLong() : null, decimal(b, "money"));
                    limits.catalog().putBudget(new Catalog.BudgetLimit(scope, subject, cfg.period(), cfg.tokens(),
                            cfg.money() == null ? null : Catalog.micros(cfg.money())));
                    yield balances(scope, subject);
                }
                case DELETE -> {
                    String period = LimitsConfig.oneOf("period", QueryParams.fromQueryString(c.query()).get("period"), "month", "day", "month");
                    if (!limits.catalog().deleteBudget(scope, subject, period)) throw notFound("no stored " + period + " budget for " + scope + " '" + subject + "'");
                    yield JSON.createObjectNode().put("scope", scope).put("subject", subject).put("period", period).put("deleted", true);
                }
                case GET -> balances(scope, subject);
                default -> throw notAllowed(r.method());
            };
        }));
        sb.service("/admin/v1/usage", (ctx, req) -> blocking(ctx, req, (c, r, b) -> {
            if (r.method() != HttpMethod.GET) throw notAllowed(r.method());
            QueryParams q = QueryParams.fromQueryString(c.query());
            return usage(q, q.get("tenant"));
        }));
        sb.service("/v1/usage", (ctx, req) -> blocking(ctx, req, (c, r, b) -> {
            if (r.method() != HttpMethod.GET) throw notAllowed(r.method());
            Principal p = Gateway.principal(c);
            return usage(QueryParams.fromQueryString(c.query()), p.tenant());
        }));
    }

    private static OpenAiException notFound(String message) {
        return new OpenAiException(HttpStatus.NOT_FOUND, "invalid_request_error", null, "not_found", message);
    }

    private static BigDecimal decimal(JsonNode b, String field) {
        JsonNode n = b.get(field);
        if (n == null || n.isNull()) return null;
        if (!n.isNumber()) throw OpenAiException.invalid(field, "'" + field + "' must be a number");
        return n.decimalValue();
    }

    private static String text(JsonNode b, String field) {
        JsonNode n = b.get(field);
        return n == null || n.isNull() ? null : n.asText();
    }

    private ObjectNode limitsView() {
        LimitsConfig c = limits.config();
        RateLimiter l = limits.limiter();
        ObjectNode o = JSON.createObjectNode();
        o.put("enabled", c.enabled()).put("backend", l.redisMode() ? "redis" : "local").put("backend_up", l.backendUp())
                .put("fallback", c.fallback()).put("replicas", c.replicas()).put("refill", c.refill()).put("region_header", c.regionHeader());
        o.set("rules", JSON.valueToTree(c.rules()));
        return o;
    }

    private ObjectNode pricesView() {
        ObjectNode o = JSON.createObjectNode().put("object", "list");
        ArrayNode data = o.putArray("data");
        limits.catalog().prices().forEach((m, p) -> data.add(priceView(m, p)));
        return o;
    }

    private static ObjectNode priceView(String model, Catalog.Price p) {
        return JSON.createObjectNode().put("model", model).put("input", Catalog.money(p.inputMicrosPer1k())).put("output", Catalog.money(p.outputMicrosPer1k()));
    }

    private ObjectNode budgetsView() {
        ObjectNode o = JSON.createObjectNode();
        o.set("config", JSON.valueToTree(limits.config().budgets()));
        ArrayNode stored = o.putArray("stored");
        for (Catalog.BudgetLimit b : limits.catalog().storedBudgets()) stored.add(budgetView(b));
        return o;
    }

    private static ObjectNode budgetView(Catalog.BudgetLimit b) {
        ObjectNode o = JSON.createObjectNode().put("scope", b.scope()).put("subject", b.subject()).put("period", b.period());
        if (b.tokens() == null) o.putNull("tokens");
        else o.put("tokens", b.tokens());
        if (b.micros() == null) o.putNull("money");
        else o.put("money", Catalog.money(b.micros()));
        return o;
    }

    /** The budgets that apply to one key or tenant now, with their current period's balance. */
    private ObjectNode balances(String scope, String subject) {
        Principal p = scope.equals("key") ? new Principal("-", null, subject, null, null, null, false) : new Principal(subject, null, null, null, null, null, false);
        List<Catalog.BudgetLimit> all = new ArrayList<>();
        for (Catalog.BudgetLimit b : limits.catalog().budgetsFor(p)) if (b.scope().equals(scope)) all.add(b);
        ObjectNode o = JSON.createObjectNode().put("scope", scope).put("subject", subject);
        ArrayNode data = o.putArray("budgets");
        for (Catalog.BudgetLimit b : all) {
            ObjectNode v = budgetView(b).put("period_key", b.periodKey(LocalDate.now(ZoneOffset.UTC)));
            if (limits.ledger() != null) {
                Ledger.Balance bal = limits.ledger().balance(b).join();
                v.put("tokens_used", bal.tokensUsed()).put("tokens_reserved", bal.tokensReserved())
                        .put("money_used", Catalog.money(bal.microsUsed())).put("money_reserved", Catalog.money(bal.microsReserved()));
            }
            data.add(v);
        }
        return o;
    }

    private ObjectNode usage(QueryParams q, String tenant) {
        if (limits.usage() == null) throw new OpenAiException(HttpStatus.NOT_FOUND, "invalid_request_error", null, "not_found", "usage records are off");
        String groupBy = q.get("group_by", "model");
        if (!UsageStore.GROUPS.containsKey(groupBy)) throw OpenAiException.invalid("group_by", "group_by must be one of key, tenant, model, day, user");
        LocalDate to = date(q.get("to"), "to", LocalDate.now(ZoneOffset.UTC));
        LocalDate from = date(q.get("from"), "from", to.minusDays(DEFAULT_USAGE_DAYS - 1));
        if (from.isAfter(to)) throw OpenAiException.invalid("from", "'from' is after 'to'");
        if (ChronoUnit.DAYS.between(from, to) >= UsageStore.MAX_DAYS) throw OpenAiException.invalid("from", "a usage query spans at most " + UsageStore.MAX_DAYS + " days");
        return limits.usage().totals(groupBy, from, to, tenant);
    }

    private static LocalDate date(String v, String param, LocalDate dflt) {
        if (v == null || v.isBlank()) return dflt;
        try {
            return LocalDate.parse(v.trim());
        } catch (DateTimeParseException e) {
            throw OpenAiException.invalid(param, "'" + param + "' must be a date, YYYY-MM-DD, got '" + v + "'");
        }
    }
}
