package dev.sluice.cli;

import dev.sluice.server.gateway.auth.ApiKeys;
import dev.sluice.server.gateway.auth.IdentityStore;
import dev.sluice.server.store.Store;
import dev.sluice.server.store.StoreConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code sluice keys create|list|revoke} against the store of {@code --config}: an H2 file and this machine's PostgreSQL. */
class KeysCommandTest {
    static final String PG_URL = System.getProperty("sluice.test.pg", "jdbc:postgresql://127.0.0.1:5432/test");

    @TempDir
    Path dir;

    Path config(String storeYaml) throws Exception {
        Path f = dir.resolve("sluice.yaml");
        Files.writeString(f, "store:\n" + storeYaml);
        return f;
    }

    @Test
    void createListRevokeOnTheH2File() throws Exception {
        Path cfg = config("  url: \"" + StoreConfig.defaultUrl(dir) + "\"\n");
        roundTrip(cfg, new StoreConfig(StoreConfig.defaultUrl(dir), null, null, 2, null));
    }

    @Test
    void createListRevokeOnPostgres() throws Exception {
        String schema = "keys_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        try (Connection c = DriverManager.getConnection(PG_URL, "postgres", null)) {
            c.createStatement().execute("create schema " + schema);
        }
        try {
            String url = PG_URL + "?currentSchema=" + schema;
            roundTrip(config("  url: \"" + url + "\"\n  user: postgres\n"), new StoreConfig(url, "postgres", null, 2, null));
        } finally {
            try (Connection c = DriverManager.getConnection(PG_URL, "postgres", null)) {
                c.createStatement().execute("drop schema " + schema + " cascade");
            }
        }
    }

    void roundTrip(Path cfg, StoreConfig store) throws Exception {
        String tenant = "cli-" + UUID.randomUUID().toString().substring(0, 8);
        Cli.Result missing = Cli.run("keys", "create", "--config", cfg.toString(), "--tenant", tenant);
        assertThat(missing.exit()).isEqualTo(1);
        assertThat(missing.err()).contains("does not exist").contains("--create-tenant");
        Cli.Result created = Cli.run("keys", "create", "--config", cfg.toString(), "--tenant", tenant, "--create-tenant", "--name", "ci",
                "-m", "fake", "-m", "demo", "--tier", "gold", "--expires", "30d");
        assertThat(created.exit()).as(created.err()).isZero();
        String key = created.out().strip();
        ApiKeys.Parsed parsed = ApiKeys.parse(key);
        assertThat(parsed).as("stdout is the key alone: " + created.out()).isNotNull();
        assertThat(created.err()).contains(parsed.prefix()).contains("shown once").doesNotContain(parsed.secret());
        Cli.Result admin = Cli.run("keys", "create", "--config", cfg.toString(), "--admin");
        assertThat(admin.exit()).as(admin.err()).isZero();
        // the store holds the hash, never the secret
        try (Store s = Store.open(store)) {
            IdentityStore.KeyRow row = new IdentityStore(s).key(parsed.prefix());
            assertThat(row.tenant()).isEqualTo(tenant);
            assertThat(row.models()).containsExactlyInAnyOrder("fake", "demo");
            assertThat(row.tier()).isEqualTo("gold");
            assertThat(row.expiresAt()).isAfter(java.time.Instant.now().plusSeconds(29L * 86400));
            assertThat(MessageDigest.isEqual(row.secretSha256(), ApiKeys.sha256(parsed.secret()))).isTrue();
            try (Connection c = s.connection(); ResultSet r = c.createStatement().executeQuery("select * from api_keys where prefix = '" + parsed.prefix() + "'")) {
                assertThat(r.next()).isTrue();
                for (int i = 1; i <= r.getMetaData().getColumnCount(); i++) {
                    String v = r.getString(i);
                    if (v != null) assertThat(v).doesNotContain(parsed.secret());
                }
            }
        }
        Cli.Result list = Cli.run("keys", "list", "--config", cfg.toString(), "--tenant", tenant);
        assertThat(list.exit()).isZero();
        assertThat(list.out()).contains(parsed.prefix()).contains("gold").contains("active").contains("demo,fake").doesNotContain(parsed.secret());
        Cli.Result json = Cli.run("keys", "list", "--config", cfg.toString(), "--json");
        assertThat(json.out()).contains("\"id\":\"" + parsed.prefix() + "\"").doesNotContain(parsed.secret()).doesNotContain("\"key\"");
        Cli.Result revoke = Cli.run("keys", "revoke", "--config", cfg.toString(), parsed.prefix());
        assertThat(revoke.exit()).as(revoke.err()).isZero();
        assertThat(Cli.run("keys", "list", "--config", cfg.toString(), "--tenant", tenant).out()).contains("revoked");
        Cli.Result unknown = Cli.run("keys", "revoke", "--config", cfg.toString(), "aaaaaaaaaaaa");
        assertThat(unknown.exit()).isEqualTo(1);
        assertThat(unknown.err()).contains("no key with id");
        assertThat(Cli.run("keys", "revoke", "--config", cfg.toString(), "not a key").exit()).isEqualTo(2);
        assertThat(Cli.run("keys", "create", "--config", cfg.toString(), "--expires", "soon").exit()).isEqualTo(2);
    }

    @Test
    void serveRefusesToBindBeyondLoopbackWithoutCredentialsBeforeLoadingAModel() throws Exception {
        Path cfg = config("  url: \"" + StoreConfig.defaultUrl(dir) + "\"\n");
        Cli.Result r = Cli.run("", Map.of(), "serve", "--config", cfg.toString(), "--host", "0.0.0.0", "--port", "0");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("refusing to serve on 0.0.0.0 without authentication").contains("--no-auth");
        Cli.Result worker = Cli.run("", Map.of(), "serve", "--role", "worker", "--host", "0.0.0.0", "--port", "0");
        assertThat(worker.exit()).isEqualTo(1);
        assertThat(worker.err()).contains("worker role").contains("--no-auth");
    }
}
