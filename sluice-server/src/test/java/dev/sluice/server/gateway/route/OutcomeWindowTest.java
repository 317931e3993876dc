package dev.sluice.server.gateway.route;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class OutcomeWindowTest {
    static final long S = 1_000_000_000L;

    @Test
    void countsErrorsAndNearestRankP99OverTheWindow() {
        OutcomeWindow w = new OutcomeWindow();
        for (int i = 1; i <= 200; i++) w.record(i * S / 100, i % 10 == 0, i * 1_000L); // 200 samples over 2 s, latencies 1..200 µs
        OutcomeWindow.Stats all = w.stats(2 * S, 10 * S);
        assertThat(all.requests()).isEqualTo(200);
        assertThat(all.errors()).isEqualTo(20);
        assertThat(all.errorRate()).isEqualTo(0.1);
        assertThat(all.p99Nanos()).isEqualTo(198_000L); // ceil(0.99 * 200) = 198th smallest
        // a 1 s window at t = 2 s keeps the samples no older than 1 s: [1 s, 2 s], i = 100..200
        OutcomeWindow.Stats recent = w.stats(2 * S, S);
        assertThat(recent.requests()).isEqualTo(101);
        assertThat(recent.errors()).isEqualTo(11);
        assertThat(w.stats(100 * S, S).requests()).isZero();
        assertThat(w.stats(100 * S, S).p99Nanos()).isZero();
    }

    @Test
    void keepsTheLastMaxSamplesAndClears() {
        OutcomeWindow w = new OutcomeWindow();
        int n = OutcomeWindow.MAX_SAMPLES + 2_500;
        for (int i = 0; i < n; i++) w.record(i, i < 2_500, i); // the first 2,500 (the errors) are dropped
        OutcomeWindow.Stats s = w.stats(n, Long.MAX_VALUE / 2);
        assertThat(s.requests()).isEqualTo(OutcomeWindow.MAX_SAMPLES);
        assertThat(s.errors()).isZero();
        assertThat(s.p99Nanos()).isEqualTo(2_500 + (long) Math.ceil(0.99 * OutcomeWindow.MAX_SAMPLES) - 1);
        w.clear();
        assertThat(w.stats(n, Long.MAX_VALUE / 2).requests()).isZero();
        w.record(n, true, 5);
        assertThat(w.stats(n, 10).errors()).isEqualTo(1);
    }
}
