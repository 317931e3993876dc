package dev.sluice.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;

/** Token usage of one response, as OpenAI's {@code usage} object reports it. */
public record Usage(int promptTokens, int completionTokens) {
    public static final Usage NONE = new Usage(0, 0);

    public int totalTokens() {
        return promptTokens + completionTokens;
    }

    /** Reads an OpenAI {@code usage} object; null when absent or not an object. */
    public static Usage of(JsonNode usage) {
        if (usage == null || !usage.isObject()) return null;
        return new Usage(usage.path("prompt_tokens").asInt(0), usage.path("completion_tokens").asInt(0));
    }
}
