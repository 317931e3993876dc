package dev.sluice.engine.scheduler;

/**
 * Limits of a {@link Scheduler}, validated when built. Every default lives here, with its unit and reason.
 *
 * @param maxRunning      sequences in the running batch at once; more wait in the queue
 * @param maxWaiting      sequences waiting to run; {@link Scheduler#submit} throws {@link QueueFullException} beyond it
 * @param stepTokenBudget tokens per forward step: one per decoding sequence first, then chunks of
 *                        prompt (chunked prefill) up to the budget; must be at least {@code maxRunning}
 *                        so every running sequence can decode in each step
 * @param kvCacheBytes    memory of the paged KV cache (bytes, on the Java heap), split into blocks;
 *                        when blocks run out, sequences are preempted and recomputed later. The
 *                        scheduler allocates at most what {@code maxRunning} sequences at the model's
 *                        full context need
 * @param blockSize       positions per KV block
 * @param batchInvariant  keep each sequence's logits bit-identical whatever else is in the batch
 *                        (see {@link dev.sluice.engine.runtime.Transformer#forwardBatch}); false lets
 *                        a lone decoding sequence use the faster single-vector kernels
 */
public record SchedulerConfig(int maxRunning, int maxWaiting, int stepTokenBudget, long kvCacheBytes, int blockSize,
                              boolean batchInvariant) {
    /** Sequences per batch: aggregate decode throughput flattens out past ~16 on CPUs (matmul turns compute-bound). */
    public static final int DEFAULT_MAX_RUNNING = 16;
    /** Waiting sequences: bounded so overload is refused early (HTTP 503) rather than queued without limit. */
    public static final int DEFAULT_MAX_WAITING = 256;
    /** Tokens per step (512): large enough to amortize weight reads over a prompt chunk, small enough that decoding sequences stall at most one chunk. */
    public static final int DEFAULT_STEP_TOKEN_BUDGET = 512;
    /** KV cache memory: 512 MiB, e.g. ~21k positions of a Qwen2.5-0.5B-shaped model, ~2k of an 8B Llama. */
    public static final long DEFAULT_KV_CACHE_BYTES = 512L << 20;
    /** Positions per KV block (16, as vLLM): small enough to waste little at a sequence's tail. */
    public static final int DEFAULT_BLOCK_SIZE = 16;
    /** Identical greedy output alone or batched, by default. */
    public static final boolean DEFAULT_BATCH_INVARIANT = true;

    public SchedulerConfig {
        if (maxRunning < 1) throw new IllegalArgumentException("scheduler maxRunning must be >= 1, got " + maxRunning);
        if (maxWaiting < 1) throw new IllegalArgumentException("scheduler maxWaiting must be >= 1, got " + maxWaiting);
        if (stepTokenBudget < maxRunning) {
            throw new IllegalArgumentException("scheduler stepTokenBudget must be >= maxRunning (" + maxRunning + "), got " + stepTokenBudget);
        }
        if (kvCacheBytes <= 0) throw new IllegalArgumentException("scheduler kvCacheBytes must be > 0, got " + kvCacheBytes);
        if (blockSize < 1 || blockSize > 1024) throw new IllegalArgumentException("scheduler blockSize must be in [1, 1024], got " + blockSize);
    }

    /** All defaults. */
    public static SchedulerConfig defaults() {
        return new SchedulerConfig(DEFAULT_MAX_RUNNING, DEFAULT_MAX_WAITING, DEFAULT_STEP_TOKEN_BUDGET, DEFAULT_KV_CACHE_BYTES,
                DEFAULT_BLOCK_SIZE, DEFAULT_BATCH_INVARIANT);
    }

    public SchedulerConfig withMaxRunning(int v) {
        return new SchedulerConfig(v, maxWaiting, Math.max(stepTokenBudget, v), kvCacheBytes, blockSize, batchInvariant);
    }

    public SchedulerConfig withMaxWaiting(int v) {
        return new SchedulerConfig(maxRunning, v, stepTokenBudget, kvCacheBytes, blockSize, batchInvariant);
    }

    public SchedulerConfig withStepTokenBudget(int v) {
        return new SchedulerConfig(maxRunning, maxWaiting, v, kvCacheBytes, blockSize, batchInvariant);
    }

    public SchedulerConfig withKvCacheBytes(long v) {
        return new SchedulerConfig(maxRunning, maxWaiting, stepTokenBudget, v, blockSize, batchInvariant);
    }

    public SchedulerConfig withBlockSize(int v) {
        return new SchedulerConfig(maxRunning, maxWaiting, stepTokenBudget, kvCacheBytes, v, batchInvariant);
    }

    public SchedulerConfig withBatchInvariant(boolean v) {
        return new SchedulerConfig(maxRunning, maxWaiting, stepTokenBudget, kvCacheBytes, blockSize, v);
    }
}
