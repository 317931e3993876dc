package dev.sluice.server.gateway.auth;

import dev.sluice.server.store.PgTestSchema;
import dev.sluice.server.store.StoreConfig;
import org.junit.jupiter.api.AfterEach;

/** {@link AuthScenario} on this machine's PostgreSQL, in a schema of its own that is dropped afterwards. */
class PostgresAuthTest extends AuthScenario {
    final PgTestSchema schema = new PgTestSchema("auth");

    @Override
    StoreConfig store() {
        return schema.config(4);
    }

    @AfterEach
    void drop() {
        if (h != null) h.close();
        schema.close();
    }
}
