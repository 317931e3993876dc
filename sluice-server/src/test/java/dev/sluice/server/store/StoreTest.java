package dev.sluice.server.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The store opens and migrates on the embedded H2 file and on the real PostgreSQL of this machine. */
class StoreTest {
    /** The PostgreSQL that integration tests use: this machine's, trust auth, database {@code test}. */
    public static final String PG_URL = PgTestSchema.PG_URL;

    @Test
    void h2FileInPostgresModeOpensAndMigrates(@TempDir Path dir) throws Exception {
        try (Store s = Store.open(new StoreConfig(StoreConfig.defaultUrl(dir), null, null, 2, null)); Connection c = s.connection()) {
            assertThat(s.config().postgres()).isFalse();
            try (ResultSet r = c.createStatement().executeQuery("select count(*) from flyway_schema_history")) {
                assertThat(r.next()).isTrue();
            }
        }
    }

    @Test
    void realPostgresOpensAndMigrates() throws Exception {
        try (PgTestSchema schema = new PgTestSchema("store");
             Store s = Store.open(schema.config(2)); Connection c = s.connection()) {
            assertThat(s.config().postgres()).isTrue();
            try (ResultSet r = c.createStatement().executeQuery("select count(*) from flyway_schema_history where success")) {
                assertThat(r.next()).isTrue();
                assertThat(r.getInt(1)).isGreaterThanOrEqualTo(3); // V1 identity, V2 limits, V3 stored completions
            }
        }
    }

    @Test
    void unreachableDatabaseFailsFastWithTheUrlAndNoPassword() {
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> Store.open(new StoreConfig("jdbc:postgresql://127.0.0.1:1/none?password=hunter2", null, null, 1, 500)))
                .isInstanceOf(StoreException.class).hasMessageContaining("127.0.0.1:1").hasMessageNotContaining("hunter2");
        assertThat((System.nanoTime() - t0) / 1e9).isLessThan(30);
    }

    @Test
    void configValidationNamesTheKey() {
        assertThatThrownBy(() -> new StoreConfig("postgres://x", null, null, null, null)).hasMessageContaining("store.url");
        assertThatThrownBy(() -> new StoreConfig(null, null, null, 0, null)).hasMessageContaining("store.maxPoolSize");
    }
}
