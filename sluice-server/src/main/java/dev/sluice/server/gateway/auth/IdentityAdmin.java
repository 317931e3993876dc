package dev.sluice.server.gateway.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.server.ServerBuilder;
import dev.sluice.server.gateway.Principal;
import dev.sluice.server.openai.OpenAiException;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.TreeSet;

/**
 * The identity half of the admin API ({@code docs/auth.md}): tenants, projects, users and API keys
 * under {@code /admin/v1/}, scoped as {@link AdminRoutes} describes. A created key's secret is in
 * the creation response only; listings show a key's public id (its prefix), never a hash or a
 * secret. Revoking or deleting drops the affected cached keys on this node at once.
 */
public final class IdentityAdmin {
    /** Longest key lifetime accepted by {@code expires_in_seconds}: 10 years. */
    static final long MAX_EXPIRES_IN_SECONDS = 10L * 366 * 24 * 3600;
    /** Longest model name accepted in a key's {@code models}: 256 characters. */
    static final int MAX_MODEL_NAME = 256;
    private static final String ID_RULE = "1-64 characters of letters, digits, '.', '_' and '-', starting with a letter or digit";

    private final Authenticator auth;

    public IdentityAdmin(Authenticator auth) {
        this.auth = auth;
    }

    private IdentityStore store() {
        return new IdentityStore(auth.store().get());
    }

    public void register(ServerBuilder sb) {
        String p = AdminRoutes.PREFIX;
        sb.service(p + "/tenants", AdminRoutes.json(r -> switch (r.method().name()) {
            case "GET" -> AdminRoutes.list(store().tenants().stream().filter(t -> AdminRoutes.canAdminister(r.principal(), t.id())).map(IdentityAdmin::tenant).toList());
            case "POST" -> {
                AdminRoutes.requireOperator(r.principal());
                r.onlyFields("id", "name");
                String id = r.id("id", true, IdentityStore.ID, ID_RULE);
                yield AdminRoutes.Reply.created(tenant(store().createTenant(id, name(r, "name"))));
            }
            default -> throw AdminRoutes.methodNotAllowed(r.method());
        }));
        sb.service(p + "/tenants/{tenant}", AdminRoutes.json(r -> {
            String t = r.path("tenant");
            AdminRoutes.requireTenant(r.principal(), t);
            return switch (r.method().name()) {
                case "GET" -> {
                    IdentityStore.Tenant x = store().tenant(t);
                    if (x == null) throw AdminRoutes.notFound("tenant '" + t + "' not found");
                    yield tenant(x);
                }
                case "DELETE" -> {
                    AdminRoutes.requireOperator(r.principal());
                    if (t.equals(Principal.DEFAULT_TENANT)) throw OpenAiException.invalid("tenant", "the operator's tenant '" + t + "' cannot be deleted");
                    if (!store().deleteTenant(t)) throw AdminRoutes.notFound("tenant '" + t + "' not found");
                    auth.invalidateAll();
                    yield deleted(t, "tenant");
                }
                default -> throw AdminRoutes.methodNotAllowed(r.method());
            };
        }));
        sb.service(p + "/tenants/{tenant}/projects", AdminRoutes.json(r -> {
            String t = r.path("tenant");
            AdminRoutes.requireTenant(r.principal(), t);
            return switch (r.method().name()) {
                case "GET" -> AdminRoutes.list(store().projects(existing(t)).stream().map(IdentityAdmin::project).toList());
                case "POST" -> {
                    r.onlyFields("id", "name");
                    String id = r.id("id", true, IdentityStore.ID, ID_RULE);
                    yield AdminRoutes.Reply.created(project(store().createProject(t, id, name(r, "name"))));
                }
                default -> throw AdminRoutes.methodNotAllowed(r.method());
            };
        }));
        sb.service(p + "/tenants/{tenant}/projects/{id}", AdminRoutes.json(r -> {
            String t = r.path("tenant"), id = r.path("id");
            AdminRoutes.requireTenant(r.principal(), t);
            if (r.method() != HttpMethod.DELETE) throw AdminRoutes.methodNotAllowed(r.method());
            if (!store().deleteProject(t, id)) throw AdminRoutes.notFound("project '" + id + "' not found in tenant '" + t + "'");
            auth.invalidateAll();
            return deleted(id, "project");
        }));
        sb.service(p + "/tenants/{tenant}/users", AdminRoutes.json(r -> {
            String t = r.path("tenant");
            AdminRoutes.requireTenant(r.principal(), t);
            return switch (r.method().name()) {
                case "GET" -> AdminRoutes.list(store().users(existing(t)).stream().map(IdentityAdmin::user).toList());
                case "POST" -> {
                    r.onlyFields("id", "name", "email");
                    String id = r.id("id", true, IdentityStore.ID, ID_RULE);
                    String email = r.text("email", false);
                    if (email != null && (email.length() > 320 || !email.matches("[^@\\s]+@[^@\\s]+"))) throw OpenAiException.invalid("email", "'email' is not an email address");
                    yield AdminRoutes.Reply.created(user(store().createUser(t, id, name(r, "name"), email)));
                }
                default -> throw AdminRoutes.methodNotAllowed(r.method());
            };
        }));
        sb.service(p + "/tenants/{tenant}/users/{id}", AdminRoutes.json(r -> {
            String t = r.path("tenant"), id = r.path("id");
            AdminRoutes.requireTenant(r.principal(), t);
            if (r.method() != HttpMethod.DELETE) throw AdminRoutes.methodNotAllowed(r.method());
            if (!store().deleteUser(t, id)) throw AdminRoutes.notFound("user '" + id + "' not found in tenant '" + t + "'");
            auth.invalidateAll();
            return deleted(id, "user");
        }));
        sb.service(p + "/keys", AdminRoutes.json(r -> switch (r.method().name()) {
            case "GET" -> {
                String t = r.query().get("tenant");
                if (t != null) AdminRoutes.requireTenant(r.principal(), t);
                else if (!AdminRoutes.operator(r.principal())) t = r.principal().tenant();
                yield AdminRoutes.list(store().keys(t).stream().map(k -> key(k, null)).toList());
            }
            case "POST" -> createKey(r);
            default -> throw AdminRoutes.methodNotAllowed(r.method());
        }));
        sb.service(p + "/keys/{id}", AdminRoutes.json(r -> switch (r.method().name()) {
            case "GET" -> key(visibleKey(r), null);
            case "DELETE" -> revoke(r);
            default -> throw AdminRoutes.methodNotAllowed(r.method());
        }));
        sb.service(p + "/keys/{id}/revoke", AdminRoutes.json(r -> {
            if (r.method() != HttpMethod.POST) throw AdminRoutes.methodNotAllowed(r.method());
            return revoke(r);
        }));
    }

    private Object createKey(AdminRoutes.Request r) {
        Principal caller = r.principal();
        r.onlyFields("tenant", "project", "user", "name", "models", "tier", "admin", "expires_in_seconds", "expires_at");
        String tenant = r.id("tenant", false, IdentityStore.ID, ID_RULE);
        if (tenant == null) tenant = caller.tenant();
        AdminRoutes.requireTenant(caller, tenant);
        String project = r.id("project", false, IdentityStore.ID, ID_RULE);
        String user = r.id("user", false, IdentityStore.ID, ID_RULE);
        String tier = r.id("tier", false, IdentityStore.ID, ID_RULE);
        String name = name(r, "name");
        JsonNode a = r.body().get("admin");
        if (a != null && !a.isBoolean()) throw OpenAiException.invalid("admin", "'admin' must be true or false");
        boolean admin = a != null && a.asBoolean();
        Set<String> models = models(r.body().get("models"));
        if (!AdminRoutes.operator(caller) && !caller.models().isEmpty()) {
            // a tenant admin restricted to some models cannot mint a key for more
            if (models.isEmpty() || !caller.models().containsAll(models)) {
                throw OpenAiException.invalid("models", "'models' must list only models this credential may use: " + new TreeSet<>(caller.models()));
            }
        }
        Instant expires = expires(r);
        IdentityStore.Created c = store().createKey(new IdentityStore.KeySpec(tenant, project, user, name, models, tier, admin, expires));
        auth.credentialCreated();
        return AdminRoutes.Reply.created(key(c.row(), c.key()));
    }

    private IdentityStore.KeyRow visibleKey(AdminRoutes.Request r) {
        String id = r.path("id");
        IdentityStore.KeyRow k = ApiKeys.isPrefix(id) ? store().key(id) : null;
        if (k == null || !AdminRoutes.canAdminister(r.principal(), k.tenant())) throw AdminRoutes.notFound("key '" + id + "' not found");
        return k;
    }

    private JsonNode revoke(AdminRoutes.Request r) {
        IdentityStore.KeyRow k = visibleKey(r);
        store().revokeKey(k.prefix());
        auth.invalidate(k.prefix());
        return key(store().key(k.prefix()), null);
    }

    private String existing(String tenant) {
        if (store().tenant(tenant) == null) throw AdminRoutes.notFound("tenant '" + tenant + "' not found");
        return tenant;
    }

    private static String name(AdminRoutes.Request r, String field) {
        String n = r.text(field, false);
        if (n != null && (n.length() > IdentityStore.MAX_NAME || n.isBlank())) {
            throw OpenAiException.invalid(field, "'" + field + "' must be 1-" + IdentityStore.MAX_NAME + " characters");
        }
        return n;
    }

    private static Set<String> models(JsonNode m) {
        if (m == null || m.isNull()) return Set.of();
        if (!m.isArray()) throw OpenAiException.invalid("models", "'models' must be an array of model names (empty or absent: every model)");
        if (m.size() > IdentityStore.MAX_MODELS) throw OpenAiException.invalid("models", "'models' may list at most " + IdentityStore.MAX_MODELS + " models");
        Set<String> out = new LinkedHashSet<>();
        for (JsonNode x : m) {
            if (!x.isTextual() || x.asText().isBlank() || x.asText().length() > MAX_MODEL_NAME) {
                throw OpenAiException.invalid("models", "'models' entries must be model names of 1-" + MAX_MODEL_NAME + " characters");
            }
            out.add(x.asText());
        }
        return out;
    }

    private static Instant expires(AdminRoutes.Request r) {
        JsonNode in = r.body().get("expires_in_seconds");
        String at = r.text("expires_at", false);
        if (in != null && !in.isNull() && at != null) throw OpenAiException.invalid("expires_at", "give 'expires_in_seconds' or 'expires_at', not both");
        if (in != null && !in.isNull()) {
            if (!in.isIntegralNumber() || in.asLong() < 1 || in.asLong() > MAX_EXPIRES_IN_SECONDS) {
                throw OpenAiException.invalid("expires_in_seconds", "'expires_in_seconds' must be an integer in [1, " + MAX_EXPIRES_IN_SECONDS + "]");
            }
            return Instant.now().plusSeconds(in.asLong());
        }
        if (at != null) {
            try {
                return Instant.parse(at);
            } catch (DateTimeParseException e) {
                throw OpenAiException.invalid("expires_at", "'expires_at' must be an ISO-8601 instant such as 2027-01-01T00:00:00Z");
            }
        }
        return null;
    }

    static ObjectNode tenant(IdentityStore.Tenant t) {
        return AdminRoutes.JSON.createObjectNode().put("object", "tenant").put("id", t.id()).put("name", t.name()).put("created_at", seconds(t.createdAt()));
    }

    static ObjectNode project(IdentityStore.Project p) {
        return AdminRoutes.JSON.createObjectNode().put("object", "project").put("id", p.id()).put("tenant", p.tenant()).put("name", p.name())
                .put("created_at", seconds(p.createdAt()));
    }

    static ObjectNode user(IdentityStore.User u) {
        return AdminRoutes.JSON.createObjectNode().put("object", "user").put("id", u.id()).put("tenant", u.tenant()).put("name", u.name())
                .put("email", u.email()).put("created_at", seconds(u.createdAt()));
    }

    /** A key as the admin API shows it: never its hash; its secret only in {@code key}, at creation. */
    public static ObjectNode key(IdentityStore.KeyRow k, String secretKey) {
        ObjectNode o = AdminRoutes.JSON.createObjectNode().put("object", "api_key").put("id", k.prefix());
        if (secretKey != null) o.put("key", secretKey);
        o.put("name", k.name()).put("tenant", k.tenant()).put("project", k.project()).put("user", k.user());
        var models = o.putArray("models");
        new TreeSet<>(k.models()).forEach(models::add);
        o.put("tier", k.tier()).put("admin", k.admin()).put("created_at", seconds(k.createdAt()));
        if (k.expiresAt() == null) o.putNull("expires_at");
        else o.put("expires_at", seconds(k.expiresAt()));
        if (k.revokedAt() == null) o.putNull("revoked_at");
        else o.put("revoked_at", seconds(k.revokedAt()));
        o.put("revoked", k.revoked());
        return o;
    }

    private static ObjectNode deleted(String id, String what) {
        return AdminRoutes.JSON.createObjectNode().put("id", id).put("object", what).put("deleted", true);
    }

    private static long seconds(Instant t) {
        return t == null ? 0 : t.getEpochSecond();
    }
}
