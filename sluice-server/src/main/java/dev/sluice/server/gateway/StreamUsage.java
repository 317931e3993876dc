package dev.sluice.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpResponse;

import java.io.IOException;

/**
 * Every stream the gateway serves carries usage on its way through the stages, and the client
 * gets the usage chunk only when it asked for it.
 *
 * <p>Design note: {@link #force} sets {@code stream_options.include_usage} on the body sent on
 * (the client's own body stays in {@link GatewayRequest#originalBody()}), so that every backend,
 * in-process or upstream, ends its stream with a usage chunk that the stages' {@link ResponseTap}s
 * see (quota settlement, usage records, the cache). {@link #strip}, wrapped around the whole
 * pipeline, then drops that chunk (an event with an empty {@code choices} and a {@code usage}
 * object) from a stream whose client did not ask for usage. Backends write whole SSE events per
 * data frame (the worker's sink and the upstream relay both do); a frame without
 * {@code "usage"} passes untouched, without a copy.
 */
public final class StreamUsage {
    private static final ObjectMapper JSON = new ObjectMapper();

    private StreamUsage() {}

    /** Asks the backend for the usage chunk of a stream. */
    public static void force(GatewayRequest g) {
        if (g.stream() && !g.includeUsage()) g.body().withObject("stream_options").put("include_usage", true);
    }

    /** {@code res} as the client should see it: without the forced usage chunk when it did not ask for one. */
    public static HttpResponse strip(GatewayRequest g, HttpResponse res) {
        if (!g.stream() || g.includeUsage()) return res;
        return res.mapData(StreamUsage::withoutUsageChunks);
    }

    static HttpData withoutUsageChunks(HttpData d) {
        String s = d.toStringUtf8();
        if (!s.contains("\"usage\"")) return d;
        StringBuilder out = new StringBuilder(s.length());
        int from = 0;
        boolean dropped = false;
        while (from < s.length()) {
            int end = s.indexOf("\n\n", from);
            int next = end < 0 ? s.length() : end + 2;
            String event = s.substring(from, next);
            if (usageOnly(event)) dropped = true;
            else out.append(event);
            from = next;
        }
        return dropped ? HttpData.ofUtf8(out.toString()) : d;
    }

    private static boolean usageOnly(String event) {
        if (!event.startsWith("data:") || !event.contains("\"usage\"")) return false;
        try {
            JsonNode n = JSON.readTree(event.substring(5).trim());
            return n != null && n.path("usage").isObject() && n.path("choices").isArray() && n.path("choices").isEmpty();
        } catch (IOException e) {
            return false;
        }
    }
}
