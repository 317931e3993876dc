package dev.sluice.server.gateway.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The canonical form of an answer, and the two ways back out of it.
 *
 * <p>Design note: the cache stores one form per answer, the complete response object of a plain
 * request ({@code chat.completion} or {@code text_completion}). A streamed answer is folded into it
 * by {@link Aggregator} (per choice index: content, reasoning_content, tool calls, logprobs,
 * finish_reason; usage from the usage chunk). {@link #json} gives it back as a plain response and
 * {@link #sse} as a stream: per choice a role delta, the reasoning and content (with its logprobs),
 * a finish chunk; then the usage chunk only when the client asked for one
 * ({@code stream_options.include_usage}); the caller ends it with {@code [DONE]}. The concatenated
 * content of the replayed stream is the original stream's, character for character. Each replay
 * gets its own {@code id} and {@code created}: two responses are two completions (stored
 * completions key on the id).
 */
public final class Answers {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private Answers() {}

    /** A fresh response id in OpenAI's form: {@code chatcmpl-...} or {@code cmpl-...}. */
    public static String newId(boolean chat) {
        return (chat ? "chatcmpl-" : "cmpl-") + java.util.UUID.randomUUID().toString().replace("-", "");
    }

    /** {@code answer} as a plain response with {@code id} and {@code created}. */
    public static ObjectNode json(ObjectNode answer, String id, long created) {
        ObjectNode o = answer.deepCopy();
        o.put("id", id).put("created", created);
        return o;
    }

    /** {@code answer} as the data payloads of a stream (without the final {@code [DONE]}). */
    public static List<ObjectNode> sse(ObjectNode answer, boolean chat, boolean includeUsage, String id, long created) {
        List<ObjectNode> out = new ArrayList<>();
        for (JsonNode c : answer.path("choices")) {
            int index = c.path("index").asInt(0);
            JsonNode logprobs = c.get("logprobs");
            boolean hasLogprobs = logprobs != null && !logprobs.isNull();
            if (chat) {
                JsonNode m = c.path("message");
                boolean text = m.path("content").isTextual(); // null content (tool calls only) stays null
                ObjectNode role = F.objectNode().put("role", m.path("role").asText("assistant"));
                if (text) role.put("content", "");
                else role.putNull("content");
                out.add(chunk(answer, true, id, created, index, role, null, null));
                String reasoning = m.path("reasoning_content").asText("");
                if (!reasoning.isEmpty()) out.add(chunk(answer, true, id, created, index, F.objectNode().put("reasoning_content", reasoning), null, null));
                String content = text ? m.path("content").asText() : "";
                JsonNode tools = m.get("tool_calls");
                if (!content.isEmpty() || hasLogprobs || (tools != null && tools.isArray() && !tools.isEmpty())) {
                    ObjectNode delta = F.objectNode();
                    if (text) delta.put("content", content);
                    if (tools != null && tools.isArray() && !tools.isEmpty()) {
                        ArrayNode tc = delta.putArray("tool_calls");
                        for (int i = 0; i < tools.size(); i++) tc.add(((ObjectNode) tools.get(i).deepCopy()).put("index", i));
                    }
                    out.add(chunk(answer, true, id, created, index, delta, hasLogprobs ? logprobs : null, null));
                }
                out.add(chunk(answer, true, id, created, index, F.objectNode(), null, c.path("finish_reason").asText("stop")));
            } else {
                String text = c.path("text").asText("");
                if (!text.isEmpty() || hasLogprobs) out.add(chunk(answer, false, id, created, index, F.objectNode().put("content", text), hasLogprobs ? logprobs : null, null));
                out.add(chunk(answer, false, id, created, index, F.objectNode().put("content", ""), null, c.path("finish_reason").asText("stop")));
            }
        }
        if (includeUsage && answer.has("usage")) {
            ObjectNode u = base(answer, chat, id, created);
            u.putArray("choices");
            u.set("usage", answer.get("usage").deepCopy());
            out.add(u);
        }
        return out;
    }

    private static ObjectNode base(ObjectNode answer, boolean chat, String id, long created) {
        ObjectNode o = F.objectNode().put("id", id).put("object", chat ? "chat.completion.chunk" : "text_completion").put("created", created);
        o.set("model", answer.path("model").deepCopy());
        if (answer.has("system_fingerprint")) o.set("system_fingerprint", answer.get("system_fingerprint").deepCopy());
        return o;
    }

    private static ObjectNode chunk(ObjectNode answer, boolean chat, String id, long created, int index, ObjectNode delta, JsonNode logprobs, String finish) {
        ObjectNode o = base(answer, chat, id, created);
        ObjectNode c = o.putArray("choices").addObject().put("index", index);
        if (chat) c.set("delta", delta);
        else c.put("text", delta.path("content").asText(""));
        c.set("logprobs", logprobs == null ? F.nullNode() : logprobs.deepCopy());
        if (finish == null) c.putNull("finish_reason");
        else c.put("finish_reason", finish);
        return o;
    }

    /** Folds a stream's chunks, in order, into the response a plain request would have got. Not thread-safe. */
    public static final class Aggregator {
        private final boolean chat;
        private final Map<Integer, Choice> choices = new TreeMap<>();
        private ObjectNode head;
        private JsonNode usage;

        public Aggregator(boolean chat) {
            this.chat = chat;
        }

        private static final class Choice {
            String role;
            StringBuilder content;
            StringBuilder reasoning;
            StringBuilder refusal;
            final Map<Integer, ObjectNode> tools = new TreeMap<>();
            ArrayNode logprobContent;           // chat: logprobs.content entries
            ObjectNode legacyLogprobs;          // completions: parallel arrays
            JsonNode finish = F.nullNode();
        }

        /** Adds one chunk (a {@code chat.completion.chunk} or streamed {@code text_completion}). */
        public void add(ObjectNode chunk) {
            if (head == null) head = chunk;
            JsonNode u = chunk.get("usage");
            if (u != null && u.isObject()) usage = u;
            for (JsonNode c : chunk.path("choices")) {
                Choice ch = choices.computeIfAbsent(c.path("index").asInt(0), i -> new Choice());
                if (chat) {
                    JsonNode d = c.path("delta");
                    if (d.path("role").isTextual()) ch.role = d.get("role").asText();
                    ch.content = append(ch.content, d.get("content"));
                    ch.reasoning = append(ch.reasoning, d.get("reasoning_content"));
                    ch.refusal = append(ch.refusal, d.get("refusal"));
                    for (JsonNode t : d.path("tool_calls")) tool(ch, t);
                    JsonNode lp = c.path("logprobs").path("content");
                    if (lp.isArray()) {
                        if (ch.logprobContent == null) ch.logprobContent = F.arrayNode();
                        ch.logprobContent.addAll((ArrayNode) lp);
                    }
                } else {
                    ch.content = append(ch.content, c.get("text"));
                    JsonNode lp = c.get("logprobs");
                    if (lp != null && lp.isObject()) {
                        if (ch.legacyLogprobs == null) ch.legacyLogprobs = F.objectNode();
                        lp.fields().forEachRemaining(e -> {
                            if (!e.getValue().isArray()) return;
                            JsonNode have = ch.legacyLogprobs.get(e.getKey());
                            ArrayNode arr = have instanceof ArrayNode a ? a : ch.legacyLogprobs.putArray(e.getKey());
                            arr.addAll((ArrayNode) e.getValue());
                        });
                    }
                }
                JsonNode f = c.get("finish_reason");
                if (f != null && !f.isNull()) ch.finish = f;
            }
        }

        private static StringBuilder append(StringBuilder sb, JsonNode text) {
            if (text == null || !text.isTextual()) return sb;
            if (sb == null) sb = new StringBuilder();
            sb.append(text.asText());
            return sb;
        }

        private static void tool(Choice ch, JsonNode t) {
            ObjectNode have = ch.tools.computeIfAbsent(t.path("index").asInt(ch.tools.size()), i -> F.objectNode());
            if (t.path("id").isTextual()) have.put("id", t.get("id").asText());
            if (t.path("type").isTextual()) have.put("type", t.get("type").asText());
            JsonNode fn = t.get("function");
            if (fn != null && fn.isObject()) {
                ObjectNode f = have.has("function") ? (ObjectNode) have.get("function") : have.putObject("function");
                if (fn.path("name").isTextual()) f.put("name", f.path("name").asText("") + fn.get("name").asText());
                if (fn.path("arguments").isTextual()) f.put("arguments", f.path("arguments").asText("") + fn.get("arguments").asText());
            }
        }

        /** The complete response; null when no chunk was added. */
        public ObjectNode result() {
            if (head == null) return null;
            ObjectNode o = F.objectNode();
            o.set("id", head.path("id").deepCopy());
            o.put("object", chat ? "chat.completion" : "text_completion");
            o.set("created", head.path("created").deepCopy());
            o.set("model", head.path("model").deepCopy());
            if (head.has("system_fingerprint")) o.set("system_fingerprint", head.get("system_fingerprint").deepCopy());
            ArrayNode arr = o.putArray("choices");
            for (var e : choices.entrySet()) {
                Choice ch = e.getValue();
                ObjectNode c = arr.addObject().put("index", e.getKey());
                if (chat) {
                    ObjectNode m = c.putObject("message").put("role", ch.role == null ? "assistant" : ch.role);
                    if (ch.content == null) m.putNull("content");
                    else m.put("content", ch.content.toString());
                    if (ch.reasoning != null) m.put("reasoning_content", ch.reasoning.toString());
                    if (ch.refusal != null) m.put("refusal", ch.refusal.toString());
                    if (!ch.tools.isEmpty()) {
                        ArrayNode tc = m.putArray("tool_calls");
                        ch.tools.values().forEach(tc::add);
                    }
                    if (ch.logprobContent == null) c.putNull("logprobs");
                    else c.putObject("logprobs").set("content", ch.logprobContent);
                } else {
                    c.put("text", ch.content == null ? "" : ch.content.toString());
                    if (ch.legacyLogprobs == null) c.putNull("logprobs");
                    else c.set("logprobs", ch.legacyLogprobs);
                }
                c.set("finish_reason", ch.finish);
            }
            if (usage != null) o.set("usage", usage.deepCopy());
            return o;
        }
    }
}
