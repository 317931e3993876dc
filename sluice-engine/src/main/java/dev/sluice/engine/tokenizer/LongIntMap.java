package dev.sluice.engine.tokenizer;

import java.util.Arrays;

/** Open-addressing map from long keys to int values (BPE merge ranks); read-only after building. */
final class LongIntMap {
    private static final long EMPTY = Long.MIN_VALUE;
    private long[] keys;
    private int[] values;
    private int size;
    private int mask;

    LongIntMap(int expected) {
        int cap = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        keys = new long[cap];
        values = new int[cap];
        Arrays.fill(keys, EMPTY);
        mask = cap - 1;
    }

    private static int hash(long k) {
        k ^= k >>> 33;
        k *= 0xff51afd7ed558ccdL;
        k ^= k >>> 33;
        return (int) k;
    }

    /** Puts unless the key is present; returns whether it was added. */
    boolean putIfAbsent(long key, int value) {
        if ((size + 1) * 2 > keys.length) grow();
        int i = hash(key) & mask;
        while (keys[i] != EMPTY) {
            if (keys[i] == key) return false;
            i = (i + 1) & mask;
        }
        keys[i] = key;
        values[i] = value;
        size++;
        return true;
    }

    int get(long key, int missing) {
        int i = hash(key) & mask;
        while (keys[i] != EMPTY) {
            if (keys[i] == key) return values[i];
            i = (i + 1) & mask;
        }
        return missing;
    }

    int size() { return size; }

    private void grow() {
        long[] ok = keys;
        int[] ov = values;
        keys = new long[ok.length * 2];
        values = new int[ok.length * 2];
        Arrays.fill(keys, EMPTY);
        mask = keys.length - 1;
        size = 0;
        for (int i = 0; i < ok.length; i++) if (ok[i] != EMPTY) putIfAbsent(ok[i], ov[i]);
    }
}
