package dev.sluice.server.gateway.route;

import dev.sluice.server.gateway.Backend;
import dev.sluice.server.gateway.upstream.BackendConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One immutable routing snapshot: the config it came from, its backends and its models. A reload builds a new
 * table and swaps it in atomically; requests hold the table they resolved against until they end.
 *
 * <p>Design note: {@link #acquire}/{@link #release} count the requests holding this table. Once a reload has
 * retired it, the backends it does not share with its successor are closed when the last of those requests
 * ends, never earlier, so a reload drops no in-flight stream.
 */
final class RouteTable {
    private static final Logger log = LoggerFactory.getLogger(RouteTable.class);

    final RoutingConfig config;
    final Map<String, Backend> backends;
    final Map<String, BackendConfig> backendConfigs;
    final Map<String, ModelRoute> models;
    final long loadedAtMillis;
    private final AtomicInteger holders = new AtomicInteger();
    private volatile List<Backend> closeOnDrain;
    private final AtomicBoolean closed = new AtomicBoolean();

    RouteTable(RoutingConfig config, Map<String, Backend> backends, Map<String, BackendConfig> backendConfigs, Map<String, ModelRoute> models,
               long loadedAtMillis) {
        this.config = config;
        this.backends = backends;
        this.backendConfigs = backendConfigs;
        this.models = models;
        this.loadedAtMillis = loadedAtMillis;
    }

    void acquire() {
        holders.incrementAndGet();
    }

    void release() {
        if (holders.decrementAndGet() == 0 && closeOnDrain != null) closeRetired();
    }

    int holders() {
        return holders.get();
    }

    /** Marks this table replaced; {@code unshared} backends are closed once no request holds it. */
    void retire(List<Backend> unshared) {
        closeOnDrain = List.copyOf(unshared);
        if (holders.get() == 0) closeRetired();
    }

    private void closeRetired() {
        if (!closed.compareAndSet(false, true)) return;
        close(closeOnDrain);
    }

    static void close(List<Backend> backends) {
        for (Backend b : backends) {
            if (b instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    log.warn("closing backend '{}' failed: {}", b.name(), e.toString());
                }
            }
        }
    }
}
