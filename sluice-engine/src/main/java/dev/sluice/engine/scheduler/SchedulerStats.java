package dev.sluice.engine.scheduler;

/**
 * A snapshot of a {@link Scheduler}'s load and counters.
 *
 * @param waiting          sequences queued (new, or preempted to be recomputed)
 * @param running          sequences in the running batch
 * @param kvBlocksUsed     KV blocks held by sequences
 * @param kvBlocksTotal    KV blocks in the pool
 * @param blockSize        positions per block
 * @param preemptions      sequences preempted since start
 * @param steps            forward steps run since start
 * @param tokensForwarded  tokens run through the model since start (prompt, recompute and decode)
 * @param finished         sequences finished since start (any reason, errors included)
 */
public record SchedulerStats(int waiting, int running, int kvBlocksUsed, int kvBlocksTotal, int blockSize, long preemptions,
                             long steps, long tokensForwarded, long finished) {
    /** KV positions in use (used blocks x block size). */
    public long kvUsedTokens() {
        return (long) kvBlocksUsed * blockSize;
    }

    /** KV positions in the pool. */
    public long kvCapacityTokens() {
        return (long) kvBlocksTotal * blockSize;
    }
}
