package dev.sluice.server.inference;

import java.util.List;
import java.util.Map;

/**
 * Sampling and stopping options of one generation, already validated by the API layer.
 *
 * @param topLogprobs alternatives per token when {@code logprobs} is true (0..20)
 * @param seed        null for a random seed
 * @param ignoreEos   vLLM's {@code ignore_eos}: the model's end-of-generation tokens do not stop generation
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
        int topLogprobs,
        boolean ignoreEos) {

    /** Without {@code ignore_eos}. */
    public GenerationOptions(int maxTokens, float temperature, float topP, int topK, float minP, float presencePenalty,
                             float frequencyPenalty, float repetitionPenalty, Map<Integer, Float> logitBias, Long seed,
                             List<String> stop, boolean logprobs, int topLogprobs) {
        this(maxTokens, temperature, topP, topK, minP, presencePenalty, frequencyPenalty, repetitionPenalty, logitBias, seed,
                stop, logprobs, topLogprobs, false);
    }

    /** These options for another choice of the same request ({@code n > 1}): its own token budget and seed. */
    public GenerationOptions withMaxTokensAndSeed(int maxTokens, Long seed) {
        return new GenerationOptions(maxTokens, temperature, topP, topK, minP, presencePenalty, frequencyPenalty, repetitionPenalty,
                logitBias, seed, stop, logprobs, topLogprobs, ignoreEos);
    }
}
