package dev.sluice.engine.sampling;

import java.util.List;

/**
 * The log probability of a chosen token and of the most likely alternatives at its position,
 * taken from the model's raw distribution (see {@link Sampler}).
 *
 * @param top the {@code topLogprobs} most likely tokens, most likely first
 */
public record TokenLogprob(int token, float logprob, List<Alternative> top) {
    /** One alternative token and its log probability. */
    public record Alternative(int token, float logprob) {}
}
