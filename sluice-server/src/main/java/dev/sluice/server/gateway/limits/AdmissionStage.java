package dev.sluice.server.gateway.limits;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.ResponseHeaders;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.gateway.GatewayRequest;
import dev.sluice.server.gateway.GatewayStage;
import dev.sluice.server.gateway.Principal;
import dev.sluice.server.gateway.ResponseTap;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The gateway's admission stage: rate limits (RPM, TPM, concurrency on every matching rule),
 * then budget reservations; after the response, settlement and the usage record.
 *
 * <p>Design note, the life of a request: {@link RateLimiter#admit} takes one request and the
 * prompt tokens from every matching bucket and a concurrency slot, or refuses with 429 and
 * OpenAI's headers; the {@link Ledger} then reserves prompt + {@code max_tokens} tokens and their
 * cost on every budget of the key and the tenant, or refuses with 429 {@code insufficient_quota}.
 * The response is passed on unchanged except for OpenAI's {@code x-ratelimit-*} headers, and
 * observed with {@link ResponseTap}: when it ends (success, error or client cancel) the
 * completion tokens are taken from the token buckets, the slots freed, the reservation settled
 * with the actual usage, and a {@link UsageRecord} queued. That happens exactly once per
 * request; a backstop on the request log frees what is held should the tap never fire.
 * Bucket and budget calls are asynchronous (Redis) or on the blocking pool (JDBC); the rest of
 * the pipeline resumes on the request's event loop. With budgets in Redis the reservation runs
 * alongside the bucket operations (one round trip less) and is undone if a bucket refuses; with
 * budgets in the store it runs only once the buckets have admitted the request, so a flood of
 * rate-limited requests never reaches the database.
 */
public final class AdmissionStage implements GatewayStage {
    private static final Logger log = LoggerFactory.getLogger(AdmissionStage.class);
    /** How long after the request log completes the backstop frees what a request still holds: 5 s. */
    static final long BACKSTOP_SECONDS = 5;

    private final LimitsConfig config;
    private final RateLimiter limiter;
    private final Catalog catalog;
    private final Ledger ledger;
    private final boolean ledgerInRedis;
    private final UsageStore usage;
    private final MeterRegistry metrics;

    AdmissionStage(LimitsConfig config, RateLimiter limiter, Catalog catalog, Ledger ledger, boolean ledgerInRedis, UsageStore usage, MeterRegistry metrics) {
        this.config = config;
        this.limiter = limiter;
        this.catalog = catalog;
        this.ledger = ledger;
        this.ledgerInRedis = ledgerInRedis;
        this.usage = usage;
        this.metrics = metrics;
    }

    @Override
    public HttpResponse handle(ServiceRequestContext ctx, GatewayRequest req, Next next) throws Exception {
        long t0 = System.nanoTime();
        List<RateLimiter.Match> matches = limiter.matches(req);
        List<Catalog.BudgetLimit> budgets = ledger == null ? List.of() : catalog.budgetsFor(req.principal());
        if (matches.isEmpty() && budgets.isEmpty()) {
            if (usage == null) return next.proceed(ctx, req); // nothing to limit, reserve or record
            Ticket t = new Ticket(req, RateLimiter.Admission.NONE, Ledger.Reservation.NONE, t0);
            return t.watch(ctx, next.proceed(ctx, req));
        }
        CompletableFuture<RateLimiter.Admission> rate;
        try {
            rate = limiter.admit(req, matches);
        } catch (OpenAiException e) {
            rate = CompletableFuture.failedFuture(e);
        }
        CompletableFuture<Ticket> ticket;
        if (ledgerInRedis) {
            // both at once (one Redis round trip saved); whichever refuses, the other is undone
            CompletableFuture<RateLimiter.Admission> r = rate;
            CompletableFuture<Ledger.Reservation> q = reserve(req, budgets);
            ticket = CompletableFuture.allOf(r, q).handle((v, t) -> {
                RateLimiter.Admission adm = r.isCompletedExceptionally() ? null : r.join();
                Ledger.Reservation res = q.isCompletedExceptionally() ? null : q.join();
                if (adm != null && res != null) return new Ticket(req, adm, res, t0);
                if (adm != null) adm.release(0);
                if (res != null) settleQuietly(res, 0, 0);
                throw new CompletionException(r.isCompletedExceptionally() ? r.exceptionNow() : q.exceptionNow());
            });
        } else {
            // the store's reservation is a transaction: only for requests the rate limits admitted
            ticket = rate.thenCompose(adm -> reserve(req, budgets).handle((res, t) -> {
                if (t != null) {
                    adm.release(0);
                    throw new CompletionException(t);
                }
                return new Ticket(req, adm, res, t0);
            }));
        }
        return HttpResponse.of(ticket.handleAsync((t, failure) -> {
            if (failure != null) {
                OpenAiException e = toOpenAi(unwrap(failure));
                new Ticket(req, RateLimiter.Admission.NONE, Ledger.Reservation.NONE, t0).finishRefused(e.status().code());
                return OpenAiService.error(e);
            }
            HttpResponse res;
            try {
                res = next.proceed(ctx, req);
            } catch (Exception e) {
                OpenAiException oe = toOpenAi(e);
                t.finish(null, oe.status().code());
                return OpenAiService.error(oe);
            }
            return t.watch(ctx, res);
        }, ctx.eventLoop()));
    }

    private CompletableFuture<Ledger.Reservation> reserve(GatewayRequest req, List<Catalog.BudgetLimit> budgets) {
        if (budgets.isEmpty()) return CompletableFuture.completedFuture(Ledger.Reservation.NONE);
        int prompt = Math.max(0, req.promptTokens());
        long completion = (long) (req.maxTokens() > 0 ? req.maxTokens() : config.defaultMaxTokens()) * req.n();
        long micros = catalog.cost(req.model(), prompt, completion);
        return ledger.reserve(budgets, prompt + completion, micros).handle((r, t) -> {
            if (t == null) return r;
            Throwable cause = unwrap(t);
            if (cause instanceof Ledger.OverBudget ob) {
                Counter.builder("sluice.quota.rejected").description("Requests refused because a budget could not take their reservation")
                        .tag("scope", ob.budget.scope()).tag("period", ob.budget.period()).register(metrics).increment();
                throw new CompletionException(new OpenAiException(HttpStatus.TOO_MANY_REQUESTS, "insufficient_quota", null, "insufficient_quota",
                        "You exceeded your current quota (" + ob.budget.scope() + " budget per " + ob.budget.period()
                                + "), please check your plan and billing details."));
            }
            if (ledgerInRedis && !config.failClosed()) {
                log.warn("budgets: Redis unreachable, admitting without a reservation (fallback: local): {}", cause.toString());
                Counter.builder("sluice.quota.unchecked").description("Requests admitted without a budget reservation because its backend was unreachable")
                        .register(metrics).increment();
                return Ledger.Reservation.NONE;
            }
            log.warn("budgets: cannot reserve, refusing the request: {}", cause.toString());
            throw new CompletionException(new OpenAiException(HttpStatus.SERVICE_UNAVAILABLE, "server_error", null, "quota_unavailable",
                    "Budgets cannot be checked now; try again shortly").header("retry-after", "1"));
        });
    }

    private void settleQuietly(Ledger.Reservation r, long tokens, long micros) {
        if (r.slots().isEmpty()) return;
        ledger.settle(r, tokens, micros).exceptionally(e -> {
            log.warn("budgets: settlement failed (the reservation stays counted until the period ends): {}", e.toString());
            return null;
        });
    }

    private static Throwable unwrap(Throwable t) {
        while (t instanceof CompletionException && t.getCause() != null) t = t.getCause();
        return t;
    }

    private static OpenAiException toOpenAi(Throwable t) {
        if (t instanceof OpenAiException e) return e;
        log.error("admission failed", t);
        return OpenAiException.internal(t);
    }

    /** What one admitted request holds, released exactly once when its response ends. */
    private final class Ticket {
        final GatewayRequest req;
        final RateLimiter.Admission admission;
        final Ledger.Reservation reservation;
        final long t0;
        final AtomicBoolean done = new AtomicBoolean();

        Ticket(GatewayRequest req, RateLimiter.Admission admission, Ledger.Reservation reservation, long t0) {
            this.req = req;
            this.admission = admission;
            this.reservation = reservation;
            this.t0 = t0;
        }

        HttpResponse watch(ServiceRequestContext ctx, HttpResponse res) {
            HttpResponse out = ResponseTap.status(res, o -> finish(o, 0));
            Map<String, String> h = admission.headers();
            if (!h.isEmpty()) {
                out = out.mapHeaders(headers -> {
                    com.linecorp.armeria.common.ResponseHeadersBuilder b = headers.toBuilder();
                    h.forEach((k, v) -> {
                        if (!headers.contains(k)) b.set(k, v);
                    });
                    return b.build();
                });
            }
            // The backstop frees what the request holds should its tap never fire. The request log completes around the same
            // moment as the response stream (either may come first), so the check runs as the next task on the event loop,
            // after both; the timer is armed only when the tap has still not fired then (rare). A timer per request kept every
            // request alive for BACKSTOP_SECONDS: at 2,000 req/s, 10,000 requests with their parsed chunks, promoted to the old
            // generation and collected in pauses of 100-600 ms. The event loop without the request context is used: a
            // context-aware task would capture the whole request context.
            ctx.log().whenComplete().thenRun(() -> {
                if (done.get()) return;
                io.netty.channel.EventLoop loop = ctx.eventLoop().withoutContext();
                loop.execute(() -> {
                    if (done.get()) return;
                    loop.schedule(() -> {
                        if (!done.get()) {
                            log.warn("admission: a response ended without its tap firing; releasing what it held");
                            finish(null, 499);
                        }
                    }, BACKSTOP_SECONDS, TimeUnit.SECONDS);
                });
            });
            return out;
        }

        /** Settles with {@code o}, or (when null) with nothing generated and {@code status}. */
        void finish(ResponseTap.Outcome o, int status) {
            if (!done.compareAndSet(false, true)) return;
            int prompt = 0, completion = 0;
            if (o != null) {
                status = o.failure() != null && !o.ok() ? 499 : o.status();
                if (o.usage() != null) {
                    prompt = o.usage().promptTokens();
                    completion = o.usage().completionTokens();
                } else if (o.status() >= 200 && o.status() < 300) {
                    prompt = Math.max(0, req.promptTokens());
                    completion = estimateCompletion(o);
                }
            }
            long cost = catalog.cost(req.model(), prompt, completion);
            try {
                admission.release(completion);
            } catch (RuntimeException e) {
                log.warn("admission: releasing rate limits failed: {}", e.toString());
            }
            settleQuietly(reservation, (long) prompt + completion, cost);
            record(status, prompt, completion, cost);
        }

        void finishRefused(int status) {
            if (done.compareAndSet(false, true)) record(status, 0, 0, 0);
        }

        private void record(int status, int prompt, int completion, long cost) {
            if (usage == null) return;
            Principal p = req.principal();
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            usage.record(new UsageRecord(Instant.now(), p.tenant(), p.project(), p.keyId(), p.user(), req.model(), req.version(), req.kind().route,
                    prompt, completion, (int) Math.min(Integer.MAX_VALUE, ms), status, cost));
        }
    }

    /**
     * Completion tokens of a response without a usage object: one per streamed content delta (an engine sends one token
     * per chunk); with a tap that kept no chunks ({@link ResponseTap#status}), one per ordinary data event.
     */
    static int estimateCompletion(ResponseTap.Outcome o) {
        if (o.chunks().isEmpty()) return o.events();
        int n = 0;
        for (ObjectNode chunk : o.chunks()) {
            for (JsonNode c : chunk.path("choices")) {
                String text = c.has("delta") ? c.path("delta").path("content").asText("") : c.path("text").asText("");
                if (!text.isEmpty()) n++;
            }
        }
        return n;
    }
}
