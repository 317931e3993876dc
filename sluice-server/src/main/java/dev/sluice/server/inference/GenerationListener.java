package dev.sluice.server.inference;

import java.util.List;

/**
 * Receives one generation's output, in order, on an engine thread. Implementations must not block.
 * Tokens and text arrive separately: text can lag tokens (an incomplete UTF-8 character, or a
 * possible stop-string prefix held back), and a stop string's tokens never produce text.
 */
public interface GenerationListener {
    /** One alternative in a logprobs listing. */
    record TopLogprob(String token, float logprob) {}

    /**
     * A sampled token.
     *
     * @param token       the token's text (may be a partial UTF-8 character rendered with U+FFFD)
     * @param logprob     log-probability of the sampled token, when logprobs were asked for, else NaN
     * @param topLogprobs alternatives, when asked for, else empty
     */
    void onToken(int tokenId, String token, float logprob, List<TopLogprob> topLogprobs);

    /** Newly final text. */
    void onText(String text);

    /**
     * @param finishReason {@code stop} (EOS or stop string), {@code length} (max tokens or context), or {@code cancelled}
     */
    void onComplete(String finishReason, int promptTokens, int completionTokens);

    void onError(Throwable error);
}
