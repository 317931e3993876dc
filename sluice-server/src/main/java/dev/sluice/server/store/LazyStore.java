package dev.sluice.server.store;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * The gateway's one {@link Store}, opened on first use and shared by every concern (identity,
 * limits, usage, stored completions): {@code GatewayAssembly} creates it and closes it last.
 *
 * <p>Design note: opening migrates the schema and, for the default H2 file, creates the file, so
 * nothing is opened until a concern needs it; {@code sluice serve} with no config and no keys
 * never touches the disk. Thread-safe: {@link #get} opens once under a lock; {@link #opened} never
 * blocks.
 */
public final class LazyStore implements Supplier<Store>, AutoCloseable {
    private final StoreConfig config;
    private volatile Store store;
    private boolean closed;

    public LazyStore(StoreConfig config) {
        this.config = config;
    }

    /** A holder of an already open store (tests, the CLI). */
    public static LazyStore of(Store store) {
        LazyStore l = new LazyStore(store.config());
        l.store = store;
        return l;
    }

    public StoreConfig config() {
        return config;
    }

    /** The store, opened (and migrated) on the first call; throws {@link StoreException} when it cannot be. */
    @Override
    public Store get() {
        Store s = store;
        if (s != null) return s;
        synchronized (this) {
            if (closed) throw new IllegalStateException("the store is closed");
            if (store == null) store = Store.open(config);
            return store;
        }
    }

    /** The store if it has been opened, else null; never opens it. */
    public Store opened() {
        return store;
    }

    /**
     * True when the store may hold data already: any PostgreSQL or in-memory/remote H2 URL, or an
     * H2 file database whose file exists. False only for an H2 file that was never created.
     */
    public boolean mayHoldData() {
        String url = config.url();
        if (!url.startsWith("jdbc:h2:file:")) return true;
        String path = url.substring("jdbc:h2:file:".length());
        int semi = path.indexOf(';');
        if (semi >= 0) path = path.substring(0, semi);
        return Files.exists(Path.of(path + ".mv.db"));
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (store != null) store.close();
    }
}
