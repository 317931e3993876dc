package dev.sluice.engine.scheduler;

import dev.sluice.engine.runtime.Generator;

/**
 * Receives one scheduled sequence's stream on the scheduler's engine thread: tokens and text as
 * {@link Generator.Listener} defines them, then exactly one of {@link #onFinish} or {@link #onError}.
 * Implementations must not block: every sequence in the batch waits for them.
 */
public interface SequenceListener extends Generator.Listener {
    /** The sequence ended normally (including cancellation and deadline). */
    default void onFinish(SequenceResult result) {}

    /** The sequence failed (e.g. a listener threw, or the forward pass did); its KV blocks are already freed. */
    default void onError(RuntimeException error) {}
}
