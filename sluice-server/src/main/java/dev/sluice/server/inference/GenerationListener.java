package dev.sluice.server.inference;

import java.util.List;

/** Receives one generation's output, in order, on an engine thread. Implementations must not block. */
public interface GenerationListener {
    /** One alternative in a logprobs listing. */
    record TopLogprob(String token, float logprob) {}

    /**
     * New text. {@code text} may be empty when a token completes no UTF-8 character yet or is held
     * back as a possible stop-string prefix.
     *
     * @param logprob     log-probability of the sampled token, when logprobs were asked for
     * @param topLogprobs alternatives, when asked for, else empty
     */
    void onToken(int tokenId, String text, float logprob, List<TopLogprob> topLogprobs);

    /**
     * @param finishReason {@code stop} (EOS or stop string), {@code length} (max tokens or context), or {@code cancelled}
     */
    void onComplete(String finishReason, int promptTokens, int completionTokens);

    void onError(Throwable error);
}
