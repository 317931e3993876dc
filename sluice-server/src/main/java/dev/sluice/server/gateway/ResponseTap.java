package dev.sluice.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.FilteredHttpResponse;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpObject;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.stream.CancelledSubscriptionException;
import org.reactivestreams.Subscriber;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.ResponseHeaders;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Watches an OpenAI response as it passes to the client, without delaying or changing it, and
 * reports what it was once it ends: status, the JSON body or the SSE chunks, usage, and any error.
 * Stages use it to settle quotas, record usage and fill the cache.
 *
 * <p>Design note: bytes are copied as they flow (the response keeps streaming at full speed) into
 * a buffer bounded by {@link #MAX_CAPTURE_BYTES}; SSE events are parsed at each blank line ({@link SseParser}). The
 * callback runs exactly once, on the thread that ends the stream, after the last byte or the
 * abort. A response over the bound still reaches the client whole; its outcome is reported
 * with {@code truncated} set and no body, so a cache must not store it.
 *
 * <p>Cost: every streamed chunk of a tapped response passes through here on the event loop, once
 * per tap. A stream's bytes are only counted (the parser holds just the event in progress), and
 * {@link #status} skips the JSON parse of ordinary chunks (it reads only error and usage events)
 * for callers that need no more than the outcome's status, error, usage and end, such as the
 * router's outcome window.
 */
public final class ResponseTap {
    private static final Logger log = LoggerFactory.getLogger(ResponseTap.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Largest response captured for inspection: 16 MiB (a long completion is far less); larger ones pass through unobserved. */
    public static final int MAX_CAPTURE_BYTES = 16 << 20;
    private static final java.util.Set<String> USAGE_AND_ERROR = java.util.Set.of("usage", "error");

    /**
     * What a response was.
     *
     * @param status    HTTP status (0 when the response failed before its headers)
     * @param stream    true for an SSE response
     * @param body      the JSON body of a plain response, or null
     * @param chunks    the SSE data events of a stream that parsed as JSON objects, in order (error events excluded)
     * @param usage     usage from the body or the stream's usage chunk, or null when the response carried none
     * @param error     the OpenAI error object (the value of {@code "error"}) of an error body or error event, or null
     * @param done      true when a stream ended with {@code data: [DONE]}
     * @param failure   the exception that aborted the response (client gone, upstream reset), or null
     * @param truncated true when the response was larger than the capture bound
     * @param events    the number of a stream's ordinary data events (neither {@code [DONE]}, nor an error or usage event),
     *                  counted in both modes; 0 for a plain response
     */
    public record Outcome(int status, boolean stream, ObjectNode body, List<ObjectNode> chunks, Usage usage,
                          JsonNode error, boolean done, Throwable failure, boolean truncated, int events) {
        /** True for a complete, successful response: 2xx, no error, no abort, and a stream that reached [DONE]. */
        public boolean ok() {
            return status >= 200 && status < 300 && error == null && failure == null && !truncated && (!stream || done);
        }
    }

    private ResponseTap() {}

    /** Returns {@code res} unchanged for the client; {@code onEnd} receives its {@link Outcome} once it ends. */
    public static HttpResponse tap(HttpResponse res, Consumer<Outcome> onEnd) {
        return tap(res, true, onEnd);
    }

    /**
     * Like {@link #tap}, but the {@link Outcome} has no {@code chunks} (a stream) and no {@code body} (a plain response):
     * only its status, error, usage, {@code [DONE]}, event count and failure. Ordinary chunks are not parsed, and of a
     * plain body only {@code usage} and {@code error} are read ({@link JsonFields}); for stages that only judge how a
     * response ended.
     */
    public static HttpResponse status(HttpResponse res, Consumer<Outcome> onEnd) {
        return tap(res, false, onEnd);
    }

    private static HttpResponse tap(HttpResponse res, boolean chunks, Consumer<Outcome> onEnd) {
        Tapped out = new Tapped(res, new Capture(chunks), onEnd);
        // a response aborted or cancelled before (or without) being subscribed never reaches the filter's callbacks
        out.whenComplete().exceptionally(t -> {
            out.fire(t);
            return null;
        });
        return out;
    }

    /**
     * The tap itself: a filter on the response's own subscription, so each piece is seen on the thread that delivers it
     * and the outcome is taken when the filter sees the end, after the last piece. (Reading it in {@code whenComplete()}
     * of a peeked response raced with the last pieces: the future could complete first, and usage was then missed.)
     */
    private static final class Tapped extends FilteredHttpResponse {
        final Capture c;
        final Consumer<Outcome> onEnd;
        final AtomicBoolean fired = new AtomicBoolean();

        Tapped(HttpResponse delegate, Capture c, Consumer<Outcome> onEnd) {
            super(delegate);
            this.c = c;
            this.onEnd = onEnd;
        }

        @Override
        protected HttpObject filter(HttpObject obj) {
            if (obj instanceof ResponseHeaders h) c.headers(h);
            else if (obj instanceof HttpData d) c.data(d.array());
            return obj;
        }

        @Override
        protected void beforeComplete(Subscriber<? super HttpObject> subscriber) {
            fire(null);
        }

        @Override
        protected Throwable beforeError(Subscriber<? super HttpObject> subscriber, Throwable cause) {
            fire(cause);
            return cause;
        }

        @Override
        protected void onCancellation(Subscriber<? super HttpObject> subscriber) {
            fire(CancelledSubscriptionException.get());
        }

        void fire(Throwable t) {
            if (!fired.compareAndSet(false, true)) return;
            Outcome o;
            try {
                o = c.outcome(t);
            } catch (RuntimeException e) {
                log.warn("response tap: cannot read the response: {}", e.toString());
                o = new Outcome(c.status, c.stream, null, List.of(), null, null, false, e, true, c.events);
            }
            try {
                onEnd.accept(o);
            } catch (RuntimeException e) {
                log.warn("response tap callback failed", e);
            }
        }
    }

    private static final class Capture {
        final boolean keepChunks;
        int status;
        boolean stream;
        boolean truncated;
        final SseParser sse;
        /** The body of a plain response (a stream's events go through {@link #sse} instead). */
        java.io.ByteArrayOutputStream raw = new java.io.ByteArrayOutputStream();
        long size;
        final List<ObjectNode> chunks = new ArrayList<>();
        JsonNode error;
        Usage usage;
        boolean done;
        int events;

        Capture(boolean keepChunks) {
            this.keepChunks = keepChunks;
            this.sse = new SseParser(!keepChunks); // status mode: ordinary chunks are counted, not decoded
        }

        void headers(ResponseHeaders h) {
            int s = h.status().code();
            if (s >= 100 && s < 200) return; // informational
            status = s;
            MediaType ct = h.contentType();
            stream = ct != null && ct.is(MediaType.EVENT_STREAM);
        }

        void data(byte[] bytes) {
            if (truncated) return;
            size += bytes.length;
            if (size > MAX_CAPTURE_BYTES) {
                truncated = true;
                raw = null;
                return;
            }
            if (stream) {
                sse.push(bytes).forEach(this::event);
                events += sse.takeOrdinary();
            } else {
                raw.write(bytes, 0, bytes.length);
            }
        }

        /** One SSE data payload. */
        void event(String d) {
            if (d.equals("[DONE]")) {
                done = true;
                return;
            }
            if (!keepChunks && !d.contains("\"error\"") && !d.contains("\"usage\"")) { // an ordinary chunk
                events++;
                return;
            }
            try {
                JsonNode n = JSON.readTree(d);
                if (n == null || !n.isObject()) return;
                if (n.has("error")) {
                    error = n.get("error");
                    return;
                }
                Usage u = Usage.of(n.get("usage"));
                if (u != null) usage = u;
                else events++;
                if (keepChunks) chunks.add((ObjectNode) n);
            } catch (java.io.IOException e) {
                // not JSON: not an OpenAI chunk; ignore
            }
        }

        Outcome outcome(Throwable failure) {
            if (stream) {
                if (!truncated) {
                    sse.finish().forEach(this::event);
                    events += sse.takeOrdinary();
                }
                return new Outcome(status, true, null, truncated ? List.of() : Collections.unmodifiableList(chunks), usage, error, done,
                        failure, truncated, events);
            }
            ObjectNode body = null;
            JsonNode err = null;
            Usage u = null;
            if (!truncated && raw != null && raw.size() > 0) {
                if (keepChunks) {
                    try {
                        JsonNode n = JSON.readTree(raw.toByteArray());
                        if (n != null && n.isObject()) {
                            body = (ObjectNode) n;
                            err = n.get("error");
                            u = Usage.of(n.get("usage"));
                        }
                    } catch (java.io.IOException e) {
                        // not JSON
                    }
                } else {
                    ObjectNode n = JsonFields.read(raw.toByteArray(), USAGE_AND_ERROR);
                    if (n != null) {
                        err = n.get("error");
                        u = Usage.of(n.get("usage"));
                    }
                }
            }
            return new Outcome(status, false, body, List.of(), u, err, false, failure, truncated, 0);
        }
    }
}
