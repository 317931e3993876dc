package dev.sluice.server.gateway.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpHeaderNames;
import com.linecorp.armeria.common.HttpObject;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpResponseWriter;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.ResponseHeaders;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.gateway.SseParser;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * One generation shared by every client that asked the same cacheable question while it ran
 * (single flight), and the fan-out of its response to each of them.
 *
 * <p>Design note: the leader's request goes down the pipeline once; the flight subscribes to the
 * response and is the only reader of it. Every client, the leader included, is a {@link Client}
 * with its own response: a streaming client that joins while the answer streams gets the
 * response headers, every event seen so far (buffered) and then each new event as it arrives, so
 * each gets the whole stream from its start; a plain client gets the complete answer at the end
 * (a stream folded by {@link Answers.Aggregator}); a streaming client of a plain generation gets
 * the answer replayed as SSE. Followers get their own response {@code id}; the usage chunk (the
 * flight always asks for one, to cache the usage) is passed only to clients that asked for it.
 *
 * <p>Failure: a client that goes away only leaves; when the last one leaves, the subscription is
 * cancelled, which cancels the generation. If the generation fails, each client gets the error: a
 * client that has received nothing yet gets the error response, a live stream an error event
 * (never a silent truncation). One exception: when the leader's own client went away (the
 * generation runs on the leader's request, so that cancels it), clients that have received nothing
 * yet are re-run ({@link Client#retry}) instead of failed.
 *
 * <p>Concurrency: the response is read on the leader's event loop; clients join from theirs. All
 * state is guarded by the flight's monitor; writes to other clients' writers are thread-safe.
 * Memory: one copy of the response (events as text) however many clients share it; past
 * {@link #maxBufferBytes} the flight takes no new joiners and its answer is not cached.
 */
final class Flight {
    private static final Logger log = LoggerFactory.getLogger(Flight.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String HEADER = "x-sluice-cache";

    /** One client of the flight. */
    static final class Client {
        final ServiceRequestContext ctx;
        final boolean stream;
        final boolean includeUsage;
        /** Response id to present, or null to keep the generated one (the leader). */
        final String id;
        final String cacheHeader;
        /** Re-runs this client's request on its own, or null. */
        Runnable retry;
        final java.util.concurrent.CompletableFuture<HttpResponse> response = new java.util.concurrent.CompletableFuture<>();
        HttpResponseWriter writer;
        boolean committed;
        boolean finished;
        boolean gone;

        Client(ServiceRequestContext ctx, boolean stream, boolean includeUsage, String id, String cacheHeader) {
            this.ctx = ctx;
            this.stream = stream;
            this.includeUsage = includeUsage;
            this.id = id;
            this.cacheHeader = cacheHeader;
        }
    }

    /** How a finished flight ended: {@code answer} is the complete canonical answer when {@code ok}. */
    record Result(boolean ok, ObjectNode answer, boolean overflow) {}

    private final boolean chat;
    private final long maxBufferBytes;
    private final Consumer<Flight> onOverflow;
    private final Consumer<Result> onEnd;
    private final List<Client> clients = new java.util.concurrent.CopyOnWriteArrayList<>(); // writes may call back into gone()
    private final List<String> events = new ArrayList<>();
    private final SseParser parser = new SseParser();
    private final Answers.Aggregator aggregator;
    private final ByteArrayOutputStream body = new ByteArrayOutputStream();
    private ResponseHeaders headers;
    private boolean sse;
    private boolean doneSeen;
    private boolean errorSeen;
    private long bytes;
    private boolean overflow;
    private boolean ended;
    private boolean leaderGone;
    private ObjectNode answer;
    private Subscription subscription;

    Flight(boolean chat, long maxBufferBytes, Consumer<Flight> onOverflow, Consumer<Result> onEnd) {
        this.chat = chat;
        this.maxBufferBytes = maxBufferBytes;
        this.onOverflow = onOverflow;
        this.onEnd = onEnd;
        this.aggregator = new Answers.Aggregator(chat);
    }

    /** Starts the flight with {@code leader} on {@code response} (the pipeline's answer to the leader's request). */
    HttpResponse lead(Client leader, HttpResponse response) {
        HttpResponse out = add(leader);
        response.subscribe(new Reader(), leader.ctx.eventLoop());
        return out;
    }

    /** Starts the flight with {@code leader} and fails it at once with {@code error} (the pipeline threw). */
    HttpResponse failAtStart(Client leader, OpenAiException error) {
        HttpResponse out = add(leader);
        synchronized (this) {
            var h = ResponseHeaders.builder(error.status()).contentType(MediaType.JSON_UTF_8);
            error.headers().forEach(h::add);
            headers = h.build();
            byte[] b = OpenAiService.errorJson(error).getBytes(java.nio.charset.StandardCharsets.UTF_8);
            body.write(b, 0, b.length);
        }
        end(null);
        return out;
    }

    /**
     * Adds a follower and returns its response; null when the flight takes no more (its buffer overflowed, or it ended
     * without an answer): the caller then runs on its own.
     */
    HttpResponse join(Client c) {
        synchronized (this) {
            if (overflow || (ended && answer == null)) return null;
        }
        return add(c);
    }

    private HttpResponse add(Client c) {
        HttpResponse out = HttpResponse.of(c.response);
        out.whenComplete().handle((v, t) -> {
            if (t != null) gone(c);
            return null;
        });
        c.ctx.whenRequestCancelling().thenRun(() -> gone(c));
        synchronized (this) {
            if (c.gone) return out; // its request was cancelled already
            clients.add(c);
            if (ended) finish(c);
            else if (headers != null && sse && c.stream) goLive(c);
        }
        return out;
    }

    /** A client went away: it leaves; the last one to leave cancels the generation. */
    private void gone(Client c) {
        Subscription cancel;
        synchronized (this) {
            if (c.gone) return;
            c.gone = true;
            if (c.id == null) leaderGone = true;
            clients.remove(c);
            if (ended || !clients.isEmpty()) return;
            cancel = subscription; // null before the subscription starts: onSubscribe then cancels it
            overflow = true; // no joiner may attach to a generation being cancelled
        }
        onOverflow.accept(this);
        if (cancel != null) cancel.cancel();
    }

    // ---- reading the response (the leader's event loop) ----

    private final class Reader implements Subscriber<HttpObject> {
        @Override
        public void onSubscribe(Subscription s) {
            boolean cancel;
            synchronized (Flight.this) {
                subscription = s;
                cancel = clients.isEmpty();
            }
            if (cancel) s.cancel();
            else s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(HttpObject o) {
            try {
                if (o instanceof ResponseHeaders h) onHeaders(h);
                else if (o instanceof HttpData d) onData(d.array());
                // trailers: nothing to do
            } catch (RuntimeException e) {
                log.warn("cache flight: reading the response failed", e);
            }
        }

        @Override
        public void onError(Throwable t) {
            end(t);
        }

        @Override
        public void onComplete() {
            end(null);
        }
    }

    private synchronized void onHeaders(ResponseHeaders h) {
        if (h.status().isInformational()) return;
        headers = h;
        MediaType ct = h.contentType();
        sse = h.status().isSuccess() && ct != null && ct.is(MediaType.EVENT_STREAM);
        if (sse) for (Client c : clients) if (c.stream) goLive(c);
    }

    private void onData(byte[] b) {
        boolean overflowed = false;
        synchronized (this) {
            bytes += b.length;
            if (!overflow && bytes > maxBufferBytes) overflow = overflowed = true;
            if (!sse) {
                body.write(b, 0, b.length);
            } else {
                for (String data : parser.push(b)) event(data);
            }
        }
        if (overflowed) onOverflow.accept(this);
    }

    /** One SSE data payload from the generation (under the monitor). */
    private void event(String data) {
        if (data.equals("[DONE]")) {
            doneSeen = true;
            return;
        }
        ObjectNode node = parse(data);
        if (node != null && node.has("error")) errorSeen = true;
        else if (node != null) aggregator.add(node);
        if (!overflow || errorSeen) events.add(data); // past the bound no joiner needs the replay
        for (Client c : clients) if (c.writer != null) write(c, data, node);
    }

    private static ObjectNode parse(String data) {
        try {
            JsonNode n = JSON.readTree(data);
            return n != null && n.isObject() ? (ObjectNode) n : null;
        } catch (IOException e) {
            return null;
        }
    }

    /** Sends one event to a live client: its own id; the usage-only chunk only if it asked for usage. */
    private static void write(Client c, String data, ObjectNode node) {
        if (node != null && !node.has("error")) {
            JsonNode ch = node.get("choices");
            if (!c.includeUsage && node.has("usage") && (ch == null || ch.isEmpty())) return;
            if (c.id != null && node.has("id")) data = node.deepCopy().put("id", c.id).toString();
        }
        c.writer.tryWrite(HttpData.ofUtf8("data: " + data + "\n\n"));
    }

    /** Commits a streaming client to the live stream: headers, the events so far (under the monitor). */
    private void goLive(Client c) {
        if (c.committed) return;
        c.committed = true;
        c.writer = HttpResponse.streaming();
        c.writer.write(withCacheHeader(headers, c));
        for (String data : events) write(c, data, parse(data));
        c.response.complete(c.writer);
    }

    private static ResponseHeaders withCacheHeader(ResponseHeaders h, Client c) {
        return h.toBuilder().removeAndThen(HttpHeaderNames.CONTENT_LENGTH).set(HEADER, c.cacheHeader).build();
    }

    // ---- the end ----

    private void end(Throwable failure) {
        Result result;
        synchronized (this) {
            if (ended) return;
            ended = true;
            if (sse) {
                for (String data : parser.finish()) event(data);
                if (failure == null && doneSeen && !errorSeen) answer = aggregator.result();
            } else if (failure == null && headers != null && headers.status().isSuccess()) {
                ObjectNode n = parse(body.toString(java.nio.charset.StandardCharsets.UTF_8));
                if (n != null && !n.has("error") && n.has("choices")) answer = n;
            }
            if (answer == null && failure != null && !(failure instanceof java.util.concurrent.CancellationException)) {
                log.debug("cache flight failed", failure);
            }
            result = new Result(answer != null, answer, overflow);
        }
        // the answer is cached before any client has it, so a request that follows a response always hits
        try {
            onEnd.accept(result);
        } catch (RuntimeException e) {
            log.warn("cache flight: end callback failed", e);
        }
        List<Runnable> retries = new ArrayList<>();
        synchronized (this) {
            for (Client c : clients) {
                if (answer == null && leaderGone && !c.committed && c.retry != null) {
                    c.committed = true;
                    retries.add(c.retry);
                    continue;
                }
                finish(c);
            }
        }
        retries.forEach(Runnable::run);
    }

    /** Gives a client its end: the rest of its live stream, or its whole response (under the monitor, after {@code ended}). */
    private void finish(Client c) {
        if (c.finished) return;
        c.finished = true;
        if (c.writer != null) {
            if (answer != null) c.writer.tryWrite(HttpData.ofUtf8("data: [DONE]\n\n"));
            else if (!errorSeen) c.writer.tryWrite(HttpData.ofUtf8("data: " + OpenAiService.errorJson(interrupted()) + "\n\n"));
            c.writer.close();
            return;
        }
        if (c.committed) return;
        c.committed = true;
        c.response.complete(response(c));
    }

    private HttpResponse response(Client c) {
        long created = System.currentTimeMillis() / 1000;
        if (answer != null) {
            if (c.stream) {
                StringBuilder sb = new StringBuilder();
                String id = c.id != null ? c.id : answer.path("id").asText(Answers.newId(chat));
                for (ObjectNode chunk : Answers.sse(answer, chat, c.includeUsage, id, answer.path("created").asLong(created))) {
                    sb.append("data: ").append(chunk).append("\n\n");
                }
                sb.append("data: [DONE]\n\n");
                return HttpResponse.of(sseHeaders(c.cacheHeader), HttpData.ofUtf8(sb.toString()));
            }
            ObjectNode body = c.id == null ? answer : Answers.json(answer, c.id, answer.path("created").asLong(created));
            return HttpResponse.of(withCacheHeader(sse ? jsonHeaders() : headers, c), HttpData.ofUtf8(body.toString()));
        }
        if (headers != null && !sse) {
            // the pipeline's own error response (or a body that was not an answer), as it was
            return HttpResponse.of(withCacheHeader(headers, c), HttpData.wrap(body.toByteArray()));
        }
        if (sse && errorSeen) {
            // the stream failed with an error event: a plain client gets that error as its body
            for (String data : events) {
                ObjectNode n = parse(data);
                if (n != null && n.has("error")) {
                    return HttpResponse.of(withCacheHeader(ResponseHeaders.builder(HttpStatus.INTERNAL_SERVER_ERROR)
                            .contentType(MediaType.JSON_UTF_8).build(), c), HttpData.ofUtf8(data));
                }
            }
        }
        return OpenAiService.error(interrupted());
    }

    private OpenAiException interrupted() {
        String why = leaderGone ? "the request that was generating it was cancelled" : "the generation ended early";
        return new OpenAiException(HttpStatus.SERVICE_UNAVAILABLE, "server_error", null, "generation_interrupted",
                "The shared generation of this answer did not complete (" + why + "); retry the request");
    }

    static ResponseHeaders sseHeaders(String cacheHeader) {
        return ResponseHeaders.builder(HttpStatus.OK).contentType(MediaType.EVENT_STREAM)
                .add(HttpHeaderNames.CACHE_CONTROL, "no-cache").add(HEADER, cacheHeader).build();
    }

    private static ResponseHeaders jsonHeaders() {
        return ResponseHeaders.builder(HttpStatus.OK).contentType(MediaType.JSON_UTF_8).build();
    }

}
