package dev.sluice.server.gateway.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.JWSKeySelector;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.jwk.source.ImmutableSecret;
import com.nimbusds.jose.util.DefaultResourceRetriever;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import dev.sluice.server.gateway.Principal;

import java.net.MalformedURLException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Verifies JWT bearer tokens and maps their claims to a {@link Principal}.
 *
 * <p>Design note: nimbus-jose-jwt does the cryptography and the claim checks. The accepted
 * algorithms are exactly {@link JwtConfig#algorithms()}: RS256/ES256 keys come from the JWKS URL
 * through nimbus' {@link JWKSourceBuilder} (cached for {@code jwksCacheTtl}, refreshed on an unknown
 * {@code kid}, at most once per {@code jwksRefreshInterval}, with bounded connect/read timeouts and
 * size), HS256 from the configured secret. Unsecured ({@code alg: none}) tokens are always refused
 * by the processor. {@code iss} must equal the issuer, {@code aud} must contain the audience,
 * {@code exp} is required, and {@code exp}/{@code nbf} are checked with the configured clock skew.
 * Thread-safe; {@link #verify} may block on a JWKS fetch, so call it from a blocking executor.
 */
final class JwtVerifier {
    /** Largest JWKS document fetched: 512 KiB (real ones are a few KiB). */
    static final int MAX_JWKS_BYTES = 512 << 10;

    private final JwtConfig config;
    private final DefaultJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();

    JwtVerifier(JwtConfig config) {
        this.config = config;
        Set<JWSAlgorithm> asymmetric = new LinkedHashSet<>();
        boolean hs = false;
        for (String a : config.algorithms()) {
            if (a.equals("HS256")) hs = true;
            else asymmetric.add(JWSAlgorithm.parse(a));
        }
        List<JWSKeySelector<SecurityContext>> selectors = new ArrayList<>();
        if (!asymmetric.isEmpty()) {
            int timeout = (int) config.jwksTimeout().toMillis();
            JWKSource<SecurityContext> jwks;
            try {
                jwks = JWKSourceBuilder.<SecurityContext>create(URI.create(config.jwksUrl()).toURL(), new DefaultResourceRetriever(timeout, timeout, MAX_JWKS_BYTES))
                        .cache(config.jwksCacheTtl().toMillis(), config.jwksTimeout().toMillis())
                        .rateLimited(config.jwksRefreshInterval().toMillis())
                        .retrying(false)
                        .build();
            } catch (MalformedURLException e) {
                throw new IllegalArgumentException("auth.jwt.jwksUrl: " + e.getMessage(), e);
            }
            selectors.add(new JWSVerificationKeySelector<>(asymmetric, jwks));
        }
        if (hs) {
            selectors.add(new JWSVerificationKeySelector<>(JWSAlgorithm.HS256, new ImmutableSecret<>(config.hs256Secret().getBytes(StandardCharsets.UTF_8))));
        }
        processor.setJWSKeySelector(selectors.size() == 1 ? selectors.getFirst() : (header, ctx) -> {
            for (JWSKeySelector<SecurityContext> s : selectors) {
                var keys = s.selectJWSKeys(header, ctx);
                if (!keys.isEmpty()) return keys;
            }
            return List.of();
        });
        DefaultJWTClaimsVerifier<SecurityContext> claims = new DefaultJWTClaimsVerifier<>(config.audience(),
                new JWTClaimsSet.Builder().issuer(config.issuer()).build(), new HashSet<>(List.of("exp", config.tenantClaim())));
        claims.setMaxClockSkew((int) config.clockSkew().toSeconds());
        processor.setJWTClaimsSetVerifier(claims);
    }

    /** Verifies {@code token}; throws {@link AuthException} (401 {@code invalid_token}) naming what failed, never echoing the token. */
    Principal verify(String token) {
        JWTClaimsSet c;
        try {
            c = processor.process(token, null);
        } catch (ParseException e) {
            throw AuthException.invalidToken("the bearer token is not a well-formed JWT");
        } catch (BadJOSEException e) {
            throw AuthException.invalidToken("the JWT was refused: " + reason(e));
        } catch (JOSEException e) {
            throw AuthException.invalidToken("the JWT could not be verified: " + e.getClass().getSimpleName());
        }
        String tenant = string(c, config.tenantClaim());
        if (tenant == null || tenant.isBlank()) throw AuthException.invalidToken("the JWT has no '" + config.tenantClaim() + "' claim");
        String user = string(c, config.userClaim());
        String project = config.projectClaim() == null ? null : string(c, config.projectClaim());
        String tier = config.tierClaim() == null ? null : string(c, config.tierClaim());
        Set<String> models = config.modelsClaim() == null ? Set.of() : models(c, config.modelsClaim());
        boolean admin = false;
        if (config.adminClaim() != null) {
            Object a = c.getClaim(config.adminClaim());
            admin = Boolean.TRUE.equals(a) || "true".equals(a);
        }
        return new Principal(tenant, project, null, user, tier, models, admin);
    }

    /** A short reason without token contents: nimbus' messages name the failed check (expired, audience, issuer, signature). */
    private static String reason(BadJOSEException e) {
        String m = e.getMessage();
        if (m == null) return e.getClass().getSimpleName();
        return m.length() > 200 ? m.substring(0, 200) : m;
    }

    private static String string(JWTClaimsSet c, String claim) {
        Object v = c.getClaim(claim);
        if (v == null) return null;
        if (v instanceof String s) return s;
        if (v instanceof Number || v instanceof Boolean) return v.toString();
        return null;
    }

    private static Set<String> models(JWTClaimsSet c, String claim) {
        Object v = c.getClaim(claim);
        if (v instanceof String s) return s.isBlank() ? Set.of() : Set.of(s.trim().split("\\s+"));
        if (v instanceof List<?> l) {
            Set<String> out = new HashSet<>();
            for (Object o : l) if (o instanceof String s) out.add(s);
            return out;
        }
        return Set.of();
    }
}
