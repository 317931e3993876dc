package dev.sluice.server.store;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

class BatchWriterTest {
    @Test
    void writesEverythingInBatchesAndNothingIsLostOnClose() {
        List<List<Integer>> batches = Collections.synchronizedList(new ArrayList<>());
        BatchWriter<Integer> w = new BatchWriter<>("t", batches::add, new SimpleMeterRegistry(), 10_000, 100, Duration.ofMillis(50), Duration.ofSeconds(5));
        for (int i = 0; i < 1000; i++) assertThat(w.offer(i)).isTrue();
        w.close();
        List<Integer> all = new ArrayList<>();
        batches.forEach(all::addAll);
        assertThat(all).hasSize(1000).doesNotHaveDuplicates();
        assertThat(batches).allMatch(b -> b.size() <= 100);
        assertThat(w.offer(1)).isFalse();
    }

    @Test
    void aFailingStoreIsRetriedUntilItRecovers() {
        AtomicInteger failures = new AtomicInteger(2);
        List<Integer> written = Collections.synchronizedList(new ArrayList<>());
        BatchWriter<Integer> w = new BatchWriter<>("t", b -> {
            if (failures.getAndDecrement() > 0) throw new java.sql.SQLException("down");
            written.addAll(b);
        }, new SimpleMeterRegistry(), 100, 10, Duration.ofMillis(20), Duration.ofSeconds(10));
        for (int i = 0; i < 25; i++) w.offer(i);
        assertThat(w.flush(Duration.ofSeconds(8))).isTrue();
        assertThat(written).hasSize(25).doesNotHaveDuplicates();
        w.close();
    }

    @Test
    void aFullQueueRefusesAndCountsInsteadOfBlocking() throws Exception {
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        SimpleMeterRegistry reg = new SimpleMeterRegistry();
        BatchWriter<Integer> w = new BatchWriter<>("t", b -> release.await(), reg, 4, 1, Duration.ofMillis(10), Duration.ofSeconds(2));
        int accepted = 0;
        for (int i = 0; i < 20; i++) if (w.offer(i)) accepted++;
        assertThat(accepted).isBetween(4, 5); // the queue, plus at most one batch taken by the writer
        assertThat(w.dropped()).isEqualTo(20 - accepted);
        assertThat(reg.get("sluice.store.records_dropped").counter().count()).isEqualTo(20 - accepted);
        release.countDown();
        w.close();
    }
}
