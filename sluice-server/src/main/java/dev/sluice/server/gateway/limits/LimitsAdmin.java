package dev.sluice.server.gateway.limits;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.QueryParams;
import com.linecorp.armeria.server.ServerBuilder;
import dev.sluice.server.gateway.Principal;
import dev.sluice.server.gateway.auth.AdminRoutes;
import dev.sluice.server.openai.OpenAiException;

import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

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
 * Built on the admin API's shared mechanism ({@link AdminRoutes#json}: blocking pool, OpenAI error
 * bodies); every path here is operator-only, as the auth decorator enforces for {@code /admin/*}.
 */
final class LimitsAdmin {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Days a usage query spans when {@code from} is not given: 30. */
    static final int DEFAULT_USAGE_DAYS = 30;

    private final Limits limits;

    LimitsAdmin(Limits limits) {
        this.limits = limits;
    }

    void register(ServerBuilder sb) {
        sb.service(AdminRoutes.PREFIX + "/limits", AdminRoutes.json(r -> {
            if (r.method() != HttpMethod.GET) throw AdminRoutes.methodNotAllowed(r.method());
            return limitsView();
        }));
        sb.service(AdminRoutes.PREFIX + "/prices", AdminRoutes.json(r -> {
            if (r.method() != HttpMethod.GET) throw AdminRoutes.methodNotAllowed(r.method());
            return pricesView();
        }));
        sb.service(AdminRoutes.PREFIX + "/prices/{model}", AdminRoutes.json(r -> {
            String model = r.path("model");
            return switch (r.method()) {
                case PUT -> {
                    r.onlyFields("input", "output");
                    LimitsConfig.Price p = new LimitsConfig.Price(decimal(r.body(), "input"), decimal(r.body(), "output"));
                    limits.catalog().putPrice(model, Catalog.Price.of(p));
                    yield priceView(model, limits.catalog().price(model));
                }
                case DELETE -> {
                    if (!limits.catalog().deletePrice(model)) throw AdminRoutes.notFound("no stored price for model '" + model + "'");
                    yield JSON.createObjectNode().put("model", model).put("deleted", true);
                }
                case GET -> priceView(model, limits.catalog().price(model));
                default -> throw AdminRoutes.methodNotAllowed(r.method());
            };
        }));
        sb.service(AdminRoutes.PREFIX + "/budgets", AdminRoutes.json(r -> {
            if (r.method() != HttpMethod.GET) throw AdminRoutes.methodNotAllowed(r.method());
            return budgetsView();
        }));
        sb.service(AdminRoutes.PREFIX + "/budgets/{scope}/{subject}", AdminRoutes.json(r -> {
            String scope = LimitsConfig.oneOf("scope", r.path("scope"), null, "key", "tenant");
            String subject = r.path("subject");
            return switch (r.method()) {
                case PUT -> {
                    r.onlyFields("period", "tokens", "money");
                    JsonNode b = r.body();
                    if (b.hasNonNull("tokens") && !b.get("tokens").isIntegralNumber()) throw OpenAiException.invalid("tokens", "'tokens' must be an integer");
                    LimitsConfig.Budget cfg = new LimitsConfig.Budget(scope, subject, r.text("period", false),
                            b.hasNonNull("tokens") ? b.get("tokens").asLong() : null, decimal(b, "money"));
                    limits.catalog().putBudget(new Catalog.BudgetLimit(scope, subject, cfg.period(), cfg.tokens(),
                            cfg.money() == null ? null : Catalog.micros(cfg.money())));
                    yield balances(scope, subject);
                }
                case DELETE -> {
                    String period = LimitsConfig.oneOf("period", r.query().get("period"), "month", "day", "month");
                    if (!limits.catalog().deleteBudget(scope, subject, period)) {
                        throw AdminRoutes.notFound("no stored " + period + " budget for " + scope + " '" + subject + "'");
                    }
                    yield JSON.createObjectNode().put("scope", scope).put("subject", subject).put("period", period).put("deleted", true);
                }
                case GET -> balances(scope, subject);
                default -> throw AdminRoutes.methodNotAllowed(r.method());
            };
        }));
        sb.service(AdminRoutes.PREFIX + "/usage", AdminRoutes.json(r -> {
            if (r.method() != HttpMethod.GET) throw AdminRoutes.methodNotAllowed(r.method());
            return usage(r.query(), r.query().get("tenant"));
        }));
        // the caller's own tenant, whoever it is (any valid credential; the auth decorator guards /v1/*)
        sb.service("/v1/usage", AdminRoutes.json(r -> {
            if (r.method() != HttpMethod.GET) throw AdminRoutes.methodNotAllowed(r.method());
            return usage(r.query(), r.principal().tenant());
        }));
    }

    private static BigDecimal decimal(JsonNode b, String field) {
        JsonNode n = b.get(field);
        if (n == null || n.isNull()) return null;
        if (!n.isNumber()) throw OpenAiException.invalid(field, "'" + field + "' must be a number");
        return n.decimalValue();
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
        if (limits.usage() == null) throw AdminRoutes.notFound("usage records are off (limits.usageRecords)");
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
