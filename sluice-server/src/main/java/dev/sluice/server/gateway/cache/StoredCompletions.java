package dev.sluice.server.gateway.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpStatus;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.store.BatchWriter;
import dev.sluice.server.store.Store;
import io.micrometer.core.instrument.MeterRegistry;

import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * OpenAI's stored completions ({@code store: true}): the request and the response of a chat
 * completion, kept per tenant in the store (schema {@code V3__stored_completions.sql}).
 *
 * <p>Design note: the request path only {@link #offer}s a record to a {@link BatchWriter} (bounded,
 * never blocks; written in batches on its own thread, retried while the database is down, drained
 * on shutdown, so a graceful stop loses nothing). Reads and deletes are plain JDBC and block: call
 * them on a blocking executor. Every query is scoped by tenant, so a tenant can neither see nor
 * delete another's records. Records are listed in the order they were written ({@code seq});
 * metadata pairs are also kept in their own table so that {@code metadata[key]=value} filters are
 * portable SQL (PostgreSQL and H2). The store is opened on first use. Writes are eventually
 * visible: a record appears within about the writer's flush interval (200 ms) of the response.
 */
public final class StoredCompletions implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** OpenAI's limits on metadata: at most 16 pairs, keys up to 64 characters, values up to 512. */
    public static final int MAX_METADATA_PAIRS = 16, MAX_METADATA_KEY = 64, MAX_METADATA_VALUE = 512;
    /** Default and largest page size of the list routes, as OpenAI's. */
    public static final int DEFAULT_LIMIT = 20, MAX_LIMIT = 100;
    /** Column bounds of the schema (V3): longer values are not stored (counted as refused). */
    static final int MAX_ID = 100, MAX_TENANT = 200, MAX_MODEL = 300;

    /** One completion to store. */
    public record Record(String id, String tenant, String model, long created, Map<String, String> metadata, ObjectNode request,
                         ObjectNode response) {}

    /** One page of a list. */
    public record Page(List<ObjectNode> data, boolean hasMore) {}

    private final Supplier<Store> store;
    private final BatchWriter<Record> writer;

    public StoredCompletions(Supplier<Store> store, MeterRegistry metrics, CacheConfig.Stored config) {
        this.store = store;
        this.writer = new BatchWriter<>("stored_completions", this::write, metrics, config.maxRecords(), BatchWriter.DEFAULT_BATCH_SIZE,
                BatchWriter.DEFAULT_FLUSH_INTERVAL, BatchWriter.DEFAULT_DRAIN_TIMEOUT);
    }

    /** Queues {@code r} for writing; false when it cannot be (queue full, closed, or a field too long for the schema). */
    public boolean offer(Record r) {
        if (r.id().length() > MAX_ID || r.tenant().length() > MAX_TENANT || r.model().length() > MAX_MODEL) return false;
        return writer.offer(r);
    }

    /** Waits until every record offered so far is written (tests; read-your-writes). */
    public boolean flush(Duration timeout) {
        return writer.flush(timeout);
    }

    /** Validates a request's {@code metadata} as OpenAI does; returns it as a map (empty when absent). */
    public static Map<String, String> metadata(JsonNode m) {
        Map<String, String> out = new LinkedHashMap<>();
        if (m == null || m.isNull()) return out;
        if (!m.isObject()) throw OpenAiException.invalid("metadata", "'metadata' must be an object of string values");
        if (m.size() > MAX_METADATA_PAIRS) throw OpenAiException.invalid("metadata", "'metadata' has more than " + MAX_METADATA_PAIRS + " pairs");
        var it = m.fields();
        while (it.hasNext()) {
            var e = it.next();
            if (e.getKey().length() > MAX_METADATA_KEY) throw OpenAiException.invalid("metadata", "'metadata' keys are at most " + MAX_METADATA_KEY + " characters");
            if (!e.getValue().isTextual()) throw OpenAiException.invalid("metadata", "'metadata' values must be strings");
            if (e.getValue().asText().length() > MAX_METADATA_VALUE) throw OpenAiException.invalid("metadata", "'metadata' values are at most " + MAX_METADATA_VALUE + " characters");
            out.put(e.getKey(), e.getValue().asText());
        }
        return out;
    }

    private void write(List<Record> batch) throws SQLException {
        try (Connection c = store.get().connection()) {
            c.setAutoCommit(false);
            try (PreparedStatement ins = c.prepareStatement(
                    "INSERT INTO stored_completions (id, tenant, model, created, metadata, request, response) VALUES (?, ?, ?, ?, ?, ?, ?)");
                 PreparedStatement meta = c.prepareStatement(
                         "INSERT INTO stored_completion_metadata (tenant, id, meta_key, meta_value) VALUES (?, ?, ?, ?)")) {
                for (Record r : batch) {
                    ins.setString(1, r.id());
                    ins.setString(2, r.tenant());
                    ins.setString(3, r.model());
                    ins.setLong(4, r.created());
                    ins.setString(5, JSON.valueToTree(r.metadata()).toString());
                    ins.setString(6, r.request().toString());
                    ins.setString(7, r.response().toString());
                    ins.addBatch();
                    for (var e : r.metadata().entrySet()) {
                        meta.setString(1, r.tenant());
                        meta.setString(2, r.id());
                        meta.setString(3, e.getKey());
                        meta.setString(4, e.getValue());
                        meta.addBatch();
                    }
                }
                ins.executeBatch();
                meta.executeBatch();
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        }
    }

    /** The stored completion {@code id} of {@code tenant} as OpenAI returns it, or null. */
    public ObjectNode get(String tenant, String id) throws SQLException {
        try (Connection c = store.get().connection();
             PreparedStatement s = c.prepareStatement("SELECT response, metadata FROM stored_completions WHERE tenant = ? AND id = ?")) {
            s.setString(1, tenant);
            s.setString(2, id);
            try (ResultSet r = s.executeQuery()) {
                return r.next() ? completion(r.getString(1), r.getString(2)) : null;
            }
        }
    }

    /** The request of the stored completion {@code id}, or null. */
    public ObjectNode request(String tenant, String id) throws SQLException {
        try (Connection c = store.get().connection();
             PreparedStatement s = c.prepareStatement("SELECT request FROM stored_completions WHERE tenant = ? AND id = ?")) {
            s.setString(1, tenant);
            s.setString(2, id);
            try (ResultSet r = s.executeQuery()) {
                return r.next() ? (ObjectNode) parse(r.getString(1)) : null;
            }
        }
    }

    /**
     * One page of {@code tenant}'s stored completions, oldest first ({@code asc}) or newest first.
     *
     * @param model    only this model, or null
     * @param metadata only completions with all these pairs
     * @param after    the id of the last completion of the previous page, or null
     */
    public Page list(String tenant, String model, Map<String, String> metadata, String after, int limit, boolean asc) throws SQLException {
        StringBuilder sql = new StringBuilder("SELECT response, metadata FROM stored_completions c WHERE c.tenant = ?");
        List<Object> args = new ArrayList<>(List.of(tenant));
        if (model != null) {
            sql.append(" AND c.model = ?");
            args.add(model);
        }
        for (var e : metadata.entrySet()) {
            sql.append(" AND EXISTS (SELECT 1 FROM stored_completion_metadata m WHERE m.tenant = c.tenant AND m.id = c.id AND m.meta_key = ? AND m.meta_value = ?)");
            args.add(e.getKey());
            args.add(e.getValue());
        }
        if (after != null) {
            sql.append(" AND c.seq ").append(asc ? ">" : "<").append(" (SELECT a.seq FROM stored_completions a WHERE a.tenant = ? AND a.id = ?)");
            args.add(tenant);
            args.add(after);
        }
        sql.append(" ORDER BY c.seq ").append(asc ? "ASC" : "DESC").append(" LIMIT ?");
        args.add(limit + 1);
        List<ObjectNode> data = new ArrayList<>();
        try (Connection c = store.get().connection(); PreparedStatement s = c.prepareStatement(sql.toString())) {
            for (int i = 0; i < args.size(); i++) s.setObject(i + 1, args.get(i));
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) data.add(completion(r.getString(1), r.getString(2)));
            }
        }
        boolean more = data.size() > limit;
        return new Page(more ? data.subList(0, limit) : data, more);
    }

    /** Replaces the metadata of {@code id}; the updated completion, or null when there is none. */
    public ObjectNode updateMetadata(String tenant, String id, Map<String, String> metadata) throws SQLException {
        try (Connection c = store.get().connection()) {
            c.setAutoCommit(false);
            try {
                try (PreparedStatement u = c.prepareStatement("UPDATE stored_completions SET metadata = ? WHERE tenant = ? AND id = ?")) {
                    u.setString(1, JSON.valueToTree(metadata).toString());
                    u.setString(2, tenant);
                    u.setString(3, id);
                    if (u.executeUpdate() == 0) {
                        c.rollback();
                        return null;
                    }
                }
                try (PreparedStatement d = c.prepareStatement("DELETE FROM stored_completion_metadata WHERE tenant = ? AND id = ?")) {
                    d.setString(1, tenant);
                    d.setString(2, id);
                    d.executeUpdate();
                }
                try (PreparedStatement m = c.prepareStatement("INSERT INTO stored_completion_metadata (tenant, id, meta_key, meta_value) VALUES (?, ?, ?, ?)")) {
                    for (var e : metadata.entrySet()) {
                        m.setString(1, tenant);
                        m.setString(2, id);
                        m.setString(3, e.getKey());
                        m.setString(4, e.getValue());
                        m.addBatch();
                    }
                    m.executeBatch();
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        }
        return get(tenant, id);
    }

    /** Deletes {@code id} of {@code tenant}; false when there was none. */
    public boolean delete(String tenant, String id) throws SQLException {
        try (Connection c = store.get().connection()) {
            c.setAutoCommit(false);
            try (PreparedStatement m = c.prepareStatement("DELETE FROM stored_completion_metadata WHERE tenant = ? AND id = ?");
                 PreparedStatement s = c.prepareStatement("DELETE FROM stored_completions WHERE tenant = ? AND id = ?")) {
                m.setString(1, tenant);
                m.setString(2, id);
                m.executeUpdate();
                s.setString(1, tenant);
                s.setString(2, id);
                boolean deleted = s.executeUpdate() > 0;
                c.commit();
                return deleted;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        }
    }

    /** The messages of a stored request as OpenAI lists them: each with an id {@code <completion id>-<index>}. */
    public static List<ObjectNode> messages(String id, ObjectNode request) {
        List<ObjectNode> out = new ArrayList<>();
        JsonNode msgs = request.path("messages");
        for (int i = 0; i < msgs.size(); i++) {
            JsonNode m = msgs.get(i);
            ObjectNode o = JSON.createObjectNode().put("id", id + "-" + i);
            o.set("role", m.path("role").deepCopy());
            JsonNode content = m.get("content");
            if (content != null && content.isArray()) {
                StringBuilder text = new StringBuilder();
                for (JsonNode p : content) if (p.path("type").asText().equals("text")) text.append(p.path("text").asText());
                o.put("content", text.toString());
                o.set("content_parts", content.deepCopy());
            } else {
                o.set("content", content == null ? JSON.nullNode() : content.deepCopy());
                o.putNull("content_parts");
            }
            if (m.has("name")) o.set("name", m.get("name").deepCopy());
            if (m.has("tool_calls")) o.set("tool_calls", m.get("tool_calls").deepCopy());
            if (m.has("tool_call_id")) o.set("tool_call_id", m.get("tool_call_id").deepCopy());
            out.add(o);
        }
        return out;
    }

    private static ObjectNode completion(String response, String metadata) {
        ObjectNode o = (ObjectNode) parse(response);
        o.set("metadata", parse(metadata));
        return o;
    }

    private static JsonNode parse(String s) {
        try {
            return JSON.readTree(s);
        } catch (IOException e) {
            throw new OpenAiException(HttpStatus.INTERNAL_SERVER_ERROR, "server_error", null, null, "A stored completion is corrupt");
        }
    }

    /** Writes what is queued (up to the writer's drain timeout), then stops. */
    @Override
    public void close() {
        writer.close();
    }

    /** A page as OpenAI's list object: {@code object, data, first_id, last_id, has_more}. */
    public static ObjectNode listObject(List<ObjectNode> data, boolean hasMore) {
        ObjectNode o = JSON.createObjectNode().put("object", "list");
        ArrayNode arr = o.putArray("data");
        data.forEach(arr::add);
        if (data.isEmpty()) {
            o.putNull("first_id");
            o.putNull("last_id");
        } else {
            o.set("first_id", data.getFirst().path("id").deepCopy());
            o.set("last_id", data.getLast().path("id").deepCopy());
        }
        o.put("has_more", hasMore);
        return o;
    }
}
