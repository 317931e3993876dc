package dev.sluice.server.gateway.auth;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.server.store.Store;
import dev.sluice.server.store.StoreException;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Tenants, projects, users and API keys in the {@link Store} (schema {@code V1__identity.sql}).
 *
 * <p>Design note: plain JDBC over the store's pool, one short statement per call, so it is
 * thread-safe and blocking: call it from a blocking executor, never an event loop. Only the
 * SHA-256 of a key's secret is written; the secret exists only in the {@link Created} value
 * returned once. Constraint violations become {@link IdentityException}s (409 conflict,
 * 404 unknown parent), other database failures {@link StoreException}.
 */
public final class IdentityStore {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Tenant, project and user ids: 1-64 characters of {@code a-z A-Z 0-9 . _ -}, starting with a letter or digit. */
    public static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    /** Longest name or email accepted: 200 characters (320 for email, RFC 5321). */
    public static final int MAX_NAME = 200;
    /** Most models one key may list: 1000 (a bounded JSON column). */
    public static final int MAX_MODELS = 1000;
    /** Attempts at a fresh key prefix when one collides (practically never, 60 bits). */
    private static final int PREFIX_ATTEMPTS = 5;

    private final Store store;

    public IdentityStore(Store store) {
        this.store = store;
    }

    public Store store() {
        return store;
    }

    /** A constraint said no: an id exists already, or a parent does not. */
    public static final class IdentityException extends RuntimeException {
        public enum Kind { CONFLICT, NOT_FOUND }

        private final Kind kind;

        public IdentityException(Kind kind, String message) {
            super(message);
            this.kind = kind;
        }

        public Kind kind() {
            return kind;
        }
    }

    public record Tenant(String id, String name, Instant createdAt) {}

    public record Project(String tenant, String id, String name, Instant createdAt) {}

    public record User(String tenant, String id, String name, String email, Instant createdAt) {}

    /**
     * A stored key. {@code secretSha256} is the hash only; {@link #toString} leaves it out.
     *
     * @param models allowed models; empty: every model
     */
    public record KeyRow(String prefix, byte[] secretSha256, String tenant, String project, String user, String name,
                         Set<String> models, String tier, boolean admin, Instant createdAt, Instant expiresAt, Instant revokedAt) {
        public boolean revoked() {
            return revokedAt != null;
        }

        public boolean expired(Instant now) {
            return expiresAt != null && !now.isBefore(expiresAt);
        }

        @Override
        public String toString() {
            return "KeyRow[" + prefix + ", tenant=" + tenant + "]";
        }
    }

    /** What a new key is for. */
    public record KeySpec(String tenant, String project, String user, String name, Set<String> models, String tier,
                          boolean admin, Instant expiresAt) {
        public KeySpec {
            models = models == null ? Set.of() : Set.copyOf(models);
            tier = tier == null || tier.isBlank() ? dev.sluice.server.gateway.Principal.DEFAULT_TIER : tier;
        }
    }

    /** A key just created: its row and the whole key string, shown once. */
    public record Created(KeyRow row, String key) {
        @Override
        public String toString() {
            return "Created[" + row.prefix() + "]";
        }
    }

    // ---- tenants

    public Tenant createTenant(String id, String name) {
        update("insert into tenants (id, name) values (?, ?)", "tenant '" + id + "' exists already", null, id, name == null ? id : name);
        return tenant(id);
    }

    public List<Tenant> tenants() {
        return query("select id, name, created_at from tenants order by id", r -> new Tenant(r.getString(1), r.getString(2), instant(r, 3)));
    }

    public Tenant tenant(String id) {
        List<Tenant> l = query("select id, name, created_at from tenants where id = ?", r -> new Tenant(r.getString(1), r.getString(2), instant(r, 3)), id);
        return l.isEmpty() ? null : l.getFirst();
    }

    /** Deletes a tenant with its projects, users and keys; false when there was none. */
    public boolean deleteTenant(String id) {
        return update("delete from tenants where id = ?", null, null, id) > 0;
    }

    // ---- projects

    public Project createProject(String tenant, String id, String name) {
        update("insert into projects (tenant_id, id, name) values (?, ?, ?)", "project '" + id + "' exists already in tenant '" + tenant + "'",
                "tenant '" + tenant + "' does not exist", tenant, id, name == null ? id : name);
        return projects(tenant).stream().filter(p -> p.id().equals(id)).findFirst().orElseThrow();
    }

    public List<Project> projects(String tenant) {
        return query("select tenant_id, id, name, created_at from projects where tenant_id = ? order by id",
                r -> new Project(r.getString(1), r.getString(2), r.getString(3), instant(r, 4)), tenant);
    }

    public boolean deleteProject(String tenant, String id) {
        return update("delete from projects where tenant_id = ? and id = ?", null, null, tenant, id) > 0;
    }

    // ---- users

    public User createUser(String tenant, String id, String name, String email) {
        update("insert into users (tenant_id, id, name, email) values (?, ?, ?, ?)", "user '" + id + "' exists already in tenant '" + tenant + "'",
                "tenant '" + tenant + "' does not exist", tenant, id, name, email);
        return users(tenant).stream().filter(u -> u.id().equals(id)).findFirst().orElseThrow();
    }

    public List<User> users(String tenant) {
        return query("select tenant_id, id, name, email, created_at from users where tenant_id = ? order by id",
                r -> new User(r.getString(1), r.getString(2), r.getString(3), r.getString(4), instant(r, 5)), tenant);
    }

    public boolean deleteUser(String tenant, String id) {
        return update("delete from users where tenant_id = ? and id = ?", null, null, tenant, id) > 0;
    }

    // ---- keys

    private static final String KEY_COLUMNS = "prefix, secret_sha256, tenant_id, project_id, user_id, name, models, tier, is_admin, created_at, expires_at, revoked_at";

    /** Creates a key; the returned {@link Created#key()} is the only copy of its secret. */
    public Created createKey(KeySpec spec) {
        String models;
        try {
            models = spec.models().isEmpty() ? null : JSON.writeValueAsString(new TreeSet<>(spec.models()));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        for (int attempt = 1; ; attempt++) {
            ApiKeys.NewKey k = ApiKeys.generate();
            try {
                update("insert into api_keys (prefix, secret_sha256, tenant_id, project_id, user_id, name, models, tier, is_admin, expires_at) "
                                + "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "prefix collision",
                        "tenant '" + spec.tenant() + "'" + (spec.project() != null ? ", project '" + spec.project() + "'" : "")
                                + (spec.user() != null ? " or user '" + spec.user() + "'" : "") + " does not exist",
                        k.prefix(), HexFormat.of().formatHex(k.secretSha256()), spec.tenant(), spec.project(), spec.user(), spec.name(), models,
                        spec.tier(), spec.admin(), spec.expiresAt() == null ? null : OffsetDateTime.ofInstant(spec.expiresAt(), ZoneOffset.UTC));
            } catch (IdentityException e) {
                if (e.kind() == IdentityException.Kind.CONFLICT && attempt < PREFIX_ATTEMPTS) continue;
                throw e;
            }
            return new Created(key(k.prefix()), k.key());
        }
    }

    /** The key with this public prefix, or null. */
    public KeyRow key(String prefix) {
        List<KeyRow> l = query("select " + KEY_COLUMNS + " from api_keys where prefix = ?", IdentityStore::keyRow, prefix);
        return l.isEmpty() ? null : l.getFirst();
    }

    /** Keys of {@code tenant}, or of every tenant when null; newest first. */
    public List<KeyRow> keys(String tenant) {
        if (tenant == null) return query("select " + KEY_COLUMNS + " from api_keys order by created_at desc, prefix", IdentityStore::keyRow);
        return query("select " + KEY_COLUMNS + " from api_keys where tenant_id = ? order by created_at desc, prefix", IdentityStore::keyRow, tenant);
    }

    /** Marks a key revoked (idempotent); false when there is no such key. */
    public boolean revokeKey(String prefix) {
        if (update("update api_keys set revoked_at = current_timestamp where prefix = ? and revoked_at is null", null, null, prefix) > 0) return true;
        return key(prefix) != null;
    }

    /** Keys that would authenticate now: not revoked, not expired. */
    public long activeKeyCount() {
        return query("select count(*) from api_keys where revoked_at is null and (expires_at is null or expires_at > current_timestamp)",
                r -> r.getLong(1)).getFirst();
    }

    // ---- plumbing

    @FunctionalInterface
    private interface Row<T> {
        T read(ResultSet r) throws SQLException;
    }

    private static KeyRow keyRow(ResultSet r) throws SQLException {
        Set<String> models = Set.of();
        String m = r.getString(7);
        if (m != null) {
            try {
                models = Set.copyOf(JSON.readValue(m, new TypeReference<List<String>>() {}));
            } catch (JsonProcessingException e) {
                throw new SQLException("api_keys.models of " + r.getString(1) + " is not a JSON array", e);
            }
        }
        return new KeyRow(r.getString(1), HexFormat.of().parseHex(r.getString(2)), r.getString(3), r.getString(4), r.getString(5),
                r.getString(6), models, r.getString(8), r.getBoolean(9), instant(r, 10), instant(r, 11), instant(r, 12));
    }

    private static Instant instant(ResultSet r, int col) throws SQLException {
        OffsetDateTime t = r.getObject(col, OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }

    private <T> List<T> query(String sql, Row<T> row, Object... args) {
        try (Connection c = store.connection(); PreparedStatement ps = c.prepareStatement(sql)) {
            bind(ps, args);
            try (ResultSet r = ps.executeQuery()) {
                List<T> out = new ArrayList<>();
                while (r.next()) out.add(row.read(r));
                return out;
            }
        } catch (SQLException e) {
            throw new StoreException("identity store: " + e.getMessage(), e);
        }
    }

    private int update(String sql, String onDuplicate, String onMissingParent, Object... args) {
        try (Connection c = store.connection(); PreparedStatement ps = c.prepareStatement(sql)) {
            bind(ps, args);
            return ps.executeUpdate();
        } catch (SQLException e) {
            String state = e.getSQLState();
            if ("23505".equals(state) && onDuplicate != null) throw new IdentityException(IdentityException.Kind.CONFLICT, onDuplicate);
            if ("23503".equals(state) || "23506".equals(state)) {
                throw new IdentityException(IdentityException.Kind.NOT_FOUND, onMissingParent != null ? onMissingParent : "a referenced row does not exist");
            }
            throw new StoreException("identity store: " + e.getMessage(), e);
        }
    }

    private static void bind(PreparedStatement ps, Object... args) throws SQLException {
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            switch (a) {
                case null -> ps.setNull(i + 1, Types.NULL); // untyped: PostgreSQL infers the column type
                case Boolean b -> ps.setBoolean(i + 1, b);
                case OffsetDateTime t -> ps.setObject(i + 1, t);
                default -> ps.setString(i + 1, a.toString());
            }
        }
    }
}
