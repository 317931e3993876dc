package dev.sluice.server.gateway.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.NotFoundException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.models.Model;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.store.StoreConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.sluice.server.gateway.auth.AuthHarness.chat;
import static dev.sluice.server.gateway.auth.AuthHarness.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Deny by default, API keys and the identity admin API, end to end through a real server and a
 * real store: {@link H2AuthTest} runs it on the embedded H2 file, {@link PostgresAuthTest} on this
 * machine's PostgreSQL. Every tenant id is unique per run.
 */
abstract class AuthScenario {
    /** Every route of the server but /health/live, with a body where it takes one. */
    record Route(HttpMethod method, String path, String body) {}

    static final List<Route> ROUTES = List.of(
            new Route(HttpMethod.POST, "/v1/chat/completions", chat(AuthHarness.OPEN)),
            new Route(HttpMethod.POST, "/v1/completions", "{\"model\":\"fake\",\"prompt\":\"hi\"}"),
            new Route(HttpMethod.GET, "/v1/models", null),
            new Route(HttpMethod.GET, "/v1/models/fake", null),
            new Route(HttpMethod.POST, "/tokenize", "{\"model\":\"fake\",\"prompt\":\"abc\"}"),
            new Route(HttpMethod.POST, "/detokenize", "{\"model\":\"fake\",\"tokens\":[104,105]}"),
            new Route(HttpMethod.GET, "/v1/ws", null),
            new Route(HttpMethod.GET, "/metrics", null),
            new Route(HttpMethod.GET, "/health/ready", null),
            new Route(HttpMethod.GET, "/admin/v1/tenants", null),
            new Route(HttpMethod.POST, "/admin/v1/tenants", "{\"id\":\"intruder\"}"),
            new Route(HttpMethod.GET, "/admin/v1/keys", null),
            new Route(HttpMethod.POST, "/admin/v1/keys", "{\"tenant\":\"default\",\"admin\":true}"),
            new Route(HttpMethod.GET, "/admin/v1/tenants/default/users", null),
            new Route(HttpMethod.GET, "/no/such/route", null));

    final String adminToken = "adm-" + java.util.UUID.randomUUID() + java.util.UUID.randomUUID();
    final String tenantA = AuthHarness.unique("acme"), tenantB = AuthHarness.unique("globex");
    AuthHarness h;
    /** A's key for the open model only; A's admin key; B's key for every model; A's revoked and expired keys. */
    String keyA, adminA, keyB, revoked, expired;
    String keyAId;

    abstract StoreConfig store();

    @BeforeEach
    void start() {
        SluiceConfig cfg = new SluiceConfig(store(), null, AuthConfig.defaults().withAdminKeySha256(AuthHarness.sha256Hex(adminToken)), null, null, null, null);
        h = new AuthHarness(cfg, false);
        assertThat(post("/admin/v1/tenants", adminToken, "{\"id\":\"" + tenantA + "\",\"name\":\"Acme\"}").status().code()).isEqualTo(201);
        assertThat(post("/admin/v1/tenants", adminToken, "{\"id\":\"" + tenantB + "\"}").status().code()).isEqualTo(201);
        JsonNode a = created(adminToken, "{\"tenant\":\"" + tenantA + "\",\"name\":\"a\",\"models\":[\"fake\"]}");
        keyA = a.get("key").asText();
        keyAId = a.get("id").asText();
        adminA = created(adminToken, "{\"tenant\":\"" + tenantA + "\",\"name\":\"a-admin\",\"admin\":true}").get("key").asText();
        keyB = created(adminToken, "{\"tenant\":\"" + tenantB + "\",\"name\":\"b\",\"tier\":\"gold\"}").get("key").asText();
        JsonNode r = created(adminToken, "{\"tenant\":\"" + tenantA + "\",\"name\":\"to-revoke\"}");
        revoked = r.get("key").asText();
        assertThat(post("/admin/v1/keys/" + r.get("id").asText() + "/revoke", adminToken, "").status().code()).isEqualTo(200);
        expired = created(adminToken, "{\"tenant\":\"" + tenantA + "\",\"expires_at\":\"2020-01-01T00:00:00Z\"}").get("key").asText();
    }

    @AfterEach
    void stop() {
        if (h != null) h.close();
    }

    AggregatedHttpResponse post(String path, String token, String body) {
        return h.bearer(HttpMethod.POST, path, token, body);
    }

    AggregatedHttpResponse get(String path, String token) {
        return h.bearer(HttpMethod.GET, path, token, null);
    }

    JsonNode created(String token, String body) {
        AggregatedHttpResponse r = post("/admin/v1/keys", token, body);
        assertThat(r.status().code()).as(r.contentUtf8()).isEqualTo(201);
        return json(r);
    }

    static void assertError(AggregatedHttpResponse r, int status, String code, String context) {
        assertThat(r.status().code()).as(context + ": " + r.contentUtf8()).isEqualTo(status);
        JsonNode e = json(r).path("error");
        assertThat(e.path("code").asText()).as(context).isEqualTo(code);
        assertThat(e.path("type").asText()).as(context).isEqualTo("invalid_request_error");
        assertThat(e.path("message").asText()).as(context).isNotBlank();
    }

    @Test
    void everyRouteRefusesMissingMalformedUnknownRevokedAndExpiredCredentials() {
        String wrongSecret = keyA.substring(0, keyA.length() - 4) + (keyA.endsWith("aaaa") ? "bbbb" : "aaaa");
        List<String> bad = new ArrayList<>(List.of("Basic dXNlcjpwYXNz", "Bearer ", "Bearer not-a-key", "Bearer sk-sluice-short",
                "Bearer " + wrongSecret, "Bearer " + revoked, "Bearer " + expired, "Bearer " + keyA + "x",
                "Bearer eyJhbGciOiJub25lIn0.eyJ0ZW5hbnQiOiJkZWZhdWx0In0.", "Bearer " + adminToken + "x", adminToken));
        for (Route route : ROUTES) {
            AggregatedHttpResponse none = h.call(route.method(), route.path(), null, route.body());
            assertError(none, 401, "invalid_api_key", "no credential on " + route.path());
            assertThat(none.headers().get("www-authenticate")).startsWith("Bearer");
            for (String authz : bad) {
                AggregatedHttpResponse r = h.call(route.method(), route.path(), authz, route.body());
                assertError(r, 401, "invalid_api_key", authz + " on " + route.path());
                String token = authz.startsWith("Bearer ") ? authz.substring(7).strip() : authz;
                if (token.length() > 8) assertThat(r.contentUtf8()).doesNotContain(token);
            }
            // the same route with the operator's credential gets past authentication (so the refusals above were auth's)
            AggregatedHttpResponse ok = h.bearer(route.method(), route.path(), adminToken, route.body());
            assertThat(ok.status().code()).as("operator on " + route.path()).isNotIn(401, 403);
        }
    }

    @Test
    void theWebSocketUpgradeNeedsACredential() throws Exception {
        java.net.URI uri = java.net.URI.create("ws://127.0.0.1:" + h.server.port() + "/v1/ws");
        java.net.http.WebSocket.Listener listener = new java.net.http.WebSocket.Listener() {};
        for (String authz : new String[] {null, "Bearer " + revoked, "Bearer junk"}) {
            var b = java.net.http.HttpClient.newHttpClient().newWebSocketBuilder();
            if (authz != null) b.header("Authorization", authz);
            assertThatThrownBy(() -> b.buildAsync(uri, listener).join()).as(String.valueOf(authz))
                    .hasCauseInstanceOf(java.net.http.WebSocketHandshakeException.class)
                    .satisfies(t -> assertThat(((java.net.http.WebSocketHandshakeException) t.getCause()).getResponse().statusCode()).isEqualTo(401));
        }
        java.util.concurrent.BlockingQueue<String> got = new java.util.concurrent.LinkedBlockingQueue<>();
        java.net.http.WebSocket ok = java.net.http.HttpClient.newHttpClient().newWebSocketBuilder().header("Authorization", "Bearer " + keyA)
                .buildAsync(uri, new java.net.http.WebSocket.Listener() {
                    final StringBuilder part = new StringBuilder();

                    @Override
                    public java.util.concurrent.CompletionStage<?> onText(java.net.http.WebSocket ws, CharSequence data, boolean last) {
                        part.append(data);
                        if (last) {
                            got.add(part.toString());
                            part.setLength(0);
                        }
                        ws.request(1);
                        return null;
                    }
                }).join();
        // the key's model limits hold on the socket too
        ok.sendText("{\"id\":\"r1\",\"body\":" + chat(AuthHarness.RESTRICTED) + "}", true).join();
        JsonNode refused = AuthHarness.JSON.readTree(got.poll(10, java.util.concurrent.TimeUnit.SECONDS));
        assertThat(refused.path("type").asText()).isEqualTo("error");
        assertThat(refused.toString()).contains("model_not_found");
        ok.sendText("{\"id\":\"r2\",\"body\":" + chat(AuthHarness.OPEN) + "}", true).join();
        JsonNode first = AuthHarness.JSON.readTree(got.poll(10, java.util.concurrent.TimeUnit.SECONDS));
        assertThat(first.path("id").asText()).isEqualTo("r2");
        assertThat(first.path("type").asText()).isNotEqualTo("error");
        ok.sendClose(java.net.http.WebSocket.NORMAL_CLOSURE, "").join();
    }

    @Test
    void healthLiveIsTheOnlyOpenRoute() {
        assertThat(h.call(HttpMethod.GET, "/health/live", null, null).status().code()).isEqualTo(200);
        assertError(h.call(HttpMethod.GET, "/health/ready", null, null), 401, "invalid_api_key", "ready");
        assertError(h.call(HttpMethod.GET, "//admin/v1/tenants", "Bearer " + keyA, null), 403, "permission_denied", "double slash");
    }

    @Test
    void aKeyUsesOnlyItsModelsAndNeverTheAdminRoutesOrMetrics() {
        AggregatedHttpResponse ok = post("/v1/chat/completions", keyA, chat(AuthHarness.OPEN));
        assertThat(ok.status().code()).as(ok.contentUtf8()).isEqualTo(200);
        assertError(post("/v1/chat/completions", keyA, chat(AuthHarness.RESTRICTED)), 404, "model_not_found", "restricted model");
        assertError(get("/v1/models/" + AuthHarness.RESTRICTED, keyA), 404, "model_not_found", "restricted card");
        JsonNode models = json(get("/v1/models", keyA));
        assertThat(models.path("data")).extracting(m -> m.path("id").asText()).containsExactly(AuthHarness.OPEN);
        assertThat(json(get("/v1/models", keyB)).path("data")).hasSize(2);
        assertThat(post("/v1/chat/completions", keyB, chat(AuthHarness.RESTRICTED)).status().code()).isEqualTo(200);
        assertThat(get("/health/ready", keyA).status().code()).isEqualTo(200);
        assertThat(post("/tokenize", keyA, "{\"model\":\"fake\",\"prompt\":\"abc\"}").status().code()).isEqualTo(200);
        assertError(post("/tokenize", keyA, "{\"model\":\"" + AuthHarness.RESTRICTED + "\",\"prompt\":\"abc\"}"), 404, "model_not_found", "tokenize restricted");
        assertError(post("/detokenize", keyA, "{\"model\":\"" + AuthHarness.RESTRICTED + "\",\"tokens\":[1]}"), 404, "model_not_found", "detokenize restricted");
        assertThat(post("/tokenize", keyB, "{\"model\":\"" + AuthHarness.RESTRICTED + "\",\"prompt\":\"abc\"}").status().code()).isEqualTo(200);
        for (String admin : List.of("/admin/v1/tenants", "/admin/v1/keys", "/admin/v1/tenants/" + tenantA)) {
            assertError(get(admin, keyA), 403, "permission_denied", admin);
        }
        assertError(post("/admin/v1/keys", keyA, "{\"admin\":true}"), 403, "permission_denied", "non-admin mints a key");
        assertError(get("/metrics", keyA), 403, "permission_denied", "metrics");
        assertError(get("/metrics", adminA), 403, "permission_denied", "metrics for a tenant admin");
        assertThat(get("/metrics", adminToken).status().code()).isEqualTo(200);
    }

    @Test
    void aTenantAdminSeesAndChangesOnlyItsOwnTenant() {
        JsonNode tenants = json(get("/admin/v1/tenants", adminA));
        assertThat(tenants.path("data")).extracting(t -> t.path("id").asText()).containsExactly(tenantA);
        assertError(get("/admin/v1/tenants/" + tenantB, adminA), 404, "not_found", "other tenant");
        assertError(get("/admin/v1/keys?tenant=" + tenantB, adminA), 404, "not_found", "other tenant's keys");
        assertError(post("/admin/v1/keys", adminA, "{\"tenant\":\"" + tenantB + "\"}"), 404, "not_found", "key in other tenant");
        assertError(post("/admin/v1/tenants/" + tenantB + "/users", adminA, "{\"id\":\"mallory\"}"), 404, "not_found", "user in other tenant");
        assertError(h.bearer(HttpMethod.DELETE, "/admin/v1/tenants/" + tenantB, adminA, null), 404, "not_found", "delete other tenant");
        assertError(post("/admin/v1/tenants", adminA, "{\"id\":\"" + AuthHarness.unique("new") + "\"}"), 403, "permission_denied", "create tenant");
        // admin routes of other concerns (routing, prices, ...) are operator-only unless listed as tenant-scoped
        assertError(get("/admin/v1/routing", adminA), 403, "permission_denied", "routing admin");
        assertThat(get("/admin/v1/routing", adminToken).status().code()).isNotIn(401, 403);
        // B's keys are invisible to A's admin: not listed, and revoking one is 404
        JsonNode keysOfA = json(get("/admin/v1/keys", adminA));
        assertThat(keysOfA.path("data")).isNotEmpty().allMatch(k -> k.path("tenant").asText().equals(tenantA));
        String idOfB = json(get("/admin/v1/keys?tenant=" + tenantB, adminToken)).path("data").get(0).path("id").asText();
        assertError(post("/admin/v1/keys/" + idOfB + "/revoke", adminA, ""), 404, "not_found", "revoke other tenant's key");
        assertError(get("/admin/v1/keys/" + idOfB, adminA), 404, "not_found", "get other tenant's key");
        assertThat(post("/v1/chat/completions", keyB, chat(AuthHarness.OPEN)).status().code()).isEqualTo(200);
        // within its tenant it may manage projects, users and keys
        assertThat(post("/admin/v1/tenants/" + tenantA + "/projects", adminA, "{\"id\":\"web\",\"name\":\"Web\"}").status().code()).isEqualTo(201);
        assertThat(post("/admin/v1/tenants/" + tenantA + "/users", adminA, "{\"id\":\"alice\",\"email\":\"alice@example.com\"}").status().code()).isEqualTo(201);
        JsonNode k = created(adminA, "{\"project\":\"web\",\"user\":\"alice\",\"models\":[\"fake\"]}");
        assertThat(k.path("tenant").asText()).isEqualTo(tenantA);
        assertThat(post("/v1/chat/completions", k.get("key").asText(), chat(AuthHarness.OPEN)).status().code()).isEqualTo(200);
        assertThat(json(get("/admin/v1/tenants/" + tenantA + "/projects", adminA)).path("data").get(0).path("id").asText()).isEqualTo("web");
    }

    @Test
    void revocationThroughTheAdminApiTakesEffectOnTheNextRequest() {
        assertThat(post("/v1/chat/completions", keyA, chat(AuthHarness.OPEN)).status().code()).isEqualTo(200); // now cached
        AggregatedHttpResponse r = h.bearer(HttpMethod.DELETE, "/admin/v1/keys/" + keyAId, adminA, null);
        assertThat(r.status().code()).isEqualTo(200);
        assertThat(json(r).path("revoked").asBoolean()).isTrue();
        assertError(post("/v1/chat/completions", keyA, chat(AuthHarness.OPEN)), 401, "invalid_api_key", "revoked key");
        // deleting a tenant takes its keys with it
        assertThat(post("/v1/chat/completions", keyB, chat(AuthHarness.OPEN)).status().code()).isEqualTo(200);
        assertThat(h.bearer(HttpMethod.DELETE, "/admin/v1/tenants/" + tenantB, adminToken, null).status().code()).isEqualTo(200);
        assertError(post("/v1/chat/completions", keyB, chat(AuthHarness.OPEN)), 401, "invalid_api_key", "deleted tenant's key");
    }

    @Test
    void adminInputIsValidatedWith400And409() {
        String[][] bad = {
                {"/admin/v1/tenants", "{\"id\":\"bad id!\"}", "id"},
                {"/admin/v1/tenants", "{\"name\":\"no id\"}", "id"},
                {"/admin/v1/tenants", "{\"id\":\"x\",\"nmae\":\"typo\"}", "nmae"},
                {"/admin/v1/tenants", "{\"id\":5}", "id"},
                {"/admin/v1/tenants", "[1]", null},
                {"/admin/v1/tenants", "{", null},
                {"/admin/v1/keys", "{\"models\":\"fake\"}", "models"},
                {"/admin/v1/keys", "{\"models\":[1]}", "models"},
                {"/admin/v1/keys", "{\"admin\":\"yes\"}", "admin"},
                {"/admin/v1/keys", "{\"expires_in_seconds\":-5}", "expires_in_seconds"},
                {"/admin/v1/keys", "{\"expires_at\":\"tomorrow\"}", "expires_at"},
                {"/admin/v1/keys", "{\"tier\":\"a b\"}", "tier"},
                {"/admin/v1/tenants/" + tenantA + "/users", "{\"id\":\"u\",\"email\":\"not-an-email\"}", "email"},
        };
        for (String[] b : bad) {
            AggregatedHttpResponse r = post(b[0], adminToken, b[1]);
            assertThat(r.status().code()).as(b[1] + ": " + r.contentUtf8()).isEqualTo(400);
            JsonNode e = json(r).path("error");
            assertThat(e.path("type").asText()).isEqualTo("invalid_request_error");
            if (b[2] != null) assertThat(e.path("param").asText()).as(b[1]).isEqualTo(b[2]);
        }
        AggregatedHttpResponse dup = post("/admin/v1/tenants", adminToken, "{\"id\":\"" + tenantA + "\"}");
        assertError(dup, 409, "conflict", "duplicate tenant");
        assertError(post("/admin/v1/keys", adminToken, "{\"tenant\":\"" + tenantA + "\",\"project\":\"nope\"}"), 404, "not_found", "unknown project");
        assertThat(h.bearer(HttpMethod.DELETE, "/admin/v1/tenants/default", adminToken, null).status().code()).isEqualTo(400);
        assertError(h.bearer(HttpMethod.PUT, "/admin/v1/tenants", adminToken, "{}"), 405, "method_not_allowed", "PUT");
    }

    @Test
    void keyListingsNeverShowSecretsOrHashes() {
        String list = get("/admin/v1/keys", adminToken).contentUtf8();
        JsonNode keys = json(get("/admin/v1/keys?tenant=" + tenantA, adminToken)).path("data");
        assertThat(keys).hasSize(4);
        for (String k : List.of(keyA, adminA, keyB, revoked, expired)) {
            ApiKeys.Parsed p = ApiKeys.parse(k);
            assertThat(list).contains(p.prefix()).doesNotContain(p.secret()).doesNotContain(AuthHarness.sha256Hex(p.secret()));
        }
        for (JsonNode k : keys) {
            assertThat(k.has("key")).isFalse();
            assertThat(k.path("id").asText()).hasSize(ApiKeys.PREFIX_CHARS);
        }
        JsonNode one = json(get("/admin/v1/keys/" + keyAId, adminA));
        assertThat(one.path("models")).extracting(JsonNode::asText).containsExactly("fake");
        assertThat(one.has("key")).isFalse();
        assertThat(one.toString()).doesNotContain(ApiKeys.parse(keyA).secret());
    }

    @Test
    void openAiSdkEndToEndWithAnApiKey() {
        OpenAIClient sdk = OpenAIOkHttpClient.builder().baseUrl(h.baseUrl() + "/v1").apiKey(keyA).maxRetries(0).build();
        ChatCompletion c = sdk.chat().completions().create(ChatCompletionCreateParams.builder().model(AuthHarness.OPEN).addUserMessage("hi").build());
        assertThat(c.choices().get(0).message().content()).contains("Hello, world!");
        assertThat(sdk.models().list().data()).extracting(Model::id).containsExactly(AuthHarness.OPEN);
        assertThatThrownBy(() -> sdk.chat().completions().create(ChatCompletionCreateParams.builder().model(AuthHarness.RESTRICTED).addUserMessage("hi").build()))
                .isInstanceOf(NotFoundException.class);
        OpenAIClient bad = OpenAIOkHttpClient.builder().baseUrl(h.baseUrl() + "/v1").apiKey(revoked).maxRetries(0).build();
        assertThatThrownBy(() -> bad.chat().completions().create(ChatCompletionCreateParams.builder().model(AuthHarness.OPEN).addUserMessage("hi").build()))
                .isInstanceOf(UnauthorizedException.class).hasMessageContaining("revoked");
    }

    @Test
    void keyListingShowsTierModelsAndAdminFlag() {
        JsonNode b = json(get("/admin/v1/keys?tenant=" + tenantB, adminToken)).path("data").get(0);
        assertThat(b.path("tier").asText()).isEqualTo("gold");
        assertThat(b.path("models")).isEmpty();
        assertThat(b.path("admin").asBoolean()).isFalse();
    }
}
