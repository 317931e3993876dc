package dev.sluice.server.gateway.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The aggregator folds a stream into the plain answer, and the replay gives the same stream content back. */
class AnswersTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static ObjectNode j(String s) throws Exception {
        return (ObjectNode) JSON.readTree(s);
    }

    static final String HEAD = "\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m\",\"system_fingerprint\":\"fp\"";

    static List<ObjectNode> stream() throws Exception {
        return List.of(
                j("{" + HEAD + ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}"),
                j("{" + HEAD + ",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"think\"},\"logprobs\":null,\"finish_reason\":null}]}"),
                j("{" + HEAD + ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"logprobs\":{\"content\":[{\"token\":\"Hel\",\"logprob\":-0.1}]},\"finish_reason\":null}]}"),
                j("{" + HEAD + ",\"choices\":[{\"index\":1,\"delta\":{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]},\"finish_reason\":null}]}"),
                j("{" + HEAD + ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo 🙂\"},\"logprobs\":{\"content\":[{\"token\":\"lo 🙂\",\"logprob\":-0.2}]},\"finish_reason\":null}]}"),
                j("{" + HEAD + ",\"choices\":[{\"index\":1,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]},\"finish_reason\":null}]}"),
                j("{" + HEAD + ",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}"),
                j("{" + HEAD + ",\"choices\":[{\"index\":1,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}"),
                j("{" + HEAD + ",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}"));
    }

    @Test
    void aChatStreamFoldsIntoTheCompletionAndReplaysToTheSameContent() throws Exception {
        Answers.Aggregator a = new Answers.Aggregator(true);
        for (ObjectNode c : stream()) a.add(c);
        ObjectNode answer = a.result();
        assertThat(answer.path("object").asText()).isEqualTo("chat.completion");
        assertThat(answer.path("id").asText()).isEqualTo("chatcmpl-1");
        assertThat(answer.path("system_fingerprint").asText()).isEqualTo("fp");
        JsonNode c0 = answer.path("choices").get(0), c1 = answer.path("choices").get(1);
        assertThat(c0.path("message").path("content").asText()).isEqualTo("Hello 🙂");
        assertThat(c0.path("message").path("reasoning_content").asText()).isEqualTo("think");
        assertThat(c0.path("logprobs").path("content")).hasSize(2);
        assertThat(c0.path("finish_reason").asText()).isEqualTo("stop");
        assertThat(c1.path("message").path("content").isNull()).isTrue();
        assertThat(c1.path("message").path("tool_calls").get(0).path("function").path("arguments").asText()).isEqualTo("{\"a\":1}");
        assertThat(c1.path("message").path("tool_calls").get(0).path("id").asText()).isEqualTo("call_1");
        assertThat(c1.path("finish_reason").asText()).isEqualTo("tool_calls");
        assertThat(answer.path("usage").path("total_tokens").asInt()).isEqualTo(7);

        List<ObjectNode> replay = Answers.sse(answer, true, true, "chatcmpl-2", 9);
        Answers.Aggregator again = new Answers.Aggregator(true);
        replay.forEach(again::add);
        ObjectNode back = again.result();
        assertThat(back.path("id").asText()).isEqualTo("chatcmpl-2");
        back.put("id", "chatcmpl-1").put("created", 7);
        assertThat(back).isEqualTo(answer);
        assertThat(replay).allMatch(ch -> ch.path("object").asText().equals("chat.completion.chunk"));
        assertThat(replay.getLast().path("choices").isEmpty()).isTrue();
        assertThat(Answers.sse(answer, true, false, "x", 9)).noneMatch(ch -> ch.has("usage"));
    }

    @Test
    void aLegacyCompletionStreamFoldsWithItsLogprobArrays() throws Exception {
        String h = "\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":7,\"model\":\"m\"";
        Answers.Aggregator a = new Answers.Aggregator(false);
        a.add(j("{" + h + ",\"choices\":[{\"index\":0,\"text\":\"ab\",\"logprobs\":{\"tokens\":[\"a\",\"b\"],\"token_logprobs\":[-1,-2],\"top_logprobs\":[{},{}]},\"finish_reason\":null}]}"));
        a.add(j("{" + h + ",\"choices\":[{\"index\":0,\"text\":\"c\",\"logprobs\":{\"tokens\":[\"c\"],\"token_logprobs\":[-3],\"top_logprobs\":[{}]},\"finish_reason\":null}]}"));
        a.add(j("{" + h + ",\"choices\":[{\"index\":0,\"text\":\"\",\"logprobs\":null,\"finish_reason\":\"length\"}]}"));
        ObjectNode answer = a.result();
        assertThat(answer.path("object").asText()).isEqualTo("text_completion");
        assertThat(answer.path("choices").get(0).path("text").asText()).isEqualTo("abc");
        assertThat(answer.path("choices").get(0).path("logprobs").path("tokens")).hasSize(3);
        assertThat(answer.path("choices").get(0).path("finish_reason").asText()).isEqualTo("length");
        Answers.Aggregator again = new Answers.Aggregator(false);
        Answers.sse(answer, false, false, "cmpl-1", 7).forEach(again::add);
        assertThat(again.result().toString()).isEqualTo(answer.toString());
    }

    @Test
    void nothingAddedIsNoAnswer() {
        assertThat(new Answers.Aggregator(true).result()).isNull();
    }
}
