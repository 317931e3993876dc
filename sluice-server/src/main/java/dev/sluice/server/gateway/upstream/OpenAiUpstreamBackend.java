package dev.sluice.server.gateway.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.client.ClientFactory;
import com.linecorp.armeria.client.Endpoint;
import com.linecorp.armeria.client.RequestOptions;
import com.linecorp.armeria.client.ResponseTimeoutException;
import com.linecorp.armeria.client.UnprocessedRequestException;
import com.linecorp.armeria.client.endpoint.EndpointGroup;
import com.linecorp.armeria.client.endpoint.healthcheck.HealthCheckedEndpointGroup;
import com.linecorp.armeria.client.retry.Backoff;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpHeaderNames;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpObject;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpResponseWriter;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import com.linecorp.armeria.common.RequestHeadersBuilder;
import com.linecorp.armeria.common.ResponseHeaders;
import com.linecorp.armeria.common.auth.AuthToken;
import com.linecorp.armeria.common.util.TimeoutMode;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.gateway.Backend;
import dev.sluice.server.gateway.GatewayRequest;
import dev.sluice.server.gateway.PromptText;
import dev.sluice.server.gateway.SseParser;
import dev.sluice.server.gateway.Usage;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An OpenAI-compatible HTTP upstream (vLLM, SGLang, Ollama, llama-server, the DeepSeek API) as
 * a gateway {@link Backend}, over one or more endpoints.
 *
 * <p>Design note. What it guarantees:
 * <ul>
 *   <li>The client's credentials never travel on: the upstream request gets fresh headers with the
 *       backend's own key; the body is the client's with {@code model} replaced (when configured).
 *   <li>Streams pass through event by event, bytes unchanged, as they arrive. The upstream is
 *       always asked for {@code stream_options.include_usage}; its usage chunk reaches the client
 *       only when the request asked for it. When the upstream reports no usage, it is counted
 *       ({@link UsageCounter}) and injected: into the plain body, or as a usage chunk before
 *       {@code [DONE]}.
 *   <li>Nothing reaches the client before the first streamed event (or, for a plain request, the
 *       whole body): until then any failure (connect, reset, 5xx, 429, the first-token timeout)
 *       may be retried, on another endpoint where there is one, up to {@code retry.maxAttempts}
 *       and within the {@link RetryBudget}. A request that runs out answers 502 (upstream error),
 *       503 (no endpoint available) or 504 (timeout) with an OpenAI error body. After the first
 *       byte a failure (reset, idle timeout, total timeout, a stream cut before {@code [DONE]})
 *       ends the stream with an OpenAI error event ({@code data: {"error":{...}}}) and no
 *       {@code [DONE]}: never a silently truncated 200.
 *   <li>Balancing: least requests in flight among the available endpoints (not ejected, breaker
 *       not open, healthy when health checks are on), ties broken at random; with prefix
 *       affinity, rendezvous hashing of the prompt's prefix unless that endpoint is
 *       {@code maxImbalance} requests busier than the least loaded one.
 * </ul>
 *
 * <p>Concurrency: one call runs entirely on its request's event loop (the upstream response is
 * subscribed to on it, timers are scheduled on it), so its state needs no locks; what calls share
 * (endpoint counters, breakers, the budget) is thread-safe. Stream back-pressure: the next
 * upstream chunk is requested when the client has consumed the previous one.
 */
public final class OpenAiUpstreamBackend implements Backend, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(OpenAiUpstreamBackend.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Largest plain (non-streamed) upstream response: 16 MiB (a long completion is far less); larger ones fail with 502. */
    public static final int MAX_PLAIN_RESPONSE_BYTES = 16 << 20;
    /** Largest upstream error body read (and relayed): 64 KiB. */
    static final int MAX_ERROR_BODY_BYTES = 64 << 10;
    /** Most completion characters kept to count usage the upstream does not report: 4 Mi (beyond it, the count is an estimate). */
    static final int MAX_COUNTED_CHARS = 4 << 20;
    /** Time the server's own request timeout is given beyond ours, as a backstop only. */
    private static final Duration BACKSTOP = Duration.ofSeconds(5);
    /** Client headers passed on to the upstream (tracing only); everything else, Authorization first, stays behind. */
    private static final List<String> FORWARDED_HEADERS = List.of("x-request-id", "traceparent", "tracestate");

    private final String name;
    private final BackendConfig config;
    private final ClientFactory factory;
    private final List<UpstreamEndpoint> endpoints;
    private final HealthCheckedEndpointGroup health;
    private volatile Set<Endpoint> healthy = Set.of();
    /**
     * False until the first round of health checks has answered (or one check interval has
     * passed): until then every endpoint counts as healthy, so a gateway that has just started
     * does not refuse requests to workers it has not yet had time to check (passive ejection and
     * the circuit breakers still apply).
     */
    private volatile boolean healthKnown;
    private final RetryBudget budget;
    private final UsageCounter counter;
    private final Backoff retryBackoff;
    private final String authorization;
    private final MeterRegistry metrics;
    private final List<Meter> gauges = new ArrayList<>();

    /** Counts a request's end: {@code ok}, {@code upstream_error}, {@code timeout}, {@code unavailable}, {@code rejected}, {@code midstream_error}, {@code client_gone}. */
    private void outcome(String outcome) {
        Counter.builder("sluice.upstream.requests").description("Requests to an upstream backend by outcome")
                .tags("backend", name, "outcome", outcome).register(metrics).increment();
    }

    private static String outcomeOf(Failure f) {
        return switch (f.kind) {
            case TIMEOUT -> "timeout";
            case UNAVAILABLE -> "unavailable";
            case STATUS -> f.retryable || f.status == 401 || f.status == 403 ? "upstream_error" : "rejected";
            default -> "upstream_error";
        };
    }

    public OpenAiUpstreamBackend(String name, BackendConfig config) {
        this(name, config, null);
    }

    /**
     * @param metrics where the backend's meters go ({@code sluice.upstream.*}, tagged by backend and
     *                endpoint); null keeps them private
     */
    public OpenAiUpstreamBackend(String name, BackendConfig config, MeterRegistry metrics) {
        if (!config.type().equals(BackendConfig.OPENAI)) throw new IllegalArgumentException("backend " + name + " is of type " + config.type());
        this.name = name;
        this.config = config;
        this.metrics = metrics != null ? metrics : new SimpleMeterRegistry();
        this.counter = UsageCounter.load(name, config.tokenizer());
        this.factory = ClientFactory.builder()
                .connectTimeout(config.timeouts().connect())
                .idleTimeout(Duration.ofSeconds(60))
                .build();
        List<UpstreamEndpoint> eps = new ArrayList<>();
        for (String url : config.endpoints()) eps.add(new UpstreamEndpoint(name, url, this::loopFactory, config));
        this.endpoints = List.copyOf(eps);
        for (UpstreamEndpoint e : endpoints) {
            String ep = e.endpoint.authority();
            e.attemptsOk = Counter.builder("sluice.upstream.attempts").description("Upstream attempts by backend, endpoint and result")
                    .tags("backend", name, "endpoint", ep, "result", "ok").register(this.metrics);
            e.attemptsFailed = Counter.builder("sluice.upstream.attempts").description("Upstream attempts by backend, endpoint and result")
                    .tags("backend", name, "endpoint", ep, "result", "failure").register(this.metrics);
            e.ejectionCount = Counter.builder("sluice.upstream.ejections").description("Passive ejections of an endpoint after consecutive failures")
                    .tags("backend", name, "endpoint", ep).register(this.metrics);
            gauges.add(Gauge.builder("sluice.upstream.in_flight", e.outstanding, AtomicInteger::get).description("Requests in flight to an endpoint")
                    .tags("backend", name, "endpoint", ep).register(this.metrics));
            gauges.add(Gauge.builder("sluice.upstream.endpoint.available", e, x -> x.available(System.nanoTime()) && healthy(x)
                            && x.breaker.circuitState() != com.linecorp.armeria.client.circuitbreaker.CircuitState.OPEN ? 1 : 0)
                    .description("1 while an endpoint takes requests (not ejected, healthy, circuit not open)")
                    .tags("backend", name, "endpoint", ep).register(this.metrics));
        }
        this.budget = new RetryBudget(config.retry().budget(), config.retry().burst());
        long b = config.retry().backoff().toMillis();
        this.retryBackoff = b == 0 ? Backoff.withoutDelay() : Backoff.exponential(b, Math.max(b, 1000)).withJitter(0.2);
        this.authorization = config.apiKey() == null ? null : "Bearer " + config.apiKey();
        if (config.healthCheck().enabled()) {
            var hb = HealthCheckedEndpointGroup.builder(EndpointGroup.of(endpoints.stream().map(e -> e.endpoint).distinct().toList()),
                            config.healthCheck().path())
                    .clientFactory(factory)
                    .protocol(endpoints.getFirst().protocol)
                    .retryInterval(config.healthCheck().interval());
            if (config.apiKey() != null) hb.auth(AuthToken.ofOAuth2(config.apiKey()));
            this.health = hb.build();
            health.addListener(list -> healthy = Set.copyOf(list), true);
            health.whenReady().thenRun(() -> healthKnown = true);
            com.linecorp.armeria.common.CommonPools.workerGroup().schedule(() -> {
                healthKnown = true;
            }, config.healthCheck().interval().plus(config.timeouts().connect()).toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } else {
            this.health = null;
        }
        log.info("backend {}: openai upstream, {} endpoint(s), model {}, health checks {}, prefix affinity {}, usage counted by {}",
                name, endpoints.size(), config.model() == null ? "as requested" : config.model(),
                health == null ? "off" : config.healthCheck().path() + " every " + config.healthCheck().interval(),
                config.prefixAffinity().enabled() ? config.prefixAffinity().prefixChars() + " chars" : "off",
                counter.exact() ? "tokenizer " + config.tokenizer() : "estimate");
    }

    @Override
    public String name() {
        return name;
    }

    public BackendConfig config() {
        return config;
    }

    @Override
    public CompletableFuture<Integer> countPromptTokens(GatewayRequest req) {
        return CompletableFuture.completedFuture(counter.prompt(req));
    }

    @Override
    public HttpResponse execute(ServiceRequestContext ctx, GatewayRequest req) {
        budget.onRequest();
        long now = System.nanoTime();
        long deadline = Math.min(req.deadlineNanos(), now + config.timeouts().total().toNanos());
        if (deadline - now <= 0) return OpenAiService.error(timeout("the request's deadline passed before it was sent"));
        ctx.setRequestTimeout(TimeoutMode.SET_FROM_NOW, Duration.ofNanos(deadline - now).plus(BACKSTOP));
        boolean clientUsage = req.body().path("stream_options").path("include_usage").asBoolean(false);
        ObjectNode body = req.body().deepCopy();
        if (config.model() != null) body.put("model", config.model());
        if (req.stream()) body.withObject("stream_options").put("include_usage", true);
        byte[] bytes;
        try {
            bytes = JSON.writeValueAsBytes(body);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        String affinityKey = config.prefixAffinity().enabled() ? PromptText.of(req, config.prefixAffinity().prefixChars()) : null;
        return req.stream() ? new StreamCall(ctx, req, bytes, deadline, clientUsage, affinityKey).start()
                : new PlainCall(ctx, req, bytes, deadline, affinityKey).start();
    }

    /** Endpoints available now (for tests and the admin view). */
    List<UpstreamEndpoint> endpoints() {
        return endpoints;
    }

    boolean healthy(UpstreamEndpoint e) {
        return health == null || !healthKnown || healthy.contains(e.endpoint);
    }

    /**
     * Picks the endpoint for the next attempt and takes its breaker's permission: the least
     * loaded available one not yet tried (or tried, when no other is left), or null when none is available.
     */
    UpstreamEndpoint select(Set<UpstreamEndpoint> tried, String affinityKey) {
        long now = System.nanoTime();
        List<UpstreamEndpoint> candidates = new ArrayList<>(endpoints.size());
        for (UpstreamEndpoint e : endpoints) if (!tried.contains(e) && e.available(now) && healthy(e)) candidates.add(e);
        if (candidates.isEmpty()) for (UpstreamEndpoint e : tried) if (e.available(now) && healthy(e)) candidates.add(e);
        while (!candidates.isEmpty()) {
            UpstreamEndpoint pick = affinityKey != null ? byAffinity(candidates, affinityKey) : leastOutstanding(candidates);
            if (pick.breaker.tryRequest()) return pick;
            candidates.remove(pick); // half-open and its trial is taken
        }
        return null;
    }

    private static UpstreamEndpoint leastOutstanding(List<UpstreamEndpoint> candidates) {
        UpstreamEndpoint best = null;
        int min = Integer.MAX_VALUE, ties = 0;
        for (UpstreamEndpoint e : candidates) {
            int o = e.outstanding.get();
            if (o < min) {
                min = o;
                best = e;
                ties = 1;
            } else if (o == min && ThreadLocalRandom.current().nextInt(++ties) == 0) {
                best = e; // reservoir sampling: each tie equally likely
            }
        }
        return best;
    }

    private UpstreamEndpoint byAffinity(List<UpstreamEndpoint> candidates, String key) {
        long h = hash64(key);
        UpstreamEndpoint best = null;
        long bestScore = Long.MIN_VALUE;
        int min = Integer.MAX_VALUE;
        for (UpstreamEndpoint e : candidates) {
            long score = mix(h ^ hash64(e.url));
            if (best == null || score > bestScore) {
                best = e;
                bestScore = score;
            }
            min = Math.min(min, e.outstanding.get());
        }
        if (best.outstanding.get() - min > config.prefixAffinity().maxImbalance()) return leastOutstanding(candidates);
        return best;
    }

    private static long hash64(String s) {
        long h = 0xcbf29ce484222325L; // FNV-1a
        for (int i = 0; i < s.length(); i++) {
            h ^= s.charAt(i);
            h *= 0x100000001b3L;
        }
        return mix(h);
    }

    private static long mix(long z) { // SplitMix64 finalizer
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    private RequestHeaders upstreamHeaders(UpstreamEndpoint ep, GatewayRequest req, boolean stream, long deadline) {
        RequestHeadersBuilder h = RequestHeaders.builder(HttpMethod.POST, ep.basePath + (req.chat() ? "/chat/completions" : "/completions"))
                .contentType(MediaType.JSON_UTF_8)
                .set(HttpHeaderNames.ACCEPT, stream ? "text/event-stream" : "application/json");
        if (authorization != null) h.set(HttpHeaderNames.AUTHORIZATION, authorization);
        for (String name : FORWARDED_HEADERS) {
            String v = req.headers().get(name);
            if (v != null) h.set(name, v);
        }
        long leftMs = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
        h.set(OpenAiService.DEADLINE_HEADER, Long.toString(leftMs)); // a Sluice worker upstream honours it
        return h.build();
    }

    /** Why an attempt failed. */
    enum FailureKind { CONNECT, RESET, STATUS, TIMEOUT, UNAVAILABLE, OTHER }

    record Failure(FailureKind kind, String message, boolean retryable, boolean endpointFault, int status, byte[] body, boolean noMoreTime) {
        static Failure of(FailureKind kind, String message) {
            return new Failure(kind, message, true, true, 0, null, false);
        }
    }

    static Failure classify(Throwable t) {
        while ((t instanceof java.util.concurrent.CompletionException || t instanceof java.util.concurrent.ExecutionException) && t.getCause() != null) t = t.getCause();
        if (t instanceof UnprocessedRequestException u) {
            Throwable c = u.getCause();
            return Failure.of(FailureKind.CONNECT, "connect failed (" + (c == null ? "unknown" : c.getClass().getSimpleName()) + ")");
        }
        if (t instanceof ResponseTimeoutException || t instanceof TimeoutException) return Failure.of(FailureKind.TIMEOUT, "timed out");
        if (t instanceof com.linecorp.armeria.common.ContentTooLargeException) {
            return new Failure(FailureKind.OTHER, "the upstream response is larger than " + MAX_PLAIN_RESPONSE_BYTES + " bytes", false, false, 0, null, false);
        }
        if (t instanceof com.linecorp.armeria.common.ClosedSessionException || t instanceof com.linecorp.armeria.common.stream.ClosedStreamException
                || t instanceof IOException || t instanceof com.linecorp.armeria.common.stream.AbortedStreamException) {
            return Failure.of(FailureKind.RESET, "connection reset (" + t.getClass().getSimpleName() + ")");
        }
        return Failure.of(FailureKind.OTHER, t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage()));
    }

    /** A non-2xx upstream status: 5xx, 429 and 408 may be retried elsewhere; 5xx counts against the endpoint. */
    static Failure statusFailure(int status, byte[] body) {
        boolean retryable = status >= 500 || status == 429 || status == 408;
        return new Failure(FailureKind.STATUS, "HTTP " + status, retryable, status >= 500, status, body, false);
    }

    private OpenAiException timeout(String what) {
        return new OpenAiException(HttpStatus.GATEWAY_TIMEOUT, "timeout_error", null, "upstream_timeout",
                "The upstream backend '" + name + "' timed out: " + what);
    }

    /** The client's answer for a request that ran out of attempts. */
    HttpResponse finalError(Failure f) {
        if (f.kind == FailureKind.STATUS && !f.retryable && f.status != 401 && f.status != 403) {
            // a client error the upstream found in the request: relay it, in OpenAI's shape
            byte[] b = f.body == null ? new byte[0] : f.body;
            try {
                JsonNode n = JSON.readTree(b);
                if (n != null && n.path("error").isObject()) {
                    return HttpResponse.of(ResponseHeaders.builder(f.status).contentType(MediaType.JSON_UTF_8).build(), HttpData.wrap(b));
                }
            } catch (IOException e) {
                // not JSON: wrap it below
            }
            String text = new String(b, 0, Math.min(b.length, 500), StandardCharsets.UTF_8);
            return OpenAiService.error(new OpenAiException(HttpStatus.valueOf(f.status), "invalid_request_error", null, null,
                    "The upstream backend '" + name + "' rejected the request: " + text));
        }
        return OpenAiService.error(exceptionFor(f));
    }

    OpenAiException exceptionFor(Failure f) {
        return switch (f.kind) {
            case TIMEOUT -> timeout(f.message);
            case UNAVAILABLE -> new OpenAiException(HttpStatus.SERVICE_UNAVAILABLE, "server_error", null, "upstream_unavailable",
                    "The upstream backend '" + name + "' has no available endpoint: " + f.message);
            case STATUS -> f.status == 401 || f.status == 403
                    ? new OpenAiException(HttpStatus.BAD_GATEWAY, "server_error", null, "upstream_auth_failed",
                    "The upstream backend '" + name + "' refused the gateway's credentials (HTTP " + f.status + ")")
                    : new OpenAiException(HttpStatus.BAD_GATEWAY, "server_error", null, "upstream_error",
                    "The upstream backend '" + name + "' failed: " + f.message);
            default -> new OpenAiException(HttpStatus.BAD_GATEWAY, "server_error", null, "upstream_error",
                    "The upstream backend '" + name + "' failed: " + f.message);
        };
    }

    /** What one request's attempts share: the tried endpoints, the attempt count, the deadline. */
    private abstract class Call {
        final ServiceRequestContext ctx;
        final GatewayRequest req;
        final byte[] body;
        final long deadline;
        final String affinityKey;
        final Set<UpstreamEndpoint> tried = new HashSet<>(4);
        int attempts;
        boolean clientGone;

        Call(ServiceRequestContext ctx, GatewayRequest req, byte[] body, long deadline, String affinityKey) {
            this.ctx = ctx;
            this.req = req;
            this.body = body;
            this.deadline = deadline;
            this.affinityKey = affinityKey;
        }

        abstract void attempt(UpstreamEndpoint ep);

        abstract void fail(Failure f);

        /** Starts the next attempt, or fails when no endpoint is available. */
        void next(Failure last) {
            if (clientGone) return;
            UpstreamEndpoint ep = select(tried, affinityKey);
            if (ep == null) {
                fail(last != null ? last : new Failure(FailureKind.UNAVAILABLE, "every endpoint is ejected, unhealthy or has its circuit open",
                        true, false, 0, null, false));
                return;
            }
            attempts++;
            tried.add(ep);
            ep.outstanding.incrementAndGet();
            attempt(ep);
        }

        /** After failure {@code f} of an attempt on {@code ep}: retry when allowed, else fail. */
        void failed(UpstreamEndpoint ep, Failure f) {
            ep.outstanding.decrementAndGet();
            long now = System.nanoTime();
            if (clientGone) {
                fail(f);
                return;
            }
            if (f.endpointFault) {
                ep.onFailure(now);
                ep.attemptsFailed.increment();
            } else {
                ep.onSuccess();
                ep.attemptsOk.increment();
            }
            log.debug("backend {}: attempt {} on {} failed: {}", name, attempts, ep, f.message);
            long delayMs = retryBackoff.nextDelayMillis(attempts);
            if (delayMs < 0) delayMs = 0;
            boolean timeLeft = deadline - now - TimeUnit.MILLISECONDS.toNanos(delayMs) > 0;
            boolean wanted = f.retryable && !f.noMoreTime && attempts < config.retry().maxAttempts() && timeLeft;
            if (wanted && budget.tryRetry()) {
                Counter.builder("sluice.upstream.retries").description("Retries before the first byte, and retries the budget refused")
                        .tags("backend", name, "decision", "retried").register(metrics).increment();
                if (delayMs == 0) next(f);
                else ctx.eventLoop().schedule(() -> next(f), delayMs, TimeUnit.MILLISECONDS);
                return;
            }
            if (wanted) {
                Counter.builder("sluice.upstream.retries").description("Retries before the first byte, and retries the budget refused")
                        .tags("backend", name, "decision", "budget_exhausted").register(metrics).increment();
                log.debug("backend {}: retry budget spent; not retrying", name);
            }
            fail(f);
        }
    }

    /** A plain request: the whole upstream body is read, checked and relayed in one piece. */
    private final class PlainCall extends Call {
        final CompletableFuture<HttpResponse> result = new CompletableFuture<>();

        PlainCall(ServiceRequestContext ctx, GatewayRequest req, byte[] body, long deadline, String affinityKey) {
            super(ctx, req, body, deadline, affinityKey);
        }

        HttpResponse start() {
            ctx.whenRequestCancelling().thenRun(() -> clientGone = true);
            next(null);
            return HttpResponse.of(result);
        }

        @Override
        void attempt(UpstreamEndpoint ep) {
            long left = deadline - System.nanoTime();
            RequestOptions opts = RequestOptions.builder().responseTimeoutMillis(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)))
                    .maxResponseLength(MAX_PLAIN_RESPONSE_BYTES).build();
            HttpRequest r = HttpRequest.of(upstreamHeaders(ep, req, false, deadline), HttpData.wrap(body));
            client(ep, ctx).execute(r, opts).aggregate().handleAsync((agg, t) -> {
                try {
                    done(ep, agg, t);
                } catch (RuntimeException e) {
                    ep.outstanding.decrementAndGet();
                    result.completeExceptionally(e);
                }
                return null;
            }, ctx.eventLoop());
        }

        private void done(UpstreamEndpoint ep, AggregatedHttpResponse agg, Throwable t) {
            if (t != null) {
                Failure f = classify(t);
                if (f.kind == FailureKind.TIMEOUT) f = new Failure(FailureKind.TIMEOUT, "no answer within the total timeout or the deadline", true, true, 0, null,
                        deadline - System.nanoTime() <= 0);
                failed(ep, f);
                return;
            }
            int status = agg.status().code();
            if (status < 200 || status >= 300) {
                failed(ep, statusFailure(status, agg.content().array()));
                return;
            }
            ep.outstanding.decrementAndGet();
            ep.onSuccess();
            ep.attemptsOk.increment();
            outcome("ok");
            byte[] content = agg.content().array();
            result.complete(HttpResponse.of(ResponseHeaders.builder(HttpStatus.OK).contentType(MediaType.JSON_UTF_8).build(),
                    HttpData.wrap(withUsage(content))));
        }

        /** The body, with counted usage added when the upstream sent none. */
        private byte[] withUsage(byte[] content) {
            ObjectNode top = dev.sluice.server.gateway.JsonFields.read(content, USAGE);
            if (top == null || top.path("usage").isObject()) return content; // not a JSON object (relayed as is), or has usage
            JsonNode n;
            try {
                n = JSON.readTree(content);
            } catch (IOException e) {
                return content; // not JSON: relayed as is
            }
            if (!(n instanceof ObjectNode o) || o.path("usage").isObject()) return content;
            StringBuilder text = new StringBuilder();
            for (JsonNode c : o.path("choices")) appendText(c, text);
            int prompt = req.promptTokens() >= 0 ? req.promptTokens() : counter.prompt(req);
            putUsage(o, prompt, counter.count(text.toString()));
            return o.toString().getBytes(StandardCharsets.UTF_8);
        }

        @Override
        void fail(Failure f) {
            if (f.kind != FailureKind.UNAVAILABLE) log.warn("backend {}: request failed after {} attempt(s): {}", name, attempts, f.message);
            outcome(clientGone ? "client_gone" : outcomeOf(f));
            result.complete(finalError(f));
        }
    }

    private static final java.util.Set<String> USAGE = java.util.Set.of("usage");

    static void putUsage(ObjectNode o, int prompt, int completion) {
        o.putObject("usage").put("prompt_tokens", prompt).put("completion_tokens", completion).put("total_tokens", prompt + completion);
    }

    /** Appends a choice's generated text: message or delta content, reasoning, tool-call arguments, or legacy text. */
    static void appendText(JsonNode choice, StringBuilder out) {
        if (out.length() >= MAX_COUNTED_CHARS) return;
        JsonNode m = choice.has("delta") ? choice.get("delta") : choice.get("message");
        if (choice.path("text").isTextual()) out.append(choice.get("text").asText());
        if (m == null) return;
        if (m.path("content").isTextual()) out.append(m.get("content").asText());
        if (m.path("reasoning_content").isTextual()) out.append(m.get("reasoning_content").asText());
        for (JsonNode call : m.path("tool_calls")) {
            JsonNode fn = call.path("function");
            if (fn.path("name").isTextual()) out.append(fn.get("name").asText());
            if (fn.path("arguments").isTextual()) out.append(fn.get("arguments").asText());
        }
    }

    /**
     * A streamed request. States: attempting (nothing sent to the client; failures may be
     * retried) -> committed (headers and the first event sent; failures end the stream with an
     * error event) -> ended.
     */
    private final class StreamCall extends Call {
        final HttpResponseWriter out = HttpResponse.streaming();
        final boolean clientUsage;
        boolean committed;
        boolean ended;
        Attempt current;
        ScheduledFuture<?> totalTimer;
        /**
         * Events relayed from one upstream frame, written to the client as one frame by {@link #flush}: the
         * array is handed to that frame as it is (no copy) and a new one is started, sized for the next upstream frame.
         */
        byte[] batch;
        int batchLen;
        /** The size to start the next batch with: the upstream frame being relayed, plus room for a usage chunk. */
        int batchHint = 512;

        void batch(byte[] bytes) {
            if (batch == null) batch = new byte[Math.max(batchHint, bytes.length)];
            else if (batchLen + bytes.length > batch.length) batch = Arrays.copyOf(batch, Math.max(batch.length * 2, batchLen + bytes.length));
            System.arraycopy(bytes, 0, batch, batchLen, bytes.length);
            batchLen += bytes.length;
        }

        /** Writes the batched events; true when something was written. */
        boolean flush() {
            if (batchLen == 0) return false;
            HttpData d = HttpData.wrap(batch, 0, batchLen);
            batch = null;
            batchLen = 0;
            return out.tryWrite(d);
        }

        StreamCall(ServiceRequestContext ctx, GatewayRequest req, byte[] body, long deadline, boolean clientUsage, String affinityKey) {
            super(ctx, req, body, deadline, affinityKey);
            this.clientUsage = clientUsage;
        }

        HttpResponse start() {
            out.whenComplete().handle((v, t) -> {
                if (t != null) ctx.eventLoop().execute(this::clientAborted);
                return null;
            });
            ctx.whenRequestCancelling().thenRun(() -> ctx.eventLoop().execute(this::clientAborted));
            totalTimer = ctx.eventLoop().schedule(this::totalTimeout, Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (ctx.eventLoop().inEventLoop()) next(null);
            else ctx.eventLoop().execute(() -> next(null));
            return out;
        }

        private void clientAborted() {
            if (ended) return;
            outcome("client_gone");
            clientGone = true;
            ended = true;
            totalTimer.cancel(false);
            if (current != null) current.cancel();
        }

        private void totalTimeout() {
            if (ended || current == null) return;
            current.abort(new Failure(FailureKind.TIMEOUT, "the total timeout or the request's deadline passed", false, true, 0, null, true));
        }

        @Override
        void attempt(UpstreamEndpoint ep) {
            Attempt a = new Attempt(ep);
            current = a;
            HttpResponse res = client(ep, ctx).execute(HttpRequest.of(upstreamHeaders(ep, req, true, deadline), HttpData.wrap(body)));
            a.res = res;
            long ft = Math.min(config.timeouts().firstToken().toNanos(), Math.max(0, deadline - System.nanoTime()));
            a.firstTokenTimer = ctx.eventLoop().schedule(() -> {
                if (!committed && current == a) a.abort(new Failure(FailureKind.TIMEOUT, "no first token within " + config.timeouts().firstToken(),
                        true, true, 0, null, false));
            }, ft, TimeUnit.NANOSECONDS);
            res.subscribe(a, ctx.eventLoop());
        }

        @Override
        void fail(Failure f) {
            if (ended) return;
            ended = true;
            totalTimer.cancel(false);
            if (f.kind != FailureKind.UNAVAILABLE) log.warn("backend {}: stream failed after {} attempt(s): {}", name, attempts, f.message);
            outcome(committed ? "midstream_error" : outcomeOf(f));
            if (!committed) {
                HttpResponse r = finalError(f);
                r.aggregate().thenAccept(agg -> {
                    out.tryWrite(agg.headers());
                    if (!agg.content().isEmpty()) out.tryWrite(agg.content());
                    out.close();
                });
            } else {
                flush();
                out.tryWrite(HttpData.ofUtf8("data: " + OpenAiService.errorJson(exceptionFor(f)) + "\n\n"));
                out.close();
            }
        }

        /** The stream ended well: [DONE] relayed. */
        private void finish(UpstreamEndpoint ep) {
            ep.outstanding.decrementAndGet();
            ep.onSuccess();
            ep.attemptsOk.increment();
            if (ended) return;
            outcome("ok");
            ended = true;
            totalTimer.cancel(false);
            flush();
            out.close();
        }

        private void commit() {
            committed = true;
            out.tryWrite(ResponseHeaders.builder(HttpStatus.OK).contentType(MediaType.EVENT_STREAM)
                    .add(HttpHeaderNames.CACHE_CONTROL, "no-cache").build());
        }

        /** One upstream call of this stream; all its callbacks run on the request's event loop. */
        private final class Attempt implements Subscriber<HttpObject> {
            final UpstreamEndpoint ep;
            final SseSplitter splitter = new SseSplitter();
            final StringBuilder text = new StringBuilder();
            HttpResponse res;
            Subscription sub;
            ScheduledFuture<?> firstTokenTimer, idleTimer;
            long lastChunkNanos;
            int status;
            ByteArrayOutputStream errorBody;
            boolean over, sawDone, sawError;
            Usage usage;
            String id, model, object;
            long created;
            /** The data of events not yet parsed (no usage in them), kept in case usage must be counted; bounded. */
            final List<byte[]> unparsed = new ArrayList<>();
            int unparsedBytes;

            Attempt(UpstreamEndpoint ep) {
                this.ep = ep;
            }

            @Override
            public void onSubscribe(Subscription s) {
                sub = s;
                if (over) s.cancel();
                else s.request(1);
            }

            @Override
            public void onNext(HttpObject o) {
                if (over) return;
                try {
                    if (o instanceof ResponseHeaders h) {
                        int s = h.status().code();
                        if (s >= 100 && s < 200) {
                            sub.request(1);
                            return;
                        }
                        status = s;
                        if (s != 200) errorBody = new ByteArrayOutputStream();
                        sub.request(1);
                    } else if (o instanceof HttpData d) {
                        if (errorBody != null) {
                            if (errorBody.size() < MAX_ERROR_BODY_BYTES) errorBody.write(d.array(), 0, Math.min(d.length(), MAX_ERROR_BODY_BYTES - errorBody.size()));
                            sub.request(1);
                            return;
                        }
                        lastChunkNanos = System.nanoTime();
                        batchHint = d.length() + 256;
                        splitter.feed(d.array(), this::event);
                        if (over) return;
                        if (flush()) out.whenConsumed().thenRun(() -> sub.request(1));
                        else sub.request(1);
                    } else {
                        sub.request(1); // trailers
                    }
                } catch (RuntimeException e) {
                    abort(Failure.of(FailureKind.OTHER, "bad upstream stream: " + e.getMessage()));
                }
            }

            @Override
            public void onError(Throwable t) {
                if (over) return;
                end();
                Failure f = classify(t);
                if (committed) failAfterCommit(f);
                else failed(ep, f);
            }

            @Override
            public void onComplete() {
                if (over) return;
                end();
                if (errorBody != null) {
                    failed(ep, statusFailure(status, errorBody.toByteArray()));
                    return;
                }
                byte[] rest = splitter.drainPartial();
                if (rest != null) event(rest);
                if (sawDone) {
                    finish(ep);
                } else if (sawError) {
                    // the upstream's own error event was relayed; the stream is over
                    ep.outstanding.decrementAndGet();
                    ep.onFailure(System.nanoTime());
                    if (!ended) {
                        ended = true;
                        totalTimer.cancel(false);
                        flush();
                        out.close();
                    }
                } else {
                    Failure f = Failure.of(FailureKind.RESET, "the upstream stream ended before [DONE]");
                    if (committed) failAfterCommit(f);
                    else failed(ep, f);
                }
            }

            /** One SSE event from the upstream. */
            private void event(byte[] raw) {
                if (SseParser.ordinary(raw, 0, raw.length)) { // the common chunk, found without decoding it
                    keepUnparsed(raw);
                    emit(raw);
                    return;
                }
                String ev = new String(raw, StandardCharsets.UTF_8);
                String data = SseSplitter.data(ev);
                if (data == null) { // a comment (keep-alive) or a field-only event
                    if (committed) emit(raw);
                    return;
                }
                if (data.trim().equals("[DONE]")) {
                    sawDone = true;
                    if (usage == null) {
                        for (byte[] u : unparsed) observe(SseSplitter.data(new String(u, StandardCharsets.UTF_8)));
                        unparsed.clear();
                        int prompt = req.promptTokens() >= 0 ? req.promptTokens() : counter.prompt(req);
                        usage = new Usage(prompt, counter.count(text.toString()));
                        if (clientUsage) emit(usageChunk().getBytes(StandardCharsets.UTF_8));
                    }
                    emit(raw);
                    return;
                }
                if (!data.contains("\"usage\"") && !data.contains("\"error\"")) {
                    keepUnparsed(raw);
                    emit(raw);
                    return;
                }
                JsonNode n;
                try {
                    n = JSON.readTree(data);
                } catch (IOException e) {
                    emit(raw);
                    return;
                }
                if (!(n instanceof ObjectNode o)) {
                    emit(raw);
                    return;
                }
                if (o.has("error")) {
                    sawError = true;
                    emit(raw);
                    return;
                }
                observe(o);
                JsonNode u = o.get("usage");
                if (u != null && u.isObject()) {
                    usage = Usage.of(u);
                    if (!clientUsage) {
                        if (o.path("choices").isEmpty()) return; // the usage chunk we asked for; the client did not
                        o.remove("usage");
                        emit(("data: " + o + "\n\n").getBytes(StandardCharsets.UTF_8));
                        return;
                    }
                } else if (u != null && u.isNull() && !clientUsage) {
                    o.remove("usage"); // vLLM sends "usage": null on every chunk once asked; unasked, the client never saw it
                    emit(("data: " + o + "\n\n").getBytes(StandardCharsets.UTF_8));
                    return;
                }
                emit(raw);
            }

            /** A common chunk, relayed unparsed: kept (bounded) to count usage only if the upstream sends none. */
            private void keepUnparsed(byte[] raw) {
                if (unparsedBytes < MAX_COUNTED_CHARS) {
                    unparsed.add(raw);
                    unparsedBytes += raw.length;
                }
            }

            private void observe(String data) {
                if (data == null) return;
                try {
                    if (JSON.readTree(data) instanceof ObjectNode o) observe(o);
                } catch (IOException e) {
                    // not a JSON chunk: nothing to count
                }
            }

            /** Notes a chunk's ids and generated text, for a usage chunk of our own. */
            private void observe(ObjectNode o) {
                if (o.path("id").isTextual()) id = o.get("id").asText();
                if (o.path("model").isTextual()) model = o.get("model").asText();
                if (o.path("object").isTextual()) object = o.get("object").asText();
                if (o.path("created").isNumber()) created = o.get("created").asLong();
                for (JsonNode c : o.path("choices")) appendText(c, text);
            }

            private String usageChunk() {
                ObjectNode c = JSON.createObjectNode();
                c.put("id", id == null ? "upstream" : id).put("object", object != null ? object : req.chat() ? "chat.completion.chunk" : "text_completion")
                        .put("created", created).put("model", model == null ? req.model() : model);
                c.putArray("choices");
                putUsage(c, usage.promptTokens(), usage.completionTokens());
                return "data: " + c + "\n\n";
            }

            private void emit(byte[] bytes) {
                if (ended) return;
                if (!committed) {
                    commit();
                    if (firstTokenTimer != null) firstTokenTimer.cancel(false);
                    scheduleIdle(config.timeouts().idle().toNanos());
                }
                batch(bytes);
            }

            private void scheduleIdle(long nanos) {
                idleTimer = ctx.eventLoop().schedule(() -> {
                    if (over) return;
                    long quiet = System.nanoTime() - lastChunkNanos;
                    long idle = config.timeouts().idle().toNanos();
                    if (quiet >= idle) abort(Failure.of(FailureKind.TIMEOUT, "no chunk for " + config.timeouts().idle()));
                    else scheduleIdle(idle - quiet);
                }, nanos, TimeUnit.NANOSECONDS);
            }

            private void end() {
                over = true;
                if (firstTokenTimer != null) firstTokenTimer.cancel(false);
                if (idleTimer != null) idleTimer.cancel(false);
            }

            /** Ends this attempt on our side (timeout, bad stream) and handles the failure. */
            void abort(Failure f) {
                if (over) return;
                end();
                if (sub != null) sub.cancel();
                if (res != null) res.abort();
                if (committed) failAfterCommit(f);
                else failed(ep, f);
            }

            /** The client went away: stop quietly; the endpoint is not to blame. */
            void cancel() {
                if (over) return;
                end();
                if (sub != null) sub.cancel();
                if (res != null) res.abort();
                ep.outstanding.decrementAndGet();
            }

            private void failAfterCommit(Failure f) {
                ep.outstanding.decrementAndGet();
                if (f.endpointFault) {
                    ep.onFailure(System.nanoTime());
                    ep.attemptsFailed.increment();
                }
                fail(f);
            }
        }
    }

    /**
     * The client factory whose connections live on {@code loop}, made on first use.
     *
     * <p>Design note (loop-local connections, as Envoy's workers keep their own pools): a request is
     * served on its server event loop, and with one shared factory its upstream connection lives on
     * some other loop, so every request crosses threads twice (the request out, the response back),
     * and each crossing may have to wake a sleeping thread, which is where a busy or virtualised host
     * adds its latency. Each server loop gets its own factory on that loop instead: its upstream
     * calls, their response callbacks and the relay to the client all run on one thread. The cost is
     * one connection per loop per endpoint (an HTTP/2 one multiplexes all of that loop's requests).
     */
    private ClientFactory loopFactory(io.netty.channel.EventLoop loop) {
        return loopFactories.computeIfAbsent(loop, l -> ClientFactory.builder()
                .workerGroup(l, false)
                .connectTimeout(config.timeouts().connect())
                .idleTimeout(Duration.ofSeconds(60))
                .build());
    }

    private final java.util.concurrent.ConcurrentHashMap<io.netty.channel.EventLoop, ClientFactory> loopFactories = new java.util.concurrent.ConcurrentHashMap<>();

    /** The client for an attempt made on {@code ctx}'s event loop. */
    private static com.linecorp.armeria.client.WebClient client(UpstreamEndpoint ep, ServiceRequestContext ctx) {
        return ep.client(ctx.eventLoop().withoutContext());
    }

    @Override
    public void close() {
        for (Meter m : gauges) metrics.remove(m);
        if (health != null) health.close();
        factory.close();
        for (ClientFactory f : loopFactories.values()) f.close();
    }

    @Override
    public String toString() {
        return "OpenAiUpstreamBackend[" + name + ", " + endpoints.size() + " endpoint(s)]";
    }
}
