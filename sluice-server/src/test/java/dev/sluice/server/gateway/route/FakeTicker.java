package dev.sluice.server.gateway.route;

import com.github.benmanes.caffeine.cache.Ticker;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** A ticker the test moves by hand. */
final class FakeTicker implements Ticker {
    private final AtomicLong nanos = new AtomicLong(1_000_000_000_000L);

    @Override
    public long read() {
        return nanos.get();
    }

    void advance(long n) {
        nanos.addAndGet(n);
    }

    void advance(Duration d) {
        advance(d.toNanos());
    }
}
