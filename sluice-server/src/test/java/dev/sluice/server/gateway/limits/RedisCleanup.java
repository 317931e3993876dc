package dev.sluice.server.gateway.limits;

import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;

/** Deletes a test run's Redis keys (its own prefix only; never FLUSHALL). */
final class RedisCleanup {
    private RedisCleanup() {}

    static void deletePrefix(String prefix) {
        RedisClient client = RedisClient.create(LimitsHarness.REDIS);
        try (StatefulRedisConnection<String, String> c = client.connect()) {
            ScanCursor cursor = ScanCursor.INITIAL;
            for (int i = 0; i < 10_000 && !cursor.isFinished(); i++) {
                KeyScanCursor<String> page = c.sync().scan(cursor, ScanArgs.Builder.matches(prefix + "*").limit(1000));
                if (!page.getKeys().isEmpty()) c.sync().del(page.getKeys().toArray(String[]::new));
                cursor = page;
            }
        } finally {
            client.shutdown();
        }
    }
}
