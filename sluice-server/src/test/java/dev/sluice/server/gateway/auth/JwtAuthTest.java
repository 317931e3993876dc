package dev.sluice.server.gateway.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.server.Server;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import dev.sluice.server.config.SluiceConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import static dev.sluice.server.gateway.auth.AuthHarness.chat;
import static dev.sluice.server.gateway.auth.AuthHarness.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** JWT bearer tokens: RS256 and ES256 from a JWKS served by a tiny Armeria server (rotated mid-test), HS256 from a secret. */
class JwtAuthTest {
    static final String ISS = "https://issuer.example", AUD = "sluice-test";
    static final String SECRET = "0123456789abcdef0123456789abcdef-hs256-test-secret";

    @TempDir
    Path dir;
    final AtomicReference<String> jwks = new AtomicReference<>();
    final AtomicInteger jwksFetches = new AtomicInteger();
    Server jwksServer;
    AuthHarness h;
    RSAKey rsa1, rsa2, rsaOther;
    ECKey ec;
    final String tenant = AuthHarness.unique("jwt");

    @BeforeEach
    void start() throws Exception {
        rsa1 = new RSAKeyGenerator(2048).keyID("rsa-1").generate();
        rsa2 = new RSAKeyGenerator(2048).keyID("rsa-2").generate();
        rsaOther = new RSAKeyGenerator(2048).keyID("rsa-1").generate(); // same kid, other key: a forged signature
        ec = new ECKeyGenerator(Curve.P_256).keyID("ec-1").generate();
        publish(rsa1, ec);
        jwksServer = Server.builder().http(new java.net.InetSocketAddress("127.0.0.1", 0))
                .service("/jwks", (ctx, req) -> {
                    jwksFetches.incrementAndGet();
                    return HttpResponse.of(com.linecorp.armeria.common.HttpStatus.OK, MediaType.JSON_UTF_8, jwks.get());
                }).build();
        jwksServer.start().join();
        JwtConfig jwt = new JwtConfig(ISS, AUD, "http://127.0.0.1:" + jwksServer.activeLocalPort() + "/jwks", SECRET, List.of("RS256", "ES256", "HS256"),
                null, null, Duration.ofMillis(200), null, null, null, null, null, null, null)
                .withClaims("project", "tier", "models", "sluice_admin");
        h = new AuthHarness(new SluiceConfig(AuthHarness.h2(dir), null, AuthConfig.defaults().withJwt(jwt), null, null, null, null), false);
    }

    @AfterEach
    void stop() {
        if (h != null) h.close();
        if (jwksServer != null) jwksServer.stop().join();
    }

    void publish(JWK... keys) {
        jwks.set(new JWKSet(List.of(keys)).toPublicJWKSet().toString());
    }

    JWTClaimsSet.Builder claims() {
        Instant now = Instant.now();
        return new JWTClaimsSet.Builder().issuer(ISS).audience(AUD).subject("alice").claim("tenant", tenant)
                .issueTime(Date.from(now)).expirationTime(Date.from(now.plusSeconds(300)));
    }

    static String sign(JWSSigner signer, JWSAlgorithm alg, String kid, JWTClaimsSet claims) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(alg).keyID(kid).type(JOSEObjectType.JWT).build(), claims);
        jwt.sign(signer);
        return jwt.serialize();
    }

    String rs(RSAKey k, JWTClaimsSet c) throws Exception {
        return sign(new RSASSASigner(k), JWSAlgorithm.RS256, k.getKeyID(), c);
    }

    String rs(Consumer<JWTClaimsSet.Builder> edit) throws Exception {
        JWTClaimsSet.Builder b = claims();
        edit.accept(b);
        return rs(rsa1, b.build());
    }

    AggregatedHttpResponse chatWith(String token, String model) {
        return h.bearer(HttpMethod.POST, "/v1/chat/completions", token, chat(model));
    }

    @Test
    void rs256Es256AndHs256TokensAuthenticateAndMapClaims() throws Exception {
        String r = rs(rsa1, claims().build());
        String e = sign(new ECDSASigner(ec), JWSAlgorithm.ES256, "ec-1", claims().build());
        String hs = sign(new MACSigner(SECRET), JWSAlgorithm.HS256, null, claims().build());
        for (String t : List.of(r, e, hs)) {
            AggregatedHttpResponse ok = chatWith(t, AuthHarness.RESTRICTED);
            assertThat(ok.status().code()).as(ok.contentUtf8()).isEqualTo(200);
        }
        // the models claim restricts, the admin claim grants the admin API (scoped to the token's tenant)
        String limited = rs(b -> b.claim("models", List.of("fake")));
        assertThat(chatWith(limited, AuthHarness.OPEN).status().code()).isEqualTo(200);
        AuthScenario.assertError(chatWith(limited, AuthHarness.RESTRICTED), 404, "model_not_found", "models claim");
        assertThat(json(h.bearer(HttpMethod.GET, "/v1/models", limited, null)).path("data")).hasSize(1);
        AuthScenario.assertError(h.bearer(HttpMethod.GET, "/admin/v1/keys", r, null), 403, "permission_denied", "no admin claim");
        String admin = rs(b -> b.claim("sluice_admin", true));
        AggregatedHttpResponse keys = h.bearer(HttpMethod.GET, "/admin/v1/keys", admin, null);
        assertThat(keys.status().code()).as(keys.contentUtf8()).isEqualTo(200);
        AuthScenario.assertError(h.bearer(HttpMethod.GET, "/admin/v1/tenants/default", admin, null), 404, "not_found", "other tenant via JWT admin");
        AuthScenario.assertError(h.bearer(HttpMethod.GET, "/metrics", admin, null), 403, "permission_denied", "metrics for a tenant's JWT admin");
    }

    @Test
    void everyRouteRefusesExpiredWrongAudienceWrongIssuerFutureNbfBadSignatureAndAlgNone() throws Exception {
        Instant now = Instant.now();
        Map<String, String> bad = new java.util.LinkedHashMap<>();
        bad.put("expired", rs(b -> b.expirationTime(Date.from(now.minusSeconds(600)))));
        bad.put("no exp", rs(b -> b.expirationTime(null)));
        bad.put("wrong audience", rs(b -> b.audience("someone-else")));
        bad.put("wrong issuer", rs(b -> b.issuer("https://evil.example")));
        bad.put("nbf in the future", rs(b -> b.notBeforeTime(Date.from(now.plusSeconds(600)))));
        bad.put("no tenant", rs(b -> b.claim("tenant", null)));
        bad.put("bad signature", rs(rsaOther, claims().build()));
        bad.put("unknown kid", sign(new RSASSASigner(rsaOther), JWSAlgorithm.RS256, "nobody", claims().build()));
        bad.put("alg none", new PlainJWT(claims().build()).serialize());
        bad.put("hs256 other secret", sign(new MACSigner(SECRET.replace('0', '1')), JWSAlgorithm.HS256, null, claims().build()));
        String good = rs(rsa1, claims().build());
        bad.put("tampered payload", good.substring(0, good.indexOf('.') + 1) + java.util.Base64.getUrlEncoder().withoutPadding()
                .encodeToString(claims().claim("tenant", "default").claim("sluice_admin", true).build().toString().getBytes()) + good.substring(good.lastIndexOf('.')));
        bad.put("garbage", "aaaa.bbbb.cccc");
        for (AuthScenario.Route route : AuthScenario.ROUTES) {
            for (var e : bad.entrySet()) {
                AggregatedHttpResponse r = h.bearer(route.method(), route.path(), e.getValue(), route.body());
                String code = e.getKey().equals("alg none") || e.getKey().equals("garbage") ? null : "invalid_token";
                assertThat(r.status().code()).as(e.getKey() + " on " + route.path() + ": " + r.contentUtf8()).isEqualTo(401);
                JsonNode err = json(r).path("error");
                assertThat(err.path("code").asText()).as(e.getKey()).isIn("invalid_token", "invalid_api_key");
                if (code != null) assertThat(err.path("code").asText()).as(e.getKey()).isEqualTo(code);
                assertThat(r.contentUtf8()).doesNotContain(e.getValue());
            }
            assertThat(h.bearer(route.method(), route.path(), good, route.body()).status().code()).as(route.path()).isNotEqualTo(401);
        }
        // within the clock skew (60 s) an just-expired token still passes
        assertThat(chatWith(rs(b -> b.expirationTime(Date.from(now.minusSeconds(20)))), AuthHarness.OPEN).status().code()).isEqualTo(200);
    }

    @Test
    void jwksRotationNewKeysVerifyAfterRefreshAndRemovedKeysStopVerifying() throws Exception {
        String old = rs(rsa1, claims().build());
        assertThat(chatWith(old, AuthHarness.OPEN).status().code()).isEqualTo(200);
        int fetches = jwksFetches.get();
        assertThat(fetches).isGreaterThanOrEqualTo(1);
        // cached: more tokens of the same key do not fetch again
        for (int i = 0; i < 5; i++) assertThat(chatWith(rs(rsa1, claims().build()), AuthHarness.OPEN).status().code()).isEqualTo(200);
        assertThat(jwksFetches.get()).isEqualTo(fetches);
        publish(rsa2, ec); // the issuer rotates: rsa-1 is gone, rsa-2 is new
        String fresh = rs(rsa2, claims().build());
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100)).until(() -> chatWith(fresh, AuthHarness.OPEN).status().code() == 200);
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100)).until(() -> chatWith(old, AuthHarness.OPEN).status().code() == 401);
        AuthScenario.assertError(chatWith(old, AuthHarness.OPEN), 401, "invalid_token", "rotated-out key");
        // tokens with made-up kids cannot make the gateway hammer the issuer: fetches are rate-limited
        int before = jwksFetches.get();
        for (int i = 0; i < 20; i++) chatWith(sign(new RSASSASigner(rsaOther), JWSAlgorithm.RS256, "made-up-" + i, claims().build()), AuthHarness.OPEN);
        assertThat(jwksFetches.get() - before).isLessThanOrEqualTo(10);
    }
}
