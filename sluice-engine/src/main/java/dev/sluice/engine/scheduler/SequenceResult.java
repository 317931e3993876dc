package dev.sluice.engine.scheduler;

/**
 * The outcome of a scheduled sequence.
 *
 * @param tokens       generated tokens, stop token excluded
 * @param text         generated text without any stop string, or null without a tokenizer
 * @param promptTokens prompt length
 * @param preemptions  times the sequence was preempted and recomputed
 * @param firstTokenNanos nanoseconds from submission to the first generated token, or -1 when none
 */
public record SequenceResult(int[] tokens, String text, FinishReason finishReason, int promptTokens, int preemptions,
                             long firstTokenNanos, long totalNanos) {}
