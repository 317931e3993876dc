package dev.sluice.engine.kernels;

import org.junit.jupiter.api.Test;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ParallelTest {

    @Test
    void everyIndexRunsExactlyOnce() {
        for (int n : new int[] {1, 2, 7, 100, 10_000}) {
            AtomicIntegerArray hits = new AtomicIntegerArray(n);
            Parallel.forRange(n, 1, (from, to) -> {
                for (int i = from; i < to; i++) hits.incrementAndGet(i);
            });
            for (int i = 0; i < n; i++) assertThat(hits.get(i)).as("n=%d i=%d", n, i).isEqualTo(1);
        }
    }

    /** A chunk cut at segment boundaries: every piece within one segment, empty segments skipped, the pieces tiling the chunk in order. */
    @Test
    void bySegmentCutsAChunkAtTheBoundaries() {
        int[] starts = {0, 3, 3, 10, 11, 20};
        java.util.List<String> pieces = new java.util.ArrayList<>();
        Parallel.bySegment(starts, 2, 15, (i, from, to) -> pieces.add(i + ":" + from + "-" + to));
        assertThat(pieces).containsExactly("0:2-3", "2:3-10", "3:10-11", "4:11-15");
        pieces.clear();
        Parallel.bySegment(starts, 3, 10, (i, from, to) -> pieces.add(i + ":" + from + "-" + to));
        assertThat(pieces).containsExactly("2:3-10");
        pieces.clear();
        Parallel.bySegment(starts, 19, 20, (i, from, to) -> pieces.add(i + ":" + from + "-" + to));
        assertThat(pieces).containsExactly("4:19-20");
    }

    @Test
    void nestedCallsRunInline() {
        AtomicIntegerArray hits = new AtomicIntegerArray(64 * 64);
        Parallel.forRange(64, 1, (from, to) -> {
            for (int i = from; i < to; i++) {
                int row = i;
                Parallel.forRange(64, 1, (f, t) -> {
                    for (int j = f; j < t; j++) hits.incrementAndGet(row * 64 + j);
                });
            }
        });
        for (int i = 0; i < hits.length(); i++) assertThat(hits.get(i)).isEqualTo(1);
    }

    @Test
    void exceptionsReachTheCallerAfterTheJob() {
        assertThatThrownBy(() -> Parallel.forRange(100, 1, (from, to) -> {
            if (from == 0) throw new IllegalStateException("boom");
        })).isInstanceOf(IllegalStateException.class).hasMessage("boom");
        // the pool still works
        everyIndexRunsExactlyOnce();
    }

    @Test
    void concurrentCallersEachGetTheirWholeRange() throws Exception {
        ExecutorService ex = Executors.newFixedThreadPool(4);
        try {
            Future<?>[] f = new Future<?>[8];
            for (int k = 0; k < f.length; k++) {
                f[k] = ex.submit(() -> {
                    for (int rep = 0; rep < 50; rep++) {
                        AtomicIntegerArray hits = new AtomicIntegerArray(500);
                        Parallel.forRange(500, 1, (from, to) -> {
                            for (int i = from; i < to; i++) hits.incrementAndGet(i);
                        });
                        for (int i = 0; i < 500; i++) assertThat(hits.get(i)).isEqualTo(1);
                    }
                });
            }
            for (Future<?> x : f) x.get();
        } finally {
            ex.shutdownNow();
        }
    }
}
