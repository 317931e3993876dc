package dev.sluice.server.gateway;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class JsonFieldsTest {
    static ObjectNode read(String json) {
        return JsonFields.read(json.getBytes(StandardCharsets.UTF_8), Set.of("usage", "error"));
    }

    @Test
    void readsOnlyTheNamedTopLevelFields() {
        ObjectNode n = read("{\"id\":\"x\",\"choices\":[{\"message\":{\"content\":\"{\\\"usage\\\":1}\"},\"usage\":{\"prompt_tokens\":99}}],"
                + "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":5}}");
        assertThat(n.size()).isEqualTo(1);
        assertThat(n.path("usage").path("prompt_tokens").asInt()).isEqualTo(3); // not the nested one
        assertThat(read("{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}").path("error").path("message").asText()).isEqualTo("boom");
        assertThat(read("{\"id\":\"x\"}").size()).isZero();
    }

    @Test
    void notAnObjectIsNull() {
        assertThat(read("[1,2]")).isNull();
        assertThat(read("not json")).isNull();
        assertThat(read("{\"usage\":{\"prompt_tokens\":")).isNull();
        assertThat(read("")).isNull();
    }
}
