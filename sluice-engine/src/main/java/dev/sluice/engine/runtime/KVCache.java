package dev.sluice.engine.runtime;

import dev.sluice.engine.model.ModelConfig;

/**
 * Keys and values of every layer for one sequence, as float arrays {@code [position][nKvHeads * headDim]}
 * per layer, sized once for {@link #capacity()} positions.
 *
 * <p>Memory is {@code 2 * nLayers * capacity * kvDim * 4} bytes (e.g. 128 MiB for an 8-layer,
 * kvDim 1024 model at 4096 positions). {@link #length()} is the number of positions filled; the
 * forward pass writes positions {@code [startPos, startPos + n)} and sets the length to
 * {@code startPos + n}, so rewinding (re-running from an earlier position) simply overwrites.
 * Not thread-safe: one sequence, one caller at a time.
 */
public final class KVCache {
    final float[][] k, v;
    private final int capacity, kvDim;
    private int length;

    public KVCache(ModelConfig config, int capacity) {
        if (capacity <= 0) throw new IllegalArgumentException("KV cache capacity must be > 0, got " + capacity);
        this.capacity = capacity;
        this.kvDim = config.kvDim();
        long floats = (long) capacity * kvDim;
        if (floats > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("KV cache of " + capacity + " positions x kvDim " + kvDim + " exceeds one array per layer; lower the context cap");
        }
        k = new float[config.nLayers()][(int) floats];
        v = new float[config.nLayers()][(int) floats];
    }

    /** Positions this cache can hold; a forward pass past it throws {@link ContextOverflowException}. */
    public int capacity() {
        return capacity;
    }

    /** Positions filled so far (the next token's position). */
    public int length() {
        return length;
    }

    /** Forgets positions at and after {@code newLength} (e.g. to reuse a shared prompt prefix). */
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length) throw new IllegalArgumentException("cannot truncate KV cache of length " + length + " to " + newLength);
        length = newLength;
    }

    void setLength(int length) {
        this.length = length;
    }

    int kvDim() {
        return kvDim;
    }

    /** Bytes held by the arrays. */
    public long bytes() {
        return 2L * k.length * capacity * kvDim * Float.BYTES;
    }
}
