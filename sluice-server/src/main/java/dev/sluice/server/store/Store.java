package dev.sluice.server.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.flywaydb.core.Flyway;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;

/**
 * The gateway's relational store: a HikariCP pool over PostgreSQL or an H2 file in PostgreSQL
 * mode, migrated by Flyway at open from {@code classpath:db/migration}.
 *
 * <p>Design note: one schema, written once in SQL that both PostgreSQL and H2's PostgreSQL mode
 * accept. Migration versions are owned by concern, so that they never collide: V1 identity
 * (tenants, projects, users, keys), V2 limits, prices, budgets and usage, V3 stored completions,
 * V4 routing; a concern's later changes take V{n}_1, V{n}_2, ... Concerns land in any order, so
 * migrations run out of order (a V2 that arrives after V3 is applied, not refused). Thread-safe.
 */
public final class Store implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Store.class);

    private final StoreConfig config;
    private final HikariDataSource ds;

    private Store(StoreConfig config, HikariDataSource ds) {
        this.config = config;
        this.ds = ds;
    }

    /** Opens the pool and migrates the schema; throws {@link StoreException} naming the URL when it cannot. */
    public static Store open(StoreConfig config) {
        HikariConfig hc = new HikariConfig();
        hc.setJdbcUrl(config.url());
        if (config.user() != null) hc.setUsername(config.user());
        if (config.password() != null) hc.setPassword(config.password());
        hc.setMaximumPoolSize(config.maxPoolSize());
        hc.setConnectionTimeout(config.connectTimeoutMs());
        hc.setInitializationFailTimeout(config.connectTimeoutMs());
        hc.setPoolName("sluice-store");
        HikariDataSource ds;
        try {
            ds = new HikariDataSource(hc);
        } catch (RuntimeException e) {
            throw new StoreException("cannot open the store at " + redacted(config.url()) + ": " + rootMessage(e), e);
        }
        try {
            var result = Flyway.configure().dataSource(ds).locations("classpath:db/migration")
                    // versions are reserved per concern (V1 identity, V2 limits, V3 completions, V4 routing) and land in
                    // any order: a database already at V3 must still take a V2 that arrives later, not refuse to start
                    .outOfOrder(true).load().migrate();
            log.info("store {}: schema at version {} ({} migration(s) applied)", config.postgres() ? "postgresql" : "h2",
                    result.targetSchemaVersion, result.migrationsExecuted);
        } catch (RuntimeException e) {
            ds.close();
            throw new StoreException("cannot migrate the store at " + redacted(config.url()) + ": " + rootMessage(e), e);
        }
        return new Store(config, ds);
    }

    public DataSource dataSource() {
        return ds;
    }

    public StoreConfig config() {
        return config;
    }

    /** A pooled connection; close it when done. */
    public Connection connection() throws SQLException {
        return ds.getConnection();
    }

    @Override
    public void close() {
        ds.close();
    }

    static String redacted(String url) {
        return url.replaceAll("password=[^&;]*", "password=***");
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    }
}
