package dev.sluice.server.gateway.auth;

import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;

/**
 * The {@code auth:} section of the config file: API keys, JWT and the deny-by-default policy
 * (issue 6; {@code docs/auth.md}). Validated when built; every field has a safe default.
 *
 * <p>Whether authentication is enforced is decided at start-up, not here: it is enforced as soon
 * as any credential exists (an API key in the store, {@link #jwt}, or {@link #adminKeySha256});
 * with none, the server serves anonymously on loopback only, and binding beyond loopback needs
 * {@code sluice serve --no-auth}.
 *
 * @param keyCacheTtl    how long a looked-up API key row is cached (default {@link #DEFAULT_KEY_CACHE_TTL});
 *                       this bounds how long a key revoked on another gateway replica (or by the CLI)
 *                       keeps working here; a revocation through this node's admin API takes effect at once
 * @param keyCacheSize   most API key rows cached (default {@value #DEFAULT_KEY_CACHE_SIZE}); the least
 *                       recently used are evicted and looked up again
 * @param adminKeySha256 lower-case hex SHA-256 of a bootstrap admin token (a bearer token of 32+
 *                       random characters that only the operator knows; the token itself is never in
 *                       the config); it authenticates as an admin of the operator's tenant
 *                       ({@code default}). Default: none. Typically {@code ${SLUICE_ADMIN_KEY_SHA256}}
 * @param jwt            JWT bearer tokens, or null (default): JWTs are refused
 */
public record AuthConfig(Duration keyCacheTtl, Integer keyCacheSize, String adminKeySha256, JwtConfig jwt) {
    /** 30 s: a lookup per key per 30 s per replica, and a revocation reaches every replica within 30 s. */
    public static final Duration DEFAULT_KEY_CACHE_TTL = Duration.ofSeconds(30);
    /** Longest allowed key cache TTL: 10 minutes; a revoked key must not live on for long. */
    public static final Duration MAX_KEY_CACHE_TTL = Duration.ofMinutes(10);
    /** 10,000 keys: far more than the active keys of one deployment, a few MiB at most. */
    public static final int DEFAULT_KEY_CACHE_SIZE = 10_000;

    public AuthConfig {
        keyCacheTtl = keyCacheTtl == null ? DEFAULT_KEY_CACHE_TTL : keyCacheTtl;
        if (keyCacheTtl.isNegative() || keyCacheTtl.compareTo(MAX_KEY_CACHE_TTL) > 0) {
            throw new IllegalArgumentException("auth.keyCacheTtl must be in [0, " + MAX_KEY_CACHE_TTL.toSeconds() + " s], got " + keyCacheTtl);
        }
        keyCacheSize = keyCacheSize == null ? DEFAULT_KEY_CACHE_SIZE : keyCacheSize;
        if (keyCacheSize < 0 || keyCacheSize > 10_000_000) throw new IllegalArgumentException("auth.keyCacheSize must be in [0, 10000000], got " + keyCacheSize);
        if (adminKeySha256 != null) {
            adminKeySha256 = adminKeySha256.strip().toLowerCase(Locale.ROOT);
            if (adminKeySha256.isEmpty()) adminKeySha256 = null;
            else if (!adminKeySha256.matches("[0-9a-f]{64}")) {
                throw new IllegalArgumentException("auth.adminKeySha256 must be 64 hex digits (the SHA-256 of the admin token, e.g. printf %s \"$TOKEN\" | sha256sum)");
            }
        }
    }

    public static AuthConfig defaults() {
        return new AuthConfig(null, null, null, null);
    }

    /** The bootstrap admin hash as bytes, or null. */
    public byte[] adminKeyHash() {
        return adminKeySha256 == null ? null : HexFormat.of().parseHex(adminKeySha256);
    }

    /** True when a credential that needs no store is configured (JWT or the bootstrap admin token). */
    public boolean configuredCredentials() {
        return jwt != null || adminKeySha256 != null;
    }

    public AuthConfig withJwt(JwtConfig jwt) {
        return new AuthConfig(keyCacheTtl, keyCacheSize, adminKeySha256, jwt);
    }

    public AuthConfig withAdminKeySha256(String hash) {
        return new AuthConfig(keyCacheTtl, keyCacheSize, hash, jwt);
    }

    public AuthConfig withKeyCacheTtl(Duration ttl) {
        return new AuthConfig(ttl, keyCacheSize, adminKeySha256, jwt);
    }

    @Override
    public String toString() {
        return "AuthConfig[keyCacheTtl=" + keyCacheTtl + ", keyCacheSize=" + keyCacheSize + ", adminKeySha256="
                + (adminKeySha256 == null ? "none" : "***") + ", jwt=" + jwt + "]";
    }
}
