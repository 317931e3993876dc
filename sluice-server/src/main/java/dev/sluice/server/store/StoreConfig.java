package dev.sluice.server.store;

import java.nio.file.Path;

/**
 * Where the gateway keeps tenants, keys, usage, budgets and stored completions.
 *
 * @param url         JDBC URL: {@code jdbc:postgresql://...} in distributed mode; by default an H2
 *                    file in PostgreSQL mode under the data directory ({@link #defaultUrl})
 * @param user        database user, or null
 * @param password    database password, or null; never logged
 * @param maxPoolSize most pooled connections (default {@value #DEFAULT_MAX_POOL_SIZE}); when all are
 *                    busy a caller waits up to {@code connectTimeoutMs}, then gets an error (503)
 * @param connectTimeoutMs longest wait for a pooled connection (default {@value #DEFAULT_CONNECT_TIMEOUT_MS} ms)
 */
public record StoreConfig(String url, String user, String password, Integer maxPoolSize, Integer connectTimeoutMs) {
    /** 8 connections: the gateway's writes are batched, reads are short; PostgreSQL's default max is 100. */
    public static final int DEFAULT_MAX_POOL_SIZE = 8;
    /** 5 s: long enough for a busy database, short enough that a dead one fails requests, not hangs them. */
    public static final int DEFAULT_CONNECT_TIMEOUT_MS = 5000;
    /** H2 settings that make it behave as PostgreSQL does for our SQL. */
    public static final String H2_POSTGRES_MODE = ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH";

    public StoreConfig {
        if (url == null || url.isBlank()) url = defaultUrl(dataDir());
        if (!url.startsWith("jdbc:")) throw new IllegalArgumentException("store.url must be a JDBC URL (jdbc:postgresql://... or jdbc:h2:...), got '" + url + "'");
        maxPoolSize = maxPoolSize == null ? DEFAULT_MAX_POOL_SIZE : maxPoolSize;
        if (maxPoolSize < 1 || maxPoolSize > 1000) throw new IllegalArgumentException("store.maxPoolSize must be in [1, 1000], got " + maxPoolSize);
        connectTimeoutMs = connectTimeoutMs == null ? DEFAULT_CONNECT_TIMEOUT_MS : connectTimeoutMs;
        if (connectTimeoutMs < 250) throw new IllegalArgumentException("store.connectTimeoutMs must be >= 250, got " + connectTimeoutMs);
    }

    public static StoreConfig defaults() {
        return new StoreConfig(null, null, null, null, null);
    }

    /** An H2 file database in PostgreSQL mode at {@code dir/sluice}. */
    public static String defaultUrl(Path dir) {
        return "jdbc:h2:file:" + dir.resolve("sluice").toAbsolutePath() + H2_POSTGRES_MODE;
    }

    /** {@code $SLUICE_DATA}, else {@code ~/.local/share/sluice}. */
    public static Path dataDir() {
        String d = System.getenv("SLUICE_DATA");
        if (d != null && !d.isBlank()) return Path.of(d);
        return Path.of(System.getProperty("user.home"), ".local", "share", "sluice");
    }

    public boolean postgres() {
        return url.startsWith("jdbc:postgresql:");
    }

    @Override
    public String toString() {
        return "StoreConfig[url=" + url.replaceAll("password=[^&;]*", "password=***") + ", user=" + user + ", maxPoolSize=" + maxPoolSize + "]";
    }
}
