package dev.sluice.server.gateway.auth;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.StackTraceElementProxy;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.linecorp.armeria.common.HttpMethod;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.sluice.server.config.SluiceConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;

import static dev.sluice.server.gateway.auth.AuthHarness.chat;
import static dev.sluice.server.gateway.auth.AuthHarness.json;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A whole run with every log line captured (DEBUG for Sluice and Armeria): start-up, keys created
 * through the admin API, authenticated, failed, revoked and JWT requests, shutdown. No key, secret,
 * hash, token or HMAC secret may appear in any message, argument, exception or stack trace.
 */
class NoSecretsInLogsTest {
    static final String HS_SECRET = "log-test-hs256-secret-0123456789abcdef-0123456789";

    @TempDir
    Path dir;

    @Test
    void aFullRunLogsNoKeyHashOrToken() throws Exception {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Logger sluice = (Logger) LoggerFactory.getLogger("dev.sluice"), armeria = (Logger) LoggerFactory.getLogger("com.linecorp.armeria");
        Level sluiceLevel = sluice.getLevel(), armeriaLevel = armeria.getLevel();
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        root.addAppender(logs);
        sluice.setLevel(Level.DEBUG);
        armeria.setLevel(Level.DEBUG);
        List<String> secrets = new ArrayList<>();
        String adminToken = "admin-token-" + java.util.UUID.randomUUID() + "-" + java.util.UUID.randomUUID();
        secrets.add(adminToken);
        secrets.add(AuthHarness.sha256Hex(adminToken));
        secrets.add(HS_SECRET);
        List<String> prefixes = new ArrayList<>();
        try {
            AuthConfig auth = AuthConfig.defaults().withAdminKeySha256(AuthHarness.sha256Hex(adminToken))
                    .withJwt(JwtConfig.hs256("https://issuer.example", "sluice", HS_SECRET));
            try (AuthHarness h = new AuthHarness(new SluiceConfig(AuthHarness.h2(dir), null, auth, null, null, null, null), false)) {
                String tenant = AuthHarness.unique("logs");
                assertThat(h.bearer(HttpMethod.POST, "/admin/v1/tenants", adminToken, "{\"id\":\"" + tenant + "\"}").status().code()).isEqualTo(201);
                List<String> keys = new ArrayList<>();
                for (String body : List.of("{\"tenant\":\"" + tenant + "\"}", "{\"tenant\":\"" + tenant + "\",\"admin\":true}", "{\"tenant\":\"" + tenant + "\",\"models\":[\"fake\"]}")) {
                    JsonNode k = json(h.bearer(HttpMethod.POST, "/admin/v1/keys", adminToken, body));
                    keys.add(k.get("key").asText());
                    prefixes.add(k.get("id").asText());
                }
                for (String k : keys) {
                    ApiKeys.Parsed p = ApiKeys.parse(k);
                    secrets.add(k);
                    secrets.add(p.secret());
                    secrets.add(AuthHarness.sha256Hex(p.secret()));
                    assertThat(h.bearer(HttpMethod.POST, "/v1/chat/completions", k, chat("fake")).status().code()).isEqualTo(200);
                    h.bearer(HttpMethod.POST, "/v1/chat/completions", k, chat("fake").replace("}]}", "}],\"stream\":true}"));
                    h.bearer(HttpMethod.POST, "/v1/chat/completions", k, chat(AuthHarness.RESTRICTED));
                    h.bearer(HttpMethod.GET, "/admin/v1/keys", k, null);
                    h.bearer(HttpMethod.GET, "/metrics", k, null);
                    h.bearer(HttpMethod.POST, "/v1/chat/completions", k.substring(0, k.length() - 1) + "a", chat("fake")); // wrong secret
                    h.bearer(HttpMethod.POST, "/v1/chat/completions", k + "zz", chat("fake")); // malformed
                    h.bearer(HttpMethod.POST, "/v1/chat/completions", k, "{not json"); // a failing request with a good key
                }
                h.bearer(HttpMethod.POST, "/admin/v1/keys/" + prefixes.getFirst() + "/revoke", adminToken, "");
                h.bearer(HttpMethod.POST, "/v1/chat/completions", keys.getFirst(), chat("fake")); // revoked
                Instant now = Instant.now();
                for (Instant exp : List.of(now.plusSeconds(300), now.minusSeconds(600))) {
                    String jwt = JwtAuthTest.sign(new MACSigner(HS_SECRET), JWSAlgorithm.HS256, null, new JWTClaimsSet.Builder()
                            .issuer("https://issuer.example").audience("sluice").subject("bob").claim("tenant", tenant).expirationTime(Date.from(exp)).build());
                    secrets.add(jwt);
                    secrets.add(jwt.substring(jwt.lastIndexOf('.') + 1)); // the signature
                    h.bearer(HttpMethod.POST, "/v1/chat/completions", jwt, chat("fake"));
                    h.bearer(HttpMethod.GET, "/admin/v1/tenants", jwt, null);
                }
                String forged = JwtAuthTest.sign(new MACSigner(HS_SECRET.replace('0', '9')), JWSAlgorithm.HS256, null, new JWTClaimsSet.Builder()
                        .issuer("https://issuer.example").audience("sluice").claim("tenant", "default").expirationTime(Date.from(now.plusSeconds(60))).build());
                secrets.add(forged);
                h.bearer(HttpMethod.GET, "/v1/models", forged, null);
                h.call(HttpMethod.GET, "/v1/models", "Basic " + java.util.Base64.getEncoder().encodeToString(("user:" + adminToken).getBytes()), null);
                h.bearer(HttpMethod.GET, "/v1/models", adminToken + "-wrong", null);
            }
        } finally {
            root.detachAppender(logs);
            sluice.setLevel(sluiceLevel);
            armeria.setLevel(armeriaLevel);
            logs.stop();
        }
        List<String> lines = new ArrayList<>();
        for (ILoggingEvent e : logs.list) lines.add(render(e));
        String all = String.join("\n", lines);
        assertThat(lines).as("the run was captured").hasSizeGreaterThan(20);
        // the capture saw auth at work: refusals are logged with the key's public id only
        assertThat(all).contains("auth: ").contains(prefixes.getFirst());
        for (String s : secrets) assertThat(all).as("a secret leaked into the logs").doesNotContain(s);
    }

    private static String render(ILoggingEvent e) {
        StringBuilder b = new StringBuilder(e.getLoggerName()).append(' ').append(e.getFormattedMessage());
        if (e.getArgumentArray() != null) for (Object a : e.getArgumentArray()) b.append(' ').append(a);
        b.append(' ').append(e.getMDCPropertyMap());
        for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
            b.append(' ').append(t.getClassName()).append(": ").append(t.getMessage());
            for (StackTraceElementProxy s : t.getStackTraceElementProxyArray()) b.append(' ').append(s.getSTEAsString());
        }
        return b.toString();
    }
}
