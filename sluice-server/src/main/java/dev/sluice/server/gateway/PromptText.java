package dev.sluice.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.function.ToIntFunction;

/**
 * The text of a request's prompt, read straight from its OpenAI body without a chat template:
 * for counting tokens with a tokenizer when the model's own template is not at hand (an external
 * upstream), and as the key of prefix affinity. (Without a tokenizer, admission uses
 * {@link Backend#estimatePromptTokens}.)
 *
 * <p>Chat: each message's role and text content (a string, or the {@code text} parts of a content
 * array), one message after another; tool calls' arguments count as text. Completions: the prompt
 * string, or the strings of a prompt array (a token-id array counts its length directly).
 */
public final class PromptText {
    /** Characters per token of the estimate: {@link Backend#CHARS_PER_TOKEN}. */
    public static final int CHARS_PER_TOKEN = Backend.CHARS_PER_TOKEN;
    /** Tokens a chat template adds per message (role markers, separators) in the estimate: 4, as OpenAI's cookbook counts. */
    public static final int TOKENS_PER_MESSAGE = 4;

    private PromptText() {}

    /** About how many tokens {@code text} has: {@value #CHARS_PER_TOKEN} characters each, rounded up. */
    public static int estimate(CharSequence text) {
        return (text.length() + CHARS_PER_TOKEN - 1) / CHARS_PER_TOKEN;
    }

    /**
     * Prompt tokens of {@code req} with {@code tokens} counting each piece of text: chat messages
     * each count their text plus {@value #TOKENS_PER_MESSAGE}, plus 3 for the assistant's primer.
     */
    public static int count(GatewayRequest req, ToIntFunction<String> tokens) {
        JsonNode body = req.body();
        if (req.chat()) {
            int n = 3;
            for (JsonNode m : body.path("messages")) {
                n += TOKENS_PER_MESSAGE + tokens.applyAsInt(messageText(m));
            }
            return n;
        }
        JsonNode p = body.get("prompt");
        if (p == null) return 0;
        if (p.isTextual()) return tokens.applyAsInt(p.asText());
        int n = 0;
        if (p.isArray()) {
            for (JsonNode x : p) {
                if (x.isTextual()) n += tokens.applyAsInt(x.asText());
                else if (x.isArray()) n += x.size();
                else if (x.isIntegralNumber()) n++;
            }
        }
        return n;
    }

    /** The prompt as one string (messages joined by newlines), at most {@code maxChars} characters. */
    public static String of(GatewayRequest req, int maxChars) {
        StringBuilder sb = new StringBuilder();
        JsonNode body = req.body();
        if (req.chat()) {
            for (JsonNode m : body.path("messages")) {
                sb.append(m.path("role").asText("")).append(": ").append(messageText(m)).append('\n');
                if (sb.length() >= maxChars) break;
            }
        } else {
            JsonNode p = body.get("prompt");
            if (p != null && p.isTextual()) sb.append(p.asText());
            else if (p != null) sb.append(p);
        }
        return sb.length() > maxChars ? sb.substring(0, maxChars) : sb.toString();
    }

    private static String messageText(JsonNode m) {
        JsonNode c = m.get("content");
        StringBuilder sb = new StringBuilder();
        if (c != null && c.isTextual()) sb.append(c.asText());
        else if (c != null && c.isArray()) {
            for (JsonNode part : c) if (part.path("text").isTextual()) sb.append(part.get("text").asText());
        }
        for (JsonNode call : m.path("tool_calls")) {
            sb.append(call.path("function").path("name").asText("")).append(call.path("function").path("arguments").asText(""));
        }
        return sb.toString();
    }
}
