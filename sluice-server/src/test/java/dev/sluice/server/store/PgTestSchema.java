package dev.sluice.server.store;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.UUID;

/**
 * A fresh schema in this machine's real PostgreSQL (database {@code test}, trust auth), so that
 * test runs and parallel builds never share rows or migration history; dropped on {@link #close}.
 */
public final class PgTestSchema implements AutoCloseable {
    /** The PostgreSQL that integration tests use: this machine's, trust auth, database {@code test}. */
    public static final String PG_URL = System.getProperty("sluice.test.pg", "jdbc:postgresql://127.0.0.1:5432/test");
    public static final String PG_USER = "postgres";

    private final String schema;

    /** Creates schema {@code prefix_<random>}. */
    public PgTestSchema(String prefix) {
        this.schema = prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        try (Connection c = DriverManager.getConnection(PG_URL, PG_USER, null)) {
            c.createStatement().execute("CREATE SCHEMA " + schema);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create test schema " + schema + " at " + PG_URL + ": " + e.getMessage(), e);
        }
    }

    public String schema() {
        return schema;
    }

    /** JDBC URL whose connections use this schema. */
    public String url() {
        return PG_URL + "?currentSchema=" + schema;
    }

    /** A store config on this schema with {@code poolSize} connections. */
    public StoreConfig config(int poolSize) {
        return new StoreConfig(url(), PG_USER, null, poolSize, null);
    }

    @Override
    public void close() {
        try (Connection c = DriverManager.getConnection(PG_URL, PG_USER, null)) {
            c.createStatement().execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        } catch (SQLException e) {
            throw new IllegalStateException("cannot drop test schema " + schema + ": " + e.getMessage(), e);
        }
    }
}
