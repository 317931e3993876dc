package dev.sluice.server.gateway.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.server.gateway.GatewayRequest;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * The cache key of a request: SHA-256 (hex) of its normalized form.
 *
 * <p>Design note: the normalized form is canonical JSON (object keys sorted at every depth,
 * numbers as decimals without trailing zeros, so {@code 0}, {@code 0.0} and {@code 0e0} are
 * one value) of {@code {"kind", "model", "version", "upstream", "scope", "request"}}: the route (chat or
 * legacy completion), the public model and the version the router resolved, the model it resolved
 * the request to (the body's {@code model} after routing), the scope (the
 * tenant, or {@code *} when the model's cache is shared), and the client's original body without
 * the fields that do not change the answer ({@link #IGNORED}). Everything else (messages or
 * prompt, every sampling parameter, {@code n}, tools, logprobs, unknown fields) is in the key,
 * so two requests share an entry only when the engine would see the same thing. The scope is a
 * JSON string, so no tenant name can forge another's key.
 */
public final class CacheKey {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Fields that do not change the answer: who asks ({@code user}), how it is delivered, and stored-completion bookkeeping. */
    public static final Set<String> IGNORED = Set.of("user", "stream", "stream_options", "store", "metadata");
    /** The scope of a model whose cache all tenants share. */
    static final String SHARED = "*";

    private CacheKey() {}

    /** The key of {@code req} in {@code scope} (a tenant id, or {@link #SHARED}). */
    public static String of(GatewayRequest req, String scope) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("kind", req.kind().route).put("model", req.model()).put("version", req.version()).put("scope", scope);
        // the model the router resolved the request to (it rewrites body.model: the version's upstream model, or a
        // lighter model under overload), so a re-pointed version or a degraded answer never shares the normal entry
        o.put("upstream", req.body().path("model").asText());
        ObjectNode body = req.originalBody().deepCopy();
        body.remove(IGNORED);
        body.remove("model");
        o.set("request", body);
        return sha256(canonical(o));
    }

    /** Canonical JSON text of {@code n}: sorted keys, normalized numbers, no whitespace. */
    public static String canonical(JsonNode n) {
        StringBuilder sb = new StringBuilder();
        write(n, sb);
        return sb.toString();
    }

    private static void write(JsonNode n, StringBuilder sb) {
        if (n.isObject()) {
            List<String> names = new ArrayList<>();
            n.fieldNames().forEachRemaining(names::add);
            Collections.sort(names);
            sb.append('{');
            for (int i = 0; i < names.size(); i++) {
                if (i > 0) sb.append(',');
                sb.append(JSON.getNodeFactory().textNode(names.get(i)));
                sb.append(':');
                write(n.get(names.get(i)), sb);
            }
            sb.append('}');
        } else if (n.isArray()) {
            sb.append('[');
            ArrayNode a = (ArrayNode) n;
            for (int i = 0; i < a.size(); i++) {
                if (i > 0) sb.append(',');
                write(a.get(i), sb);
            }
            sb.append(']');
        } else if (n.isNumber()) {
            if (n.isFloatingPointNumber() && !Double.isFinite(n.doubleValue())) {
                sb.append(n.asText());
                return;
            }
            BigDecimal d = n.decimalValue().stripTrailingZeros();
            sb.append(d.signum() == 0 ? "0" : d.toString()); // scientific form: consistent, and bounded in length
        } else {
            sb.append(n); // strings (escaped), booleans, null
        }
    }

    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
