package dev.sluice.server.gateway.auth;

import dev.sluice.server.store.StoreConfig;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

/** {@link AuthScenario} on the embedded H2 file store. */
class H2AuthTest extends AuthScenario {
    @TempDir
    Path dir;

    @Override
    StoreConfig store() {
        return AuthHarness.h2(dir);
    }
}
