package dev.sluice.server.inference;

import java.util.List;
import java.util.Map;

/**
 * Sampling and stopping options of one generation, already validated by the API layer.
 *
 * @param topLogprobs alternatives per token when {@code logprobs} is true (0..20)
 * @param seed        null for a random seed
 */
public record GenerationOptions(
        int maxTokens,
        float temperature,
        float topP,
        int topK,
        float minP,
        float presencePenalty,
        float frequencyPenalty,
        float repetitionPenalty,
        Map<Integer, Float> logitBias,
        Long seed,
        List<String> stop,
        boolean logprobs,
        int topLogprobs) {}
