package dev.sluice.server.gateway;

import io.netty.util.AttributeKey;

import java.util.Set;

/**
 * Who is calling: the identity an authenticated credential (API key or JWT) maps to. The auth
 * decorator puts it on the request context under {@link #ATTR}; every later gateway stage
 * (limits, quotas, cache scoping, routing stickiness, usage records) reads it from there.
 *
 * @param tenant  tenant id; the unit of isolation (cache, stored completions, usage)
 * @param project project id within the tenant, or null
 * @param keyId   the API key's public id (never the secret), or null for a JWT
 * @param user    end-user id (JWT subject/claim, or the request's {@code user} field), or null
 * @param tier    the key's tier (selects limits and priority), never null
 * @param models  models this credential may use; empty means all
 * @param admin   true when the credential may use the admin routes and {@code /metrics}
 */
public record Principal(String tenant, String project, String keyId, String user, String tier, Set<String> models, boolean admin) {
    public static final AttributeKey<Principal> ATTR = AttributeKey.valueOf(Principal.class, "principal");

    /** Tenant of requests served without authentication (loopback-only or {@code --no-auth}). */
    public static final String DEFAULT_TENANT = "default";
    /** Tier of a credential that names none. */
    public static final String DEFAULT_TIER = "default";

    public Principal {
        if (tenant == null || tenant.isBlank()) throw new IllegalArgumentException("principal: tenant is required");
        tier = tier == null ? DEFAULT_TIER : tier;
        models = models == null ? Set.of() : Set.copyOf(models);
    }

    /** The caller when auth is off: the default tenant, every model, admin. */
    public static Principal anonymous() {
        return new Principal(DEFAULT_TENANT, null, null, null, DEFAULT_TIER, Set.of(), true);
    }

    /** True when this credential may use {@code model} (a public alias). */
    public boolean allows(String model) {
        return models.isEmpty() || models.contains(model);
    }

    /** The same principal with the end-user id set (from the request's {@code user} field when the credential names none). */
    public Principal withUser(String user) {
        return new Principal(tenant, project, keyId, user, tier, models, admin);
    }
}
