package dev.sluice.engine.scheduler;

import dev.sluice.engine.runtime.Generator;

/** Why a scheduled sequence ended. */
public enum FinishReason {
    /** a stop token or stop string */
    STOP,
    /** {@code maxTokens}, the model's context, or the whole KV cache */
    LENGTH,
    /** {@link SequenceHandle#cancel()} or the scheduler closed */
    CANCELLED,
    /** the request's deadline passed */
    DEADLINE;

    /** The nearest {@link Generator.FinishReason} ({@link #DEADLINE} maps to {@code CANCELLED}). */
    public Generator.FinishReason toGenerator() {
        return switch (this) {
            case STOP -> Generator.FinishReason.STOP;
            case LENGTH -> Generator.FinishReason.LENGTH;
            case CANCELLED, DEADLINE -> Generator.FinishReason.CANCELLED;
        };
    }
}
