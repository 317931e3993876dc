package dev.sluice.engine.sampling;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * How to pick the next token and when to stop. Validated on construction; an out-of-range value
 * throws {@link InvalidSamplingParamsException} naming the field as the OpenAI API does
 * ({@code top_p}, {@code logit_bias}, ...). See {@link Sampler} for the order the steps apply in.
 *
 * @param temperature       divides logits; {@code 0} means greedy (argmax). Range [0, {@value #MAX_TEMPERATURE}]
 * @param topK              keep the k most likely tokens; {@code 0} disables. Range [0, vocab]
 * @param topP              keep the smallest set of most likely tokens whose probability sums to at least p; {@code 1} disables. Range (0, 1]
 * @param minP              drop tokens less likely than {@code minP * p(most likely)}; {@code 0} disables. Range [0, 1]
 * @param repetitionPenalty Hugging Face/CTRL penalty over prompt and generated tokens: positive logits are divided by it, negative multiplied; {@code 1} disables. Range (0, {@value #MAX_REPETITION_PENALTY}]
 * @param presencePenalty   OpenAI: subtracted once from every token generated so far. Range [-2, 2]
 * @param frequencyPenalty  OpenAI: subtracted per occurrence of every token generated so far. Range [-2, 2]
 * @param logitBias         added to the logit of a token id; -100 bans it, +100 all but forces it. Values in [-100, 100], at most {@value #MAX_LOGIT_BIAS} entries
 * @param seed              RNG seed; the same seed, prompt and parameters give the same output. Null: a random seed
 * @param maxTokens         generated tokens at most; hitting it finishes with {@code length}. Range [1, {@value #MAX_MAX_TOKENS}]
 * @param stopTokenIds      token ids that end generation (in addition to the model's end-of-generation ids); the stop token is not emitted as text
 * @param stopStrings       texts that end generation; the text up to (not including) the first match is returned. At most {@value #MAX_STOP_STRINGS}, each non-empty
 * @param logprobs          report the log probability of each chosen token
 * @param topLogprobs       also report this many most likely alternatives per position. Range [0, {@value #MAX_TOP_LOGPROBS}]
 * @param ignoreEos         vLLM's {@code ignore_eos}: the model's end-of-generation ids do not stop generation (they are
 *                          kept and emitted like any token), so a generation runs to {@code maxTokens} unless a stop
 *                          string or one of {@code stopTokenIds} ends it; benchmarks use it to fix output lengths
 */
public record SamplingParams(
        float temperature,
        int topK,
        float topP,
        float minP,
        float repetitionPenalty,
        float presencePenalty,
        float frequencyPenalty,
        Map<Integer, Float> logitBias,
        Long seed,
        int maxTokens,
        Set<Integer> stopTokenIds,
        List<String> stopStrings,
        boolean logprobs,
        int topLogprobs,
        boolean ignoreEos) {

    /** Without {@code ignoreEos} (false). */
    public SamplingParams(float temperature, int topK, float topP, float minP, float repetitionPenalty, float presencePenalty,
                          float frequencyPenalty, Map<Integer, Float> logitBias, Long seed, int maxTokens, Set<Integer> stopTokenIds,
                          List<String> stopStrings, boolean logprobs, int topLogprobs) {
        this(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty, logitBias, seed, maxTokens,
                stopTokenIds, stopStrings, logprobs, topLogprobs, false);
    }

    /** OpenAI's temperature ceiling; higher values are noise. */
    public static final float MAX_TEMPERATURE = 2f;
    /** Default {@code max_tokens} (tokens) when the caller names none: bounded so a request cannot run forever. */
    public static final int DEFAULT_MAX_TOKENS = 256;
    /** Upper bound on {@code max_tokens} (tokens); the context length usually binds first. */
    public static final int MAX_MAX_TOKENS = 1 << 20;
    /** OpenAI allows 4 stop sequences; we allow a few more. */
    public static final int MAX_STOP_STRINGS = 16;
    /** OpenAI's ceiling for {@code top_logprobs}. */
    public static final int MAX_TOP_LOGPROBS = 20;
    /** Entries of {@code logit_bias}, as OpenAI bounds the map (300). */
    public static final int MAX_LOGIT_BIAS = 300;
    /** Beyond this the penalty erases all signal. */
    public static final float MAX_REPETITION_PENALTY = 10f;

    public SamplingParams {
        range("temperature", temperature, 0, MAX_TEMPERATURE);
        if (topK < 0) throw new InvalidSamplingParamsException("top_k", "must be >= 0 (0 disables), got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new InvalidSamplingParamsException("top_p", "must be in (0, 1], got " + topP);
        range("min_p", minP, 0, 1);
        if (!(repetitionPenalty > 0 && repetitionPenalty <= MAX_REPETITION_PENALTY)) {
            throw new InvalidSamplingParamsException("repetition_penalty", "must be in (0, " + MAX_REPETITION_PENALTY + "], got " + repetitionPenalty);
        }
        range("presence_penalty", presencePenalty, -2, 2);
        range("frequency_penalty", frequencyPenalty, -2, 2);
        logitBias = logitBias == null ? Map.of() : Map.copyOf(logitBias);
        if (logitBias.size() > MAX_LOGIT_BIAS) throw new InvalidSamplingParamsException("logit_bias", "at most " + MAX_LOGIT_BIAS + " entries, got " + logitBias.size());
        for (var e : logitBias.entrySet()) {
            if (e.getKey() < 0) throw new InvalidSamplingParamsException("logit_bias", "token id must be >= 0, got " + e.getKey());
            if (!(e.getValue() >= -100 && e.getValue() <= 100)) {
                throw new InvalidSamplingParamsException("logit_bias", "bias for token " + e.getKey() + " must be in [-100, 100], got " + e.getValue());
            }
        }
        if (maxTokens < 1 || maxTokens > MAX_MAX_TOKENS) throw new InvalidSamplingParamsException("max_tokens", "must be in [1, " + MAX_MAX_TOKENS + "], got " + maxTokens);
        stopTokenIds = stopTokenIds == null ? Set.of() : Set.copyOf(stopTokenIds);
        for (int id : stopTokenIds) if (id < 0) throw new InvalidSamplingParamsException("stop_token_ids", "token id must be >= 0, got " + id);
        stopStrings = stopStrings == null ? List.of() : List.copyOf(stopStrings);
        if (stopStrings.size() > MAX_STOP_STRINGS) throw new InvalidSamplingParamsException("stop", "at most " + MAX_STOP_STRINGS + " stop strings, got " + stopStrings.size());
        for (String s : stopStrings) if (s.isEmpty()) throw new InvalidSamplingParamsException("stop", "stop strings must not be empty");
        if (topLogprobs < 0 || topLogprobs > MAX_TOP_LOGPROBS) throw new InvalidSamplingParamsException("top_logprobs", "must be in [0, " + MAX_TOP_LOGPROBS + "], got " + topLogprobs);
    }

    private static void range(String field, float v, float lo, float hi) {
        if (!(v >= lo && v <= hi)) throw new InvalidSamplingParamsException(field, "must be in [" + lo + ", " + hi + "], got " + v);
    }

    /** True when sampling is a plain argmax (temperature 0). */
    public boolean greedy() {
        return temperature == 0f;
    }

    /** Defaults: temperature 1, no filters, no penalties, {@link #DEFAULT_MAX_TOKENS}. */
    public static SamplingParams defaults() {
        return builder().build();
    }

    /** Greedy decoding with {@code maxTokens}. */
    public static SamplingParams greedy(int maxTokens) {
        return builder().temperature(0).maxTokens(maxTokens).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.temperature = temperature; b.topK = topK; b.topP = topP; b.minP = minP;
        b.repetitionPenalty = repetitionPenalty; b.presencePenalty = presencePenalty; b.frequencyPenalty = frequencyPenalty;
        b.logitBias = logitBias; b.seed = seed; b.maxTokens = maxTokens; b.stopTokenIds = stopTokenIds;
        b.stopStrings = stopStrings; b.logprobs = logprobs; b.topLogprobs = topLogprobs; b.ignoreEos = ignoreEos;
        return b;
    }

    /** Mutable builder holding the defaults; {@link #build()} validates. */
    public static final class Builder {
        private float temperature = 1f;
        private int topK = 0;
        private float topP = 1f;
        private float minP = 0f;
        private float repetitionPenalty = 1f;
        private float presencePenalty = 0f;
        private float frequencyPenalty = 0f;
        private Map<Integer, Float> logitBias = Map.of();
        private Long seed = null;
        private int maxTokens = DEFAULT_MAX_TOKENS;
        private Set<Integer> stopTokenIds = Set.of();
        private List<String> stopStrings = List.of();
        private boolean logprobs = false;
        private int topLogprobs = 0;
        private boolean ignoreEos = false;

        public Builder temperature(float v) { temperature = v; return this; }
        public Builder topK(int v) { topK = v; return this; }
        public Builder topP(float v) { topP = v; return this; }
        public Builder minP(float v) { minP = v; return this; }
        public Builder repetitionPenalty(float v) { repetitionPenalty = v; return this; }
        public Builder presencePenalty(float v) { presencePenalty = v; return this; }
        public Builder frequencyPenalty(float v) { frequencyPenalty = v; return this; }
        public Builder logitBias(Map<Integer, Float> v) { logitBias = v; return this; }
        public Builder seed(Long v) { seed = v; return this; }
        public Builder maxTokens(int v) { maxTokens = v; return this; }
        public Builder stopTokenIds(Set<Integer> v) { stopTokenIds = v; return this; }
        public Builder stopStrings(List<String> v) { stopStrings = v; return this; }
        public Builder logprobs(boolean v) { logprobs = v; return this; }
        public Builder topLogprobs(int v) { topLogprobs = v; return this; }
        public Builder ignoreEos(boolean v) { ignoreEos = v; return this; }

        public SamplingParams build() {
            return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty,
                    logitBias, seed, maxTokens, stopTokenIds, stopStrings, logprobs, topLogprobs, ignoreEos);
        }
    }
}
