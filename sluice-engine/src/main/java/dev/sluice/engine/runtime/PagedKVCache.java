package dev.sluice.engine.runtime;

import dev.sluice.engine.model.ModelConfig;

import java.util.Arrays;

/**
 * A pool of fixed-size KV blocks shared by many sequences (vLLM's PagedAttention layout), sized
 * by a memory budget; each sequence holds a {@link Sequence block table}.
 *
 * <p>Design note. Each layer has one {@code float[]} for keys and one for values, of
 * {@code numBlocks * blockSize * kvDim} floats; block {@code b} holds positions
 * {@code [b * blockSize, (b + 1) * blockSize)} of whichever sequence owns it, from float offset
 * {@code b * blockSize * kvDim} ({@link Sequence#blockOffset}). A sequence's position {@code p}
 * lives in block {@code table[p / blockSize]}, at in-block index {@code i = p % blockSize}:
 *
 * <ul>
 *   <li>values position-major, {@code [block][i][kvDim]}: position {@code p}'s row at
 *       {@code blockOffset + i * kvDim} ({@link Sequence#offset}), so the weighted sum of attention
 *       reads one contiguous row per position;</li>
 *   <li>keys transposed, {@code [block][kvDim][blockSize]}: element {@code e} of position {@code p}
 *       at {@code blockOffset + e * blockSize + i} ({@link Sequence#writeKeys}), so element {@code e}
 *       of consecutive positions is contiguous and attention computes the scores of 16 positions as
 *       the lanes of one vector (one FMA per element, no lane reduction per position).</li>
 * </ul>
 *
 * <p>Blocks come from a free list (LIFO) and are never shared, so a
 * sequence's keys and values do not depend on what else is in the pool. Memory is
 * {@link #bytesPerBlock(ModelConfig, int)} per block, allocated once at construction.
 *
 * <p>Not thread-safe: the scheduler's engine thread owns the pool and every sequence;
 * {@link #usedBlocks()} and {@link #totalBlocks()} may be read from any thread.
 */
public final class PagedKVCache {
    final float[][] k, v;
    private final int blockSize, numBlocks, kvDim, nLayers;
    private final int[] free;
    private int nFree;
    private volatile int used;

    /**
     * @param blockSize positions per block
     * @param numBlocks blocks in the pool
     * @throws IllegalArgumentException when a size is not positive or a layer would exceed one Java array
     */
    public PagedKVCache(ModelConfig config, int blockSize, int numBlocks) {
        if (blockSize <= 0) throw new IllegalArgumentException("KV block size must be > 0, got " + blockSize);
        if (numBlocks <= 0) throw new IllegalArgumentException("KV block count must be > 0, got " + numBlocks);
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        this.kvDim = config.kvDim();
        this.nLayers = config.nLayers();
        long floats = (long) numBlocks * blockSize * kvDim;
        if (floats > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("KV pool of " + numBlocks + " blocks x " + blockSize + " positions x kvDim " + kvDim
                    + " exceeds one array per layer; lower the KV budget");
        }
        k = new float[nLayers][(int) floats];
        v = new float[nLayers][(int) floats];
        free = new int[numBlocks];
        for (int i = 0; i < numBlocks; i++) free[i] = numBlocks - 1 - i;
        nFree = numBlocks;
    }

    /** A pool of as many blocks as fit in {@code budgetBytes} (at least one). */
    public static PagedKVCache ofBudget(ModelConfig config, int blockSize, long budgetBytes) {
        long n = budgetBytes / bytesPerBlock(config, blockSize);
        if (n < 1) {
            throw new IllegalArgumentException("KV budget " + budgetBytes + " bytes is below one block of " + blockSize + " positions ("
                    + bytesPerBlock(config, blockSize) + " bytes)");
        }
        return new PagedKVCache(config, blockSize, (int) Math.min(n, Integer.MAX_VALUE));
    }

    /** Bytes of one block: keys and values of {@code blockSize} positions in every layer, as floats. */
    public static long bytesPerBlock(ModelConfig config, int blockSize) {
        return 2L * config.nLayers() * blockSize * config.kvDim() * Float.BYTES;
    }

    public int blockSize() { return blockSize; }

    public int totalBlocks() { return numBlocks; }

    /** Blocks held by sequences now. */
    public int usedBlocks() { return used; }

    public int freeBlocks() { return nFree; }

    /** Positions the whole pool can hold. */
    public long capacityTokens() { return (long) numBlocks * blockSize; }

    /** Blocks needed to hold {@code positions} positions. */
    public int blocksFor(int positions) {
        return (positions + blockSize - 1) / blockSize;
    }

    /** A new, empty sequence holding no blocks. */
    public Sequence newSequence() {
        return new Sequence();
    }

    /**
     * One sequence's block table. {@link #length()} positions are filled; the forward pass writes
     * positions {@code [length, length + n)} after {@link #reserve} made room for them.
     */
    public final class Sequence {
        private int[] table = new int[4];
        private int nBlocks;
        private int length;

        /** Positions filled. */
        public int length() { return length; }

        /** Blocks held. */
        public int blocks() { return nBlocks; }

        /** Positions that fit in the blocks already held. */
        public int capacity() { return nBlocks * blockSize; }

        /** Blocks that {@link #reserve reserving} {@code positions} would take from the pool. */
        public int blocksNeeded(int positions) {
            return Math.max(0, blocksFor(positions) - nBlocks);
        }

        /** Takes blocks until {@code positions} positions fit; all or nothing. Returns false when the pool has too few. */
        public boolean reserve(int positions) {
            int need = blocksNeeded(positions);
            if (need > nFree) return false;
            if (nBlocks + need > table.length) table = Arrays.copyOf(table, Math.max(table.length * 2, nBlocks + need));
            for (int i = 0; i < need; i++) table[nBlocks++] = free[--nFree];
            used = numBlocks - nFree;
            return true;
        }

        /** Returns every block to the pool and empties the sequence. */
        public void release() {
            for (int i = 0; i < nBlocks; i++) free[nFree++] = table[i];
            nBlocks = 0;
            length = 0;
            used = numBlocks - nFree;
        }

        void setLength(int newLength) {
            if (newLength > capacity()) throw new IllegalStateException("length " + newLength + " exceeds reserved capacity " + capacity());
            length = newLength;
        }

        /** Float offset of the sequence's {@code b}-th block (positions {@code [b * blockSize, (b + 1) * blockSize)}) in a layer array. */
        int blockOffset(int b) {
            return table[b] * blockSize * kvDim;
        }

        /** Float offset of position {@code pos}'s value row in a layer array. */
        int offset(int pos) {
            return blockOffset(pos / blockSize) + pos % blockSize * kvDim;
        }

        /**
         * {@code dst[j - first] = offset(j)} for {@code first <= j <= last}: one division per block
         * instead of one per position (attention reads every position of every head through these).
         */
        void offsets(int first, int last, int[] dst) {
            int j = first;
            while (j <= last) {
                int b = j / blockSize, end = Math.min(last, (b + 1) * blockSize - 1);
                int o = blockOffset(b) + j % blockSize * kvDim;
                for (; j <= end; j++, o += kvDim) dst[j - first] = o;
            }
        }

        /** Writes {@code n} value rows of {@code kvDim} floats from {@code src[srcOff ..]} at positions {@code pos ..} of {@code dst}. */
        void write(float[] dst, int pos, float[] src, int srcOff, int n) {
            int t = 0;
            while (t < n) {
                int p = pos + t;
                int run = Math.min(n - t, blockSize - p % blockSize);
                System.arraycopy(src, srcOff + t * kvDim, dst, offset(p), run * kvDim);
                t += run;
            }
        }

        /**
         * Writes {@code n} key rows of {@code kvDim} floats from {@code src[srcOff ..]} at positions
         * {@code pos ..} of {@code dst}, transposed: element {@code e} of position {@code p} goes to
         * {@code blockOffset(p / blockSize) + e * blockSize + p % blockSize}.
         */
        void writeKeys(float[] dst, int pos, float[] src, int srcOff, int n) {
            int t = 0;
            while (t < n) {
                int p = pos + t, b = p / blockSize, i = p - b * blockSize;
                int run = Math.min(n - t, blockSize - i);
                int to = blockOffset(b) + i, from = srcOff + t * kvDim;
                for (int e = 0; e < kvDim; e++, to += blockSize) {
                    for (int x = 0; x < run; x++) dst[to + x] = src[from + x * kvDim + e];
                }
                t += run;
            }
        }
    }
}
