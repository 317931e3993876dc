package dev.sluice.engine.scheduler;

import java.util.concurrent.CompletableFuture;

/** A submitted sequence. Thread-safe. */
public interface SequenceHandle {
    /** Submission order, unique per scheduler. */
    long id();

    /**
     * Asks the sequence to stop: it leaves the batch before the next forward step, its KV blocks
     * are freed and it finishes with {@link FinishReason#CANCELLED}. No effect once finished.
     */
    void cancel();

    /** Completes with the result, or exceptionally when the sequence failed. */
    CompletableFuture<SequenceResult> result();
}
