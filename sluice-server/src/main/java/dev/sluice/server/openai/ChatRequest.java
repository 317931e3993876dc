package dev.sluice.server.openai;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.server.inference.GenerationOptions;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A validated {@code /v1/chat/completions} or {@code /v1/completions} request. Unknown fields
 * are ignored; every bad value raises {@link OpenAiException#invalid} naming its {@code param}.
 * {@code maxTokensParam} names the field the client used for the limit ({@code max_tokens} or
 * {@code max_completion_tokens}), so errors about it name that one.
 */
public record ChatRequest(
        String model,
        List<Map<String, Object>> messages,
        String prompt,
        List<Map<String, Object>> tools,
        Map<String, Object> templateVars,
        int n,
        Integer maxTokens,
        boolean stream,
        boolean includeUsage,
        GenerationOptions options,
        String maxTokensParam) {

    /** Most choices per request ({@code n}); each is a full generation. */
    public static final int MAX_N = 8;
    /** Most stop sequences, as OpenAI allows. */
    public static final int MAX_STOP = 4;
    /** Most alternatives per token in logprobs, as OpenAI allows. */
    public static final int MAX_TOP_LOGPROBS = 20;
    /** Most logit_bias entries. */
    public static final int MAX_LOGIT_BIAS = 1024;

    private static final java.util.Set<String> ROLES = java.util.Set.of("system", "developer", "user", "assistant", "tool");

    public static ChatRequest parse(JsonNode body, boolean chat) {
        if (body == null || !body.isObject()) throw OpenAiException.invalid(null, "The request body must be a JSON object");
        String model = requireString(body, "model");
        List<Map<String, Object>> messages = null;
        String prompt = null;
        if (chat) {
            messages = parseMessages(body.get("messages"));
        } else {
            JsonNode p = body.get("prompt");
            if (p == null || p.isNull()) throw OpenAiException.invalid("prompt", "'prompt' is required");
            if (p.isTextual()) prompt = p.asText();
            else if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) prompt = p.get(0).asText();
            else throw OpenAiException.invalid("prompt", "'prompt' must be a string (or an array of one string)");
        }
        List<Map<String, Object>> tools = null;
        JsonNode t = body.get("tools");
        if (t != null && !t.isNull()) {
            if (!t.isArray()) throw OpenAiException.invalid("tools", "'tools' must be an array");
            tools = new ArrayList<>();
            for (JsonNode tool : t) tools.add(toMap(tool));
        }
        Map<String, Object> templateVars = null;
        JsonNode kw = body.get("chat_template_kwargs");
        if (kw != null && !kw.isNull()) {
            if (!kw.isObject()) throw OpenAiException.invalid("chat_template_kwargs", "'chat_template_kwargs' must be an object");
            templateVars = toMap(kw);
        }
        int n = intIn(body, "n", 1, 1, MAX_N);
        Integer maxTokens = null;
        String maxTokensParam = "max_tokens";
        if (present(body, "max_completion_tokens")) {
            maxTokensParam = "max_completion_tokens";
            maxTokens = intIn(body, "max_completion_tokens", 0, 1, Integer.MAX_VALUE);
        } else if (present(body, "max_tokens")) maxTokens = intIn(body, "max_tokens", 0, 1, Integer.MAX_VALUE);
        boolean stream = bool(body, "stream", false);
        boolean includeUsage = false;
        JsonNode so = body.get("stream_options");
        if (so != null && !so.isNull()) {
            if (!so.isObject()) throw OpenAiException.invalid("stream_options", "'stream_options' must be an object");
            if (!stream) throw OpenAiException.invalid("stream_options", "'stream_options' is only allowed when 'stream' is true");
            includeUsage = bool(so, "include_usage", false);
        }
        float temperature = floatIn(body, "temperature", 1f, 0f, 2f);
        float topP = floatIn(body, "top_p", 1f, 0f, 1f);
        if (present(body, "top_p") && topP <= 0f) throw OpenAiException.invalid("top_p", "'top_p' must be in (0, 1]");
        int topK = intIn(body, "top_k", 0, -1, Integer.MAX_VALUE);
        float minP = floatIn(body, "min_p", 0f, 0f, 1f);
        float presence = floatIn(body, "presence_penalty", 0f, -2f, 2f);
        float frequency = floatIn(body, "frequency_penalty", 0f, -2f, 2f);
        float repetition = floatIn(body, "repetition_penalty", 1f, 0.01f, 10f);
        Map<Integer, Float> bias = new HashMap<>();
        JsonNode lb = body.get("logit_bias");
        if (lb != null && !lb.isNull()) {
            if (!lb.isObject()) throw OpenAiException.invalid("logit_bias", "'logit_bias' must be an object of token id to bias");
            if (lb.size() > MAX_LOGIT_BIAS) throw OpenAiException.invalid("logit_bias", "'logit_bias' has more than " + MAX_LOGIT_BIAS + " entries");
            var it = lb.fields();
            while (it.hasNext()) {
                var e = it.next();
                int id;
                try {
                    id = Integer.parseInt(e.getKey());
                } catch (NumberFormatException ex) {
                    throw OpenAiException.invalid("logit_bias", "'logit_bias' key '" + e.getKey() + "' is not a token id");
                }
                if (id < 0) throw OpenAiException.invalid("logit_bias", "'logit_bias' token id " + id + " is negative");
                if (!e.getValue().isNumber() || e.getValue().asDouble() < -100 || e.getValue().asDouble() > 100) {
                    throw OpenAiException.invalid("logit_bias", "'logit_bias' values must be numbers in [-100, 100]");
                }
                bias.put(id, (float) e.getValue().asDouble());
            }
        }
        Long seed = null;
        JsonNode s = body.get("seed");
        if (s != null && !s.isNull()) {
            if (!s.isIntegralNumber() || !s.canConvertToLong()) throw OpenAiException.invalid("seed", "'seed' must be an integer");
            seed = s.asLong();
        }
        List<String> stop = new ArrayList<>();
        JsonNode st = body.get("stop");
        if (st != null && !st.isNull()) {
            if (st.isTextual()) stop.add(st.asText());
            else if (st.isArray()) {
                if (st.size() > MAX_STOP) throw OpenAiException.invalid("stop", "'stop' has more than " + MAX_STOP + " sequences");
                for (JsonNode x : st) {
                    if (!x.isTextual()) throw OpenAiException.invalid("stop", "'stop' must be a string or an array of strings");
                    stop.add(x.asText());
                }
            } else throw OpenAiException.invalid("stop", "'stop' must be a string or an array of strings");
            for (String x : stop) if (x.isEmpty()) throw OpenAiException.invalid("stop", "'stop' sequences must not be empty");
        }
        boolean logprobs;
        int topLogprobs = 0;
        if (chat) {
            logprobs = bool(body, "logprobs", false);
            if (present(body, "top_logprobs")) {
                topLogprobs = intIn(body, "top_logprobs", 0, 0, MAX_TOP_LOGPROBS);
                if (!logprobs) throw OpenAiException.invalid("top_logprobs", "'top_logprobs' requires 'logprobs' to be true");
            }
        } else {
            // legacy completions: logprobs is an integer count of alternatives
            logprobs = present(body, "logprobs");
            if (logprobs) topLogprobs = intIn(body, "logprobs", 0, 0, 5);
        }
        if (present(body, "user") && !body.get("user").isTextual()) throw OpenAiException.invalid("user", "'user' must be a string");
        // vLLM extension: keep generating past the model's end-of-sequence token (benchmarks fix output lengths with it)
        boolean ignoreEos = bool(body, "ignore_eos", false);
        GenerationOptions options = new GenerationOptions(maxTokens == null ? 0 : maxTokens, temperature, topP, topK, minP,
                presence, frequency, repetition, Map.copyOf(bias), seed, List.copyOf(stop), logprobs, topLogprobs, ignoreEos);
        return new ChatRequest(model, messages, prompt, tools, templateVars, n, maxTokens, stream, includeUsage, options, maxTokensParam);
    }

    private static List<Map<String, Object>> parseMessages(JsonNode ms) {
        if (ms == null || ms.isNull()) throw OpenAiException.invalid("messages", "'messages' is required");
        if (!ms.isArray() || ms.isEmpty()) throw OpenAiException.invalid("messages", "'messages' must be a non-empty array");
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < ms.size(); i++) {
            JsonNode m = ms.get(i);
            String where = "messages[" + i + "]";
            if (!m.isObject()) throw OpenAiException.invalid(where, "'" + where + "' must be an object");
            JsonNode role = m.get("role");
            if (role == null || !role.isTextual() || !ROLES.contains(role.asText())) {
                throw OpenAiException.invalid(where + ".role", "'" + where + ".role' must be one of system, developer, user, assistant, tool");
            }
            Map<String, Object> msg = toMap(m);
            String r = role.asText();
            msg.put("role", r.equals("developer") ? "system" : r);
            JsonNode c = m.get("content");
            if (c == null || c.isNull()) {
                if (!r.equals("assistant")) throw OpenAiException.invalid(where + ".content", "'" + where + ".content' is required");
                msg.put("content", "");
            } else if (c.isTextual()) {
                msg.put("content", c.asText());
            } else if (c.isArray()) {
                StringBuilder sb = new StringBuilder();
                for (JsonNode part : c) {
                    if (!part.isObject() || !"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                        throw OpenAiException.invalid(where + ".content", "'" + where + ".content' parts must be {\"type\":\"text\",\"text\":...}; other part types are not supported by this model");
                    }
                    sb.append(part.get("text").asText());
                }
                msg.put("content", sb.toString());
            } else {
                throw OpenAiException.invalid(where + ".content", "'" + where + ".content' must be a string or an array of text parts");
            }
            out.add(msg);
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> toMap(JsonNode node) {
        return OpenAiService.JSON.convertValue(node, LinkedHashMap.class);
    }

    private static boolean present(JsonNode body, String f) {
        JsonNode v = body.get(f);
        return v != null && !v.isNull();
    }

    private static String requireString(JsonNode body, String f) {
        JsonNode v = body.get(f);
        if (v == null || v.isNull()) throw OpenAiException.invalid(f, "'" + f + "' is required");
        if (!v.isTextual()) throw OpenAiException.invalid(f, "'" + f + "' must be a string");
        return v.asText();
    }

    private static boolean bool(JsonNode body, String f, boolean dflt) {
        JsonNode v = body.get(f);
        if (v == null || v.isNull()) return dflt;
        if (!v.isBoolean()) throw OpenAiException.invalid(f, "'" + f + "' must be a boolean");
        return v.asBoolean();
    }

    private static int intIn(JsonNode body, String f, int dflt, int min, int max) {
        JsonNode v = body.get(f);
        if (v == null || v.isNull()) return dflt;
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < min || v.asInt() > max) {
            throw OpenAiException.invalid(f, "'" + f + "' must be an integer in [" + min + ", " + (max == Integer.MAX_VALUE ? "inf" : max) + "], got " + v);
        }
        return v.asInt();
    }

    private static float floatIn(JsonNode body, String f, float dflt, float min, float max) {
        JsonNode v = body.get(f);
        if (v == null || v.isNull()) return dflt;
        if (!v.isNumber() || v.asDouble() < min || v.asDouble() > max || Double.isNaN(v.asDouble())) {
            throw OpenAiException.invalid(f, "'" + f + "' must be a number in [" + min + ", " + max + "], got " + v);
        }
        return (float) v.asDouble();
    }
}
