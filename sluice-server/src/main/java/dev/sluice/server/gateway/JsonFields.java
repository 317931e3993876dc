package dev.sluice.server.gateway;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.util.Set;

/**
 * Reads a few top-level fields of a JSON object without building a tree of the rest: the gateway looks at the
 * {@code usage} and {@code error} of every plain response it relays, and a full parse per look (three per request:
 * the upstream relay, the router's and the limits' taps) was most of what a relayed response allocated.
 */
public final class JsonFields {
    private static final ObjectMapper JSON = new ObjectMapper();

    private JsonFields() {}

    /**
     * The fields of {@code json}'s top-level object named in {@code names} (the others are skipped token by token), as
     * an object holding only those; null when {@code json} is not a JSON object.
     */
    public static ObjectNode read(byte[] json, Set<String> names) {
        try (JsonParser p = JSON.getFactory().createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) return null;
            ObjectNode out = JSON.createObjectNode();
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                p.nextToken();
                if (names.contains(name)) out.set(name, JSON.readTree(p));
                else p.skipChildren();
            }
            return t == JsonToken.END_OBJECT ? out : null;
        } catch (IOException e) {
            return null;
        }
    }
}
