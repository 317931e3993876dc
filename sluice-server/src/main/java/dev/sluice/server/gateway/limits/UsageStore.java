package dev.sluice.server.gateway.limits;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.server.store.BatchWriter;
import dev.sluice.server.store.LazyStore;
import dev.sluice.server.store.StoreException;
import io.micrometer.core.instrument.MeterRegistry;

import java.sql.Connection;
import java.sql.Date;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;

/**
 * Usage records: written asynchronously in batches through the store's {@link BatchWriter} (one
 * JDBC batch insert per batch), and summed for the usage API.
 *
 * <p>Design note: the request path only {@link #record offers} a record to the bounded queue
 * and never waits; {@link #close} drains it (the assembly closes this after the server has
 * stopped, so nothing in flight is lost). Queries group by one whitelisted column, over a date
 * range, optionally within one tenant, and return at most {@link #MAX_ROWS} groups.
 */
final class UsageStore implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Most groups one usage query returns: 10,000. */
    static final int MAX_ROWS = 10_000;
    /** Longest range one usage query spans: 366 days. */
    static final int MAX_DAYS = 366;
    /** Grouping names of the usage API and their columns. */
    static final Map<String, String> GROUPS = Map.of("key", "key_id", "tenant", "tenant", "model", "model", "day", "usage_day", "user", "user_id");

    private final LazyStore store;
    private final BatchWriter<UsageRecord> writer;

    UsageStore(LazyStore store, MeterRegistry metrics) {
        this.store = store;
        this.writer = new BatchWriter<>("usage", this::write, metrics);
    }

    /** Queues {@code r}; false when the queue is full or closed (counted and logged by the writer). */
    boolean record(UsageRecord r) {
        return writer.offer(r);
    }

    BatchWriter<UsageRecord> writer() {
        return writer;
    }

    private void write(List<UsageRecord> batch) throws SQLException {
        try (Connection c = store.get().connection(); PreparedStatement ps = c.prepareStatement("INSERT INTO usage_records (created_at, usage_day, tenant, "
                + "project, key_id, user_id, model, model_version, route, prompt_tokens, completion_tokens, latency_ms, status, cost_micros) "
                + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            for (UsageRecord r : batch) {
                ps.setTimestamp(1, Timestamp.from(r.at()));
                ps.setDate(2, Date.valueOf(LocalDate.ofInstant(r.at(), ZoneOffset.UTC)));
                ps.setString(3, r.tenant());
                setString(ps, 4, r.project());
                setString(ps, 5, r.keyId());
                setString(ps, 6, r.user());
                ps.setString(7, r.model());
                setString(ps, 8, r.version());
                ps.setString(9, r.route());
                ps.setInt(10, r.promptTokens());
                ps.setInt(11, r.completionTokens());
                ps.setInt(12, r.latencyMs());
                ps.setInt(13, r.status());
                ps.setLong(14, r.costMicros());
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    private static void setString(PreparedStatement ps, int i, String v) throws SQLException {
        if (v == null) ps.setNull(i, Types.VARCHAR);
        else ps.setString(i, v.length() > 250 ? v.substring(0, 250) : v);
    }

    /**
     * Totals grouped by {@code groupBy} (a key of {@link #GROUPS}) for days {@code from..to}
     * (inclusive, UTC), within {@code tenant} when not null: requests, tokens and cost per group.
     */
    ObjectNode totals(String groupBy, LocalDate from, LocalDate to, String tenant) {
        String col = GROUPS.get(groupBy);
        if (col == null) throw new IllegalArgumentException("group_by must be one of key, tenant, model, day, user");
        String sql = "SELECT " + col + ", COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_micros) FROM usage_records "
                + "WHERE usage_day >= ? AND usage_day <= ?" + (tenant != null ? " AND tenant = ?" : "")
                + " GROUP BY " + col + " ORDER BY " + col + " LIMIT " + MAX_ROWS;
        ObjectNode out = JSON.createObjectNode().put("object", "list").put("group_by", groupBy).put("from", from.toString()).put("to", to.toString());
        if (tenant != null) out.put("tenant", tenant);
        ArrayNode data = out.putArray("data");
        try (Connection c = store.get().connection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setDate(1, Date.valueOf(from));
            ps.setDate(2, Date.valueOf(to));
            if (tenant != null) ps.setString(3, tenant);
            try (ResultSet r = ps.executeQuery()) {
                while (r.next()) {
                    ObjectNode row = data.addObject();
                    Object g = r.getObject(1);
                    if (g == null) row.putNull(groupBy);
                    else row.put(groupBy, g instanceof java.sql.Date d ? d.toLocalDate().toString() : g.toString());
                    long prompt = r.getLong(3), completion = r.getLong(4);
                    row.put("requests", r.getLong(2)).put("prompt_tokens", prompt).put("completion_tokens", completion)
                            .put("total_tokens", prompt + completion).put("cost", Catalog.money(r.getLong(5)));
                }
            }
        } catch (SQLException e) {
            throw new StoreException("usage query failed: " + e.getMessage(), e);
        }
        return out;
    }

    /** Waits until every record queued so far is written (tests, admin). */
    boolean flush(java.time.Duration timeout) {
        return writer.flush(timeout);
    }

    @Override
    public void close() {
        writer.close();
    }
}
