package dev.sluice.server.gateway.auth;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.linecorp.armeria.common.HttpMethod;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.config.ConfigException;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.GatewayAssembly;
import dev.sluice.server.gateway.Principal;
import dev.sluice.server.openai.FakeModel;
import dev.sluice.server.openai.OpenAiService;
import dev.sluice.server.store.LazyStore;
import dev.sluice.server.store.Store;
import dev.sluice.server.store.StoreConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static dev.sluice.server.gateway.auth.AuthHarness.chat;
import static dev.sluice.server.gateway.auth.AuthHarness.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The start-up rules: loopback-only without credentials, --no-auth beyond it, and enforcement once a credential exists (never undone). */
class AuthStartupTest {
    @TempDir
    Path dir;

    SluiceConfig config(AuthConfig auth) {
        return new SluiceConfig(AuthHarness.h2(dir), null, auth, null, null, null, null);
    }

    /** Builds (but does not bind) a gateway for a server on {@code host}. */
    GatewayAssembly build(SluiceConfig cfg, String host, boolean noAuth) {
        ServerConfig server = ServerConfig.defaults().withHost(host).withPort(0);
        OpenAiService worker = new OpenAiService(List.of(new FakeModel("fake", "hi", "", 512)), new ServerMetrics(), server);
        return GatewayAssembly.build(cfg, null, server, new ServerMetrics(), worker, noAuth);
    }

    @Test
    void withNoCredentialsBindingBeyondLoopbackIsRefusedUnlessNoAuth() {
        assertThatThrownBy(() -> build(config(AuthConfig.defaults()), "0.0.0.0", false)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("refusing to serve on 0.0.0.0 without authentication").hasMessageContaining("--no-auth")
                .hasMessageContaining("sluice keys create");
        // the refusal did not create the store file: nothing to check meant nothing opened
        assertThat(Files.exists(dir.resolve("sluice.mv.db"))).isFalse();
        ListAppender<ILoggingEvent> logs = capture();
        try (GatewayAssembly a = build(config(AuthConfig.defaults()), "0.0.0.0", true)) {
            assertThat(a).isNotNull();
        } finally {
            release(logs);
        }
        assertThat(logs.list).anyMatch(e -> e.getLevel() == ch.qos.logback.classic.Level.WARN && e.getFormattedMessage().contains("AUTHENTICATION IS OFF"));
        // loopback needs nothing; JWT or the bootstrap admin token make 0.0.0.0 fine
        build(config(AuthConfig.defaults()), "127.0.0.1", false).close();
        build(config(AuthConfig.defaults()), "localhost", false).close();
        build(config(AuthConfig.defaults().withJwt(JwtConfig.hs256("https://i", "a", "x".repeat(32)))), "0.0.0.0", false).close();
        build(config(AuthConfig.defaults().withAdminKeySha256(AuthHarness.sha256Hex("t".repeat(40)))), "0.0.0.0", false).close();
    }

    @Test
    void anActiveKeyInTheStoreMakesBindingBeyondLoopbackFineAndRevokedOnesDoNot() {
        String revokedId;
        try (Store s = Store.open(AuthHarness.h2(dir))) {
            IdentityStore ids = new IdentityStore(s);
            revokedId = ids.createKey(new IdentityStore.KeySpec("default", null, null, "old", null, null, true, null)).row().prefix();
            ids.revokeKey(revokedId);
        }
        assertThatThrownBy(() -> build(config(AuthConfig.defaults()), "0.0.0.0", false)).isInstanceOf(ConfigException.class);
        try (Store s = Store.open(AuthHarness.h2(dir))) {
            new IdentityStore(s).createKey(new IdentityStore.KeySpec("default", null, null, "ops", null, null, true, null));
        }
        build(config(AuthConfig.defaults()), "0.0.0.0", false).close();
    }

    @Test
    void loopbackServesAnonymouslyUntilTheFirstKeyThenEnforcesForGood() {
        try (AuthHarness h = new AuthHarness(config(AuthConfig.defaults()), false)) {
            assertThat(h.call(HttpMethod.POST, "/v1/chat/completions", null, chat("fake")).status().code()).isEqualTo(200);
            assertThat(h.call(HttpMethod.GET, "/metrics", "Bearer whatever-the-sdk-sends", null).status().code()).isEqualTo(200);
            // the anonymous operator creates the first key through the admin API: enforcement starts with the next request
            var r = h.call(HttpMethod.POST, "/admin/v1/keys", null, "{\"name\":\"first\",\"admin\":true}");
            assertThat(r.status().code()).as(r.contentUtf8()).isEqualTo(201);
            JsonNode key = json(r);
            AuthScenario.assertError(h.call(HttpMethod.POST, "/v1/chat/completions", null, chat("fake")), 401, "invalid_api_key", "after the first key");
            String k = key.get("key").asText();
            assertThat(h.bearer(HttpMethod.POST, "/v1/chat/completions", k, chat("fake")).status().code()).isEqualTo(200);
            // revoking every key does not turn authentication off again
            assertThat(h.bearer(HttpMethod.POST, "/admin/v1/keys/" + key.get("id").asText() + "/revoke", k, "").status().code()).isEqualTo(200);
            AuthScenario.assertError(h.call(HttpMethod.POST, "/v1/chat/completions", null, chat("fake")), 401, "invalid_api_key", "after revoking all");
        }
    }

    @Test
    void aKeyCreatedByAnotherProcessIsNoticedWithinTheCacheTtl() {
        StoreConfig sc = AuthHarness.h2(dir);
        try (Store s = Store.open(sc)) { // the store exists, with no keys
            try (AuthHarness h = new AuthHarness(config(AuthConfig.defaults().withKeyCacheTtl(Duration.ofSeconds(1))), false)) {
                assertThat(h.call(HttpMethod.GET, "/v1/models", null, null).status().code()).isEqualTo(200);
                String key = new IdentityStore(s).createKey(new IdentityStore.KeySpec("default", null, null, "cli", null, null, false, null)).key();
                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200))
                        .until(() -> h.call(HttpMethod.GET, "/v1/models", null, null).status().code() == 401);
                assertThat(h.bearer(HttpMethod.GET, "/v1/models", key, null).status().code()).isEqualTo(200);
            }
        }
    }

    @Test
    void noAuthServesEveryoneAsTheAnonymousOperatorEvenWithCredentialsConfigured() {
        AuthConfig auth = AuthConfig.defaults().withAdminKeySha256(AuthHarness.sha256Hex("t".repeat(40)));
        try (AuthHarness h = new AuthHarness(config(auth), true)) {
            assertThat(h.call(HttpMethod.POST, "/v1/chat/completions", null, chat("fake")).status().code()).isEqualTo(200);
            JsonNode tenants = json(h.call(HttpMethod.GET, "/admin/v1/tenants", null, null));
            assertThat(tenants.path("data")).extracting(t -> t.path("id").asText()).contains(Principal.DEFAULT_TENANT);
        }
    }

    @Test
    void configValidationNamesTheKey() {
        assertThatThrownBy(() -> SluiceConfig.parse("auth:\n  adminKeySha256: nothex\n", java.util.Map.of(), "t.yaml"))
                .hasMessageContaining("auth.adminKeySha256");
        assertThatThrownBy(() -> SluiceConfig.parse("auth:\n  jwt:\n    issuer: https://i\n    audience: a\n    hs256Secret: short\n", java.util.Map.of(), "t.yaml"))
                .hasMessageContaining("auth.jwt.hs256Secret");
        assertThatThrownBy(() -> SluiceConfig.parse("auth:\n  jwt:\n    audience: a\n    hs256Secret: ${S}\n", java.util.Map.of("S", "x".repeat(40)), "t.yaml"))
                .hasMessageContaining("auth.jwt.issuer");
        assertThatThrownBy(() -> SluiceConfig.parse("auth:\n  jwt:\n    issuer: i\n    audience: a\n    jwksUrl: http://idp.example.com/jwks\n", java.util.Map.of(), "t.yaml"))
                .hasMessageContaining("https");
        assertThatThrownBy(() -> SluiceConfig.parse("auth:\n  keyCacheTtl: PT1H\n", java.util.Map.of(), "t.yaml")).hasMessageContaining("auth.keyCacheTtl");
        assertThatThrownBy(() -> SluiceConfig.parse("auth:\n  jwt:\n    issuer: i\n    audience: a\n    hs256Secret: ${S}\n    algorithms: [none]\n",
                java.util.Map.of("S", "x".repeat(40)), "t.yaml")).hasMessageContaining("unsupported 'none'");
        SluiceConfig ok = SluiceConfig.parse("auth:\n  keyCacheTtl: 5\n  jwt:\n    issuer: i\n    audience: a\n    hs256Secret: ${S}\n    clockSkew: PT10S\n",
                java.util.Map.of("S", "x".repeat(40)), "t.yaml");
        assertThat(ok.auth().keyCacheTtl()).isEqualTo(Duration.ofSeconds(5));
        assertThat(ok.auth().jwt().algorithms()).containsExactly("HS256");
        assertThat(ok.auth().jwt().tenantClaim()).isEqualTo(JwtConfig.DEFAULT_TENANT_CLAIM);
        assertThat(ok.auth().toString()).doesNotContain("x".repeat(40));
        AuthConfig d = AuthConfig.defaults();
        assertThat(d.keyCacheTtl()).isEqualTo(AuthConfig.DEFAULT_KEY_CACHE_TTL);
        assertThat(d.jwt()).isNull();
        assertThat(new LazyStore(AuthHarness.h2(dir)).mayHoldData()).isFalse();
    }

    static ListAppender<ILoggingEvent> capture() {
        ListAppender<ILoggingEvent> a = new ListAppender<>();
        a.start();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(a);
        return a;
    }

    static void release(ListAppender<ILoggingEvent> a) {
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(a);
        a.stop();
    }
}
