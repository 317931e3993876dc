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
        byte[] b = d.array();
        if (!Bytes.contains(b, Bytes.USAGE, 0, b.length)) return d; // the common frame: untouched, not even decoded
        byte[] out = null; // the kept events, made on the first dropped one
        int o = 0, kept = 0;
        for (int from = 0; from < b.length; ) {
            int end = Bytes.indexOf(b, BLANK_LINE, from, b.length);
            int next = end < 0 ? b.length : end + 2;
            if (usageOnly(b, from, next)) {
                if (out == null) out = new byte[b.length];
                System.arraycopy(b, kept, out, o, from - kept);
                o += from - kept;
                kept = next;
            }
            from = next;
        }
        if (out == null) return d;
        System.arraycopy(b, kept, out, o, b.length - kept);
        return HttpData.wrap(out, 0, o + b.length - kept);
    }

    private static final byte[] BLANK_LINE = {'\n', '\n'};

    /** The event in {@code b[from, to)}: a {@code data:} event whose JSON has {@code usage} and an empty {@code choices}. */
    private static boolean usageOnly(byte[] b, int from, int to) {
        if (to - from < 5 || b[from] != 'd' || b[from + 1] != 'a' || b[from + 2] != 't' || b[from + 3] != 'a' || b[from + 4] != ':') return false;
        if (!Bytes.contains(b, Bytes.USAGE, from, to)) return false;
        try {
            JsonNode n = JSON.readTree(b, from + 5, to - from - 5);
            return n != null && n.path("usage").isObject() && n.path("choices").isArray() && n.path("choices").isEmpty();
        } catch (IOException e) {
            return false;
        }
    }
}
