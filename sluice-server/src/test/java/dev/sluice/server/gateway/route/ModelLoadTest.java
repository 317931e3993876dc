package dev.sluice.server.gateway.route;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class ModelLoadTest {
    @Test
    void rateCountsTheLastSecondAndForgetsOlderBuckets() {
        ModelLoad l = new ModelLoad();
        long t = 5_000_000_000L;
        for (int i = 0; i < 30; i++) l.mark(t + i * 10_000_000L); // 30 marks over 300 ms
        assertThat(l.rate(t + 300_000_000L)).isEqualTo(30);
        assertThat(l.rate(t + 1_050_000_000L)).as("the first 100 ms bucket has aged out").isEqualTo(20);
        l.mark(t + 1_050_000_000L); // reuses the slot of the first bucket
        assertThat(l.rate(t + 1_050_000_000L)).isEqualTo(21);
        assertThat(l.rate(t + 5_000_000_000L)).isZero();
    }

    @Test
    void concurrentMarksAreAllCounted() throws InterruptedException {
        ModelLoad l = new ModelLoad();
        long t = 42 * ModelLoad.BUCKET_NANOS;
        List<Thread> threads = new ArrayList<>();
        for (int k = 0; k < 4; k++) threads.add(Thread.ofPlatform().start(() -> {
            for (int i = 0; i < 10_000; i++) l.mark(t);
        }));
        for (Thread th : threads) th.join();
        assertThat(l.rate(t)).isEqualTo(40_000);
    }
}
