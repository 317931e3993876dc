package dev.sluice.server.inference;

import java.util.List;
import java.util.Map;

/**
 * What the OpenAI routes need from a model: its identity, prompt rendering and tokenization,
 * and streaming generation. The in-process engine implements it ({@link EngineInferenceModel});
 * tests use fakes; later, remote workers and upstream servers will too.
 */
public interface InferenceModel {
    /** Public model id, as listed by {@code GET /v1/models}. */
    String id();

    /** Creation time, seconds since the epoch. */
    long created();

    /** True when the model writes DeepSeek-R1-style {@code <think>} reasoning, to be split into {@code reasoning_content}. */
    default boolean reasoning() { return false; }

    /** Throws an overloaded {@code OpenAiException} (503) when the model cannot take another request now. */
    default void admit() {}

    /** Current load (queue, running sequences, KV cache use, preemptions); {@link EngineStats#UNKNOWN} when not known. */
    default EngineStats stats() { return EngineStats.UNKNOWN; }

    /** Maximum prompt + completion tokens. */
    int contextLength();

    /** A rendered chat prompt: the template's text and its token ids. */
    record ChatPrompt(String text, int[] ids) {}

    /**
     * Renders messages with the model's chat template (generation prompt added) and tokenizes with special-token parsing.
     *
     * @param templateVars extra template variables ({@code chat_template_kwargs}, e.g. {@code enable_thinking}), or null
     */
    ChatPrompt encodeChat(List<Map<String, Object>> messages, List<Map<String, Object>> tools, Map<String, Object> templateVars);

    /** Tokenizes plain text. */
    int[] tokenize(String text, boolean addSpecial, boolean parseSpecial);

    String detokenize(int[] ids);

    /**
     * Starts generating a continuation of {@code prompt}. Events arrive on {@code listener} from
     * an engine thread, in order, ending with exactly one {@code onComplete} or {@code onError}.
     */
    Generation generate(int[] prompt, GenerationOptions options, GenerationListener listener);

    /** A running generation. */
    interface Generation {
        /** Stops the generation at the next token; its listener then sees {@code onComplete("cancelled")}. */
        void cancel();
    }
}
