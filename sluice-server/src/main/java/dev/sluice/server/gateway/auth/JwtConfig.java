package dev.sluice.server.gateway.auth;

import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * The {@code auth.jwt:} section: JWT bearer tokens (RS256, ES256, HS256) verified with nimbus-jose-jwt.
 *
 * @param issuer        required {@code iss}; a token from another issuer is refused. Required
 * @param audience      required {@code aud} (the token's audience must contain it). Required
 * @param jwksUrl       JWKS URL of the issuer's public keys (RS256, ES256); https, or http only to a
 *                      loopback address. One of {@code jwksUrl} and {@code hs256Secret} is required
 * @param hs256Secret   shared HMAC secret for HS256, at least 32 bytes; put {@code ${ENV_VAR}} here, never the value
 * @param algorithms    accepted {@code alg}s; default: RS256 and ES256 with a JWKS URL, plus HS256 with a
 *                      secret. {@code none} is never accepted
 * @param clockSkew     tolerance on {@code exp} and {@code nbf} (default {@link #DEFAULT_CLOCK_SKEW}, at most 5 min)
 * @param jwksCacheTtl  how long a fetched JWKS is used before it is fetched again (default
 *                      {@link #DEFAULT_JWKS_CACHE_TTL}); a token with an unknown {@code kid} triggers an
 *                      earlier refresh (key rotation), rate-limited by {@code jwksRefreshInterval}
 * @param jwksRefreshInterval least time between two JWKS fetches (default {@link #DEFAULT_JWKS_REFRESH_INTERVAL}):
 *                      tokens with made-up {@code kid}s cannot make the gateway hammer the issuer
 * @param jwksTimeout   connect and read timeout of a JWKS fetch (default {@link #DEFAULT_JWKS_TIMEOUT});
 *                      when it passes, tokens whose key is not cached are refused with 401
 * @param tenantClaim   claim holding the tenant id (default {@value #DEFAULT_TENANT_CLAIM}); a token without it is refused
 * @param userClaim     claim holding the end-user id (default {@value #DEFAULT_USER_CLAIM})
 * @param projectClaim  claim holding the project id, or null (default): none
 * @param tierClaim     claim holding the tier, or null (default): tier {@code default}
 * @param modelsClaim   claim holding the allowed models (array or space-separated string), or null (default): every model
 * @param adminClaim    boolean claim that makes the token an admin credential, or null (default): JWTs are never admin
 */
public record JwtConfig(String issuer, String audience, String jwksUrl, String hs256Secret, List<String> algorithms,
                        Duration clockSkew, Duration jwksCacheTtl, Duration jwksRefreshInterval, Duration jwksTimeout,
                        String tenantClaim, String userClaim, String projectClaim, String tierClaim, String modelsClaim,
                        String adminClaim) {
    /** 60 s: clocks of well-run hosts agree far better; a minute covers a drifting laptop. */
    public static final Duration DEFAULT_CLOCK_SKEW = Duration.ofSeconds(60);
    /** 5 minutes: a rotated key is picked up at once on a kid miss; the TTL only bounds how long a removed key stays trusted. */
    public static final Duration DEFAULT_JWKS_CACHE_TTL = Duration.ofMinutes(5);
    /** 30 s between JWKS fetches, at most. */
    public static final Duration DEFAULT_JWKS_REFRESH_INTERVAL = Duration.ofSeconds(30);
    /** 2 s to connect and to read a JWKS; a request waiting on it fails rather than hangs. */
    public static final Duration DEFAULT_JWKS_TIMEOUT = Duration.ofSeconds(2);
    public static final String DEFAULT_TENANT_CLAIM = "tenant";
    public static final String DEFAULT_USER_CLAIM = "sub";
    static final Set<String> SUPPORTED_ALGORITHMS = Set.of("RS256", "ES256", "HS256");

    public JwtConfig {
        if (issuer == null || issuer.isBlank()) throw new IllegalArgumentException("auth.jwt.issuer is required (tokens of any other issuer are refused)");
        if (audience == null || audience.isBlank()) throw new IllegalArgumentException("auth.jwt.audience is required (tokens for another audience are refused)");
        if (hs256Secret != null && hs256Secret.isEmpty()) hs256Secret = null;
        if (jwksUrl != null && jwksUrl.isBlank()) jwksUrl = null;
        if (jwksUrl == null && hs256Secret == null) throw new IllegalArgumentException("auth.jwt needs jwksUrl (RS256/ES256) or hs256Secret (HS256)");
        if (hs256Secret != null && hs256Secret.getBytes(StandardCharsets.UTF_8).length < 32) {
            throw new IllegalArgumentException("auth.jwt.hs256Secret must be at least 32 bytes");
        }
        if (jwksUrl != null) checkJwksUrl(jwksUrl);
        if (algorithms == null || algorithms.isEmpty()) {
            algorithms = jwksUrl != null && hs256Secret != null ? List.of("RS256", "ES256", "HS256")
                    : jwksUrl != null ? List.of("RS256", "ES256") : List.of("HS256");
        }
        for (String a : algorithms) {
            if (!SUPPORTED_ALGORITHMS.contains(a)) throw new IllegalArgumentException("auth.jwt.algorithms: unsupported '" + a + "'; supported: RS256, ES256, HS256");
            if (a.equals("HS256") && hs256Secret == null) throw new IllegalArgumentException("auth.jwt.algorithms has HS256 but auth.jwt.hs256Secret is not set");
            if (!a.equals("HS256") && jwksUrl == null) throw new IllegalArgumentException("auth.jwt.algorithms has " + a + " but auth.jwt.jwksUrl is not set");
        }
        algorithms = List.copyOf(algorithms);
        clockSkew = dur("clockSkew", clockSkew, DEFAULT_CLOCK_SKEW, Duration.ZERO, Duration.ofMinutes(5));
        jwksCacheTtl = dur("jwksCacheTtl", jwksCacheTtl, DEFAULT_JWKS_CACHE_TTL, Duration.ofSeconds(1), Duration.ofDays(1));
        jwksRefreshInterval = dur("jwksRefreshInterval", jwksRefreshInterval, DEFAULT_JWKS_REFRESH_INTERVAL, Duration.ofMillis(100), Duration.ofHours(1));
        jwksTimeout = dur("jwksTimeout", jwksTimeout, DEFAULT_JWKS_TIMEOUT, Duration.ofMillis(100), Duration.ofMinutes(1));
        tenantClaim = tenantClaim == null || tenantClaim.isBlank() ? DEFAULT_TENANT_CLAIM : tenantClaim;
        userClaim = userClaim == null || userClaim.isBlank() ? DEFAULT_USER_CLAIM : userClaim;
    }

    /** An HS256 config with the defaults: for tests and simple setups. */
    public static JwtConfig hs256(String issuer, String audience, String secret) {
        return new JwtConfig(issuer, audience, null, secret, null, null, null, null, null, null, null, null, null, null, null);
    }

    /** A JWKS config with the defaults. */
    public static JwtConfig jwks(String issuer, String audience, String jwksUrl) {
        return new JwtConfig(issuer, audience, jwksUrl, null, null, null, null, null, null, null, null, null, null, null, null);
    }

    public JwtConfig withClaims(String projectClaim, String tierClaim, String modelsClaim, String adminClaim) {
        return new JwtConfig(issuer, audience, jwksUrl, hs256Secret, algorithms, clockSkew, jwksCacheTtl, jwksRefreshInterval, jwksTimeout,
                tenantClaim, userClaim, projectClaim, tierClaim, modelsClaim, adminClaim);
    }

    public JwtConfig withJwksRefreshInterval(Duration d) {
        return new JwtConfig(issuer, audience, jwksUrl, hs256Secret, algorithms, clockSkew, jwksCacheTtl, d, jwksTimeout,
                tenantClaim, userClaim, projectClaim, tierClaim, modelsClaim, adminClaim);
    }

    private static Duration dur(String key, Duration d, Duration def, Duration min, Duration max) {
        if (d == null) return def;
        if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
            throw new IllegalArgumentException("auth.jwt." + key + " must be in [" + min + ", " + max + "], got " + d);
        }
        return d;
    }

    private static void checkJwksUrl(String url) {
        URI u;
        try {
            u = new URI(url);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("auth.jwt.jwksUrl is not a URL: " + url);
        }
        if (u.getHost() == null) throw new IllegalArgumentException("auth.jwt.jwksUrl has no host: " + url);
        if ("https".equals(u.getScheme())) return;
        if ("http".equals(u.getScheme())) {
            try {
                if (InetAddress.getByName(u.getHost()).isLoopbackAddress()) return;
            } catch (java.net.UnknownHostException e) {
                // fall through
            }
            throw new IllegalArgumentException("auth.jwt.jwksUrl must be https (plain http only to a loopback address), got " + url);
        }
        throw new IllegalArgumentException("auth.jwt.jwksUrl must be an https URL, got " + url);
    }

    @Override
    public String toString() {
        return "JwtConfig[issuer=" + issuer + ", audience=" + audience + ", jwksUrl=" + jwksUrl + ", hs256Secret="
                + (hs256Secret == null ? "none" : "***") + ", algorithms=" + algorithms + ", clockSkew=" + clockSkew
                + ", tenantClaim=" + tenantClaim + ", userClaim=" + userClaim + "]";
    }
}
