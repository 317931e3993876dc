package dev.sluice.server.gateway.cache;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.RequestHeaders;
import dev.sluice.server.gateway.GatewayRequest;
import dev.sluice.server.gateway.Principal;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class CacheKeyTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static String key(String body, String version, String scope) throws Exception {
        return key(body, version, scope, GatewayRequest.Kind.CHAT);
    }

    static String key(String body, String version, String scope, GatewayRequest.Kind kind) throws Exception {
        GatewayRequest r = new GatewayRequest(kind, RequestHeaders.of(HttpMethod.POST, "/v1/chat/completions"),
                (ObjectNode) JSON.readTree(body), Principal.anonymous(), 0);
        r.version(version);
        return CacheKey.of(r, scope);
    }

    static final String BASE = "{\"model\":\"m\",\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";

    @Test
    void deliveryAndIdentityFieldsAreNotInTheKey() throws Exception {
        String k = key(BASE + "}", "v1", "t");
        assertThat(k).hasSize(64).matches("[0-9a-f]+");
        assertThat(key(BASE + ",\"user\":\"bob\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"store\":true,\"metadata\":{\"a\":\"b\"}}", "v1", "t"))
                .isEqualTo(k);
        // key order and number spelling do not matter
        assertThat(key("{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"temperature\":0.0,\"model\":\"m\"}", "v1", "t")).isEqualTo(k);
        assertThat(key(BASE.replace("\"temperature\":0", "\"temperature\":0e0") + "}", "v1", "t")).isEqualTo(k);
    }

    @Test
    void everythingThatChangesTheAnswerIsInTheKey() throws Exception {
        String k = key(BASE + "}", "v1", "t");
        assertThat(key(BASE + "}", "v2", "t")).as("resolved version").isNotEqualTo(k);
        assertThat(key(BASE + "}", "v1", "u")).as("tenant scope").isNotEqualTo(k);
        assertThat(key(BASE + "}", "v1", CacheKey.SHARED)).isNotEqualTo(k);
        assertThat(key(BASE + "}", "v1", "t", GatewayRequest.Kind.COMPLETION)).as("route").isNotEqualTo(k);
        assertThat(key(BASE.replace("\"m\"", "\"m2\"") + "}", "v1", "t")).as("model").isNotEqualTo(k);
        assertThat(key(BASE.replace("hi", "hi!") + "}", "v1", "t")).as("messages").isNotEqualTo(k);
        for (String p : new String[]{"\"seed\":1", "\"max_tokens\":5", "\"top_p\":0.5", "\"stop\":[\"x\"]", "\"n\":2", "\"logprobs\":true",
                "\"tools\":[]", "\"presence_penalty\":0.1", "\"unknown_field\":1"}) {
            assertThat(key(BASE + "," + p + "}", "v1", "t")).as(p).isNotEqualTo(k);
        }
    }

    @Test
    void theModelTheRouterResolvedToIsInTheKey() throws Exception {
        GatewayRequest r = new GatewayRequest(GatewayRequest.Kind.CHAT, RequestHeaders.of(HttpMethod.POST, "/v1/chat/completions"),
                (ObjectNode) JSON.readTree(BASE + "}"), Principal.anonymous(), 0);
        r.version("v1");
        String before = CacheKey.of(r, "t");
        r.body().put("model", "lighter-model"); // e.g. degraded under overload
        assertThat(CacheKey.of(r, "t")).isNotEqualTo(before);
    }

    @Test
    void aTenantNameCannotForgeAnotherScope() throws Exception {
        assertThat(key(BASE + "}", "v1", "a\",\"scope\":\"b")).isNotEqualTo(key(BASE + "}", "v1", "b"));
    }

    @Test
    void canonicalJsonIsSortedAndCompact() throws Exception {
        assertThat(CacheKey.canonical(JSON.readTree("{\"b\":[1.50,{\"d\":true,\"c\":null}],\"a\":\"x\\\"y\",\"e\":1e300}")))
                .isEqualTo("{\"a\":\"x\\\"y\",\"b\":[1.5,{\"c\":null,\"d\":true}],\"e\":1E+300}");
    }
}
