package dev.sluice.server.gateway.auth;

import dev.sluice.server.store.StoreConfig;
import org.junit.jupiter.api.AfterEach;

/** {@link AuthScenario} on this machine's PostgreSQL, in a schema of its own that is dropped afterwards. */
class PostgresAuthTest extends AuthScenario {
    final String schema = AuthHarness.pgSchema();

    @Override
    StoreConfig store() {
        return AuthHarness.pg(schema);
    }

    @AfterEach
    void drop() {
        if (h != null) h.close();
        AuthHarness.dropPg(schema);
    }
}
