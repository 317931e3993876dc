package dev.sluice.server.gateway.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Ticker;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpHeaderNames;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.ResponseHeaders;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.gateway.GatewayRequest;
import dev.sluice.server.gateway.GatewayStage;
import dev.sluice.server.gateway.ResponseTap;
import dev.sluice.server.openai.OpenAiErrors;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import dev.sluice.server.redis.Redis;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The response cache stage: exact-match answers for deterministic requests, read through two
 * levels (in-process, then Redis), concurrent identical requests coalesced into one generation.
 *
 * <p>Design note, per request (on its event loop, never blocking):
 * <ol>
 *   <li>Cacheable? Only deterministic requests ({@link GatewayRequest#deterministic()}) of a model whose
 *       cache is on; the rest pass through with {@code x-sluice-cache: bypass}.</li>
 *   <li>{@code Cache-Control: no-cache} skips the read (and joining a running generation);
 *       {@code no-store} skips the write; both: bypass.</li>
 *   <li>The key ({@link CacheKey}) is scoped to the caller's tenant unless the model's cache is shared.</li>
 *   <li>Read: memory; on a miss Redis (asynchronous, bounded by its command timeout; any Redis failure is a
 *       miss). A hit is replayed ({@link Answers}) as JSON or SSE, {@code x-sluice-cache: hit}.</li>
 *   <li>Miss: join the {@link Flight} already generating this key ({@code coalesced}), or start one
 *       ({@code miss}). A flight that ends with a complete, successful answer writes both levels (unless
 *       {@code no-store}, or the answer is over {@code maxEntryBytes}).</li>
 * </ol>
 * Metrics: {@code sluice_cache_requests_total{result=hit|miss|coalesced|bypass}},
 * {@code sluice_cache_hits_total{level=memory|redis}}, {@code sluice_cache_hit_ratio} (hits over cacheable
 * requests, coalesced ones counted as served without a generation of their own: (hit+coalesced)/(hit+coalesced+miss)),
 * {@code sluice_cache_writes_total}, and Redis health ({@link ResponseCache}).
 */
public final class CacheStage implements GatewayStage, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CacheStage.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Most bytes of one generation buffered for coalesced clients: {@link ResponseTap#MAX_CAPTURE_BYTES}; past it no new client joins and the answer is not cached. */
    static final long MAX_FLIGHT_BYTES = ResponseTap.MAX_CAPTURE_BYTES;
    /** How often a client tries to join or lead a flight before it runs on its own (races with flights that end). */
    private static final int JOIN_ATTEMPTS = 3;

    private final CacheConfig config;
    private final ResponseCache cache;
    private final ConcurrentHashMap<String, Flight> flights = new ConcurrentHashMap<>();
    private final Counter hits, misses, coalesced, bypass, memoryHits, redisHits, writes;

    public CacheStage(CacheConfig config, Redis redis, MeterRegistry metrics) {
        this(config, redis, metrics, Ticker.systemTicker());
    }

    /** @param ticker the in-process level's clock (tests move it to expire entries) */
    public CacheStage(CacheConfig config, Redis redis, MeterRegistry metrics, Ticker ticker) {
        this.config = config;
        this.cache = new ResponseCache(config, redis, metrics, ticker);
        hits = requests(metrics, "hit");
        misses = requests(metrics, "miss");
        coalesced = requests(metrics, "coalesced");
        bypass = requests(metrics, "bypass");
        memoryHits = Counter.builder("sluice.cache.hits").description("Cache hits by level").tag("level", "memory").register(metrics);
        redisHits = Counter.builder("sluice.cache.hits").description("Cache hits by level").tag("level", "redis").register(metrics);
        writes = Counter.builder("sluice.cache.writes").description("Answers written to the cache").register(metrics);
        Gauge.builder("sluice.cache.hit_ratio", this, CacheStage::hitRatio)
                .description("Cacheable requests served without a generation of their own: (hit+coalesced)/(hit+coalesced+miss)").register(metrics);
        Gauge.builder("sluice.cache.flights", flights, ConcurrentHashMap::size).description("Cacheable generations running now (each may serve many clients)").register(metrics);
    }

    private static Counter requests(MeterRegistry metrics, String result) {
        return Counter.builder("sluice.cache.requests").description("Requests seen by the response cache, by result").tag("result", result).register(metrics);
    }

    double hitRatio() {
        double served = hits.count() + coalesced.count();
        double all = served + misses.count();
        return all == 0 ? 0 : served / all;
    }

    /** Flights running now (tests). */
    int flights() {
        return flights.size();
    }

    @Override
    public HttpResponse handle(ServiceRequestContext ctx, GatewayRequest req, Next next) throws Exception {
        CacheConfig.Model m = config.model(req.model());
        Control cc = Control.of(String.join(",", req.headers().getAll(HttpHeaderNames.CACHE_CONTROL)));
        if (!m.enabled() || !req.deterministic() || (cc.noCache && cc.noStore)) {
            bypass.increment();
            return next.proceed(ctx, req).mapHeaders(h -> h.toBuilder().set(Flight.HEADER, "bypass").build());
        }
        String key = CacheKey.of(req, m.shared() ? CacheKey.SHARED : req.principal().tenant());
        if (cc.noCache) return generate(ctx, req, next, key, m, cc, false);
        ObjectNode hit = parse(cache.memory(key), key);
        if (hit != null) {
            memoryHits.increment();
            return replay(hit, req);
        }
        if (!cache.hasRedis()) return generate(ctx, req, next, key, m, cc, config.coalesce());
        CompletableFuture<HttpResponse> f = cache.redis(key, m.ttl()).thenApplyAsync(bytes -> {
            ObjectNode v = parse(bytes, key);
            if (v != null) {
                redisHits.increment();
                return replay(v, req);
            }
            return generateOrError(ctx, req, next, key, m, cc);
        }, ctx.eventLoop());
        return HttpResponse.of(f.exceptionally(t -> OpenAiService.error(OpenAiErrors.fromThrowable(t))));
    }

    private HttpResponse generateOrError(ServiceRequestContext ctx, GatewayRequest req, Next next, String key, CacheConfig.Model m, Control cc) {
        return generateOrError(ctx, req, next, key, m, cc, config.coalesce());
    }

    /** A hit: the stored answer as this request wants it. */
    private HttpResponse replay(ObjectNode answer, GatewayRequest req) {
        hits.increment();
        String id = Answers.newId(req.chat());
        long created = System.currentTimeMillis() / 1000;
        if (req.stream()) {
            StringBuilder sb = new StringBuilder();
            for (ObjectNode chunk : Answers.sse(answer, req.chat(), req.includeUsage(), id, created)) sb.append("data: ").append(chunk).append("\n\n");
            sb.append("data: [DONE]\n\n");
            return HttpResponse.of(Flight.sseHeaders("hit"), HttpData.ofUtf8(sb.toString()));
        }
        return HttpResponse.of(ResponseHeaders.builder(HttpStatus.OK).contentType(MediaType.JSON_UTF_8).set(Flight.HEADER, "hit").build(),
                HttpData.ofUtf8(Answers.json(answer, id, created).toString()));
    }

    /** A cached answer, or null for none; an entry that does not parse (corrupt, or written by another version) is dropped. */
    private ObjectNode parse(byte[] json, String key) {
        if (json == null) return null;
        try {
            if (JSON.readTree(json) instanceof ObjectNode o && o.has("choices")) return o;
        } catch (IOException e) {
            // below
        }
        log.warn("cache entry {} is not an answer; ignored", key);
        cache.invalidateMemory(key);
        return null;
    }

    /** A miss: join the flight generating {@code key}, or lead a new one. */
    private HttpResponse generate(ServiceRequestContext ctx, GatewayRequest req, Next next, String key, CacheConfig.Model m, Control cc,
                                  boolean coalesce) throws Exception {
        boolean chat = req.chat();
        if (coalesce) {
            for (int attempt = 0; attempt < JOIN_ATTEMPTS; attempt++) {
                Flight running = flights.get(key);
                if (running != null) {
                    Flight.Client c = new Flight.Client(ctx, req.stream(), req.includeUsage(), Answers.newId(chat), "coalesced");
                    c.retry = () -> ctx.eventLoop().execute(() -> c.response.complete(generateOrError(ctx, req, next, key, m, cc, false)));
                    HttpResponse r = running.join(c);
                    if (r != null) {
                        coalesced.increment();
                        return r;
                    }
                    flights.remove(key, running);
                    continue;
                }
                Flight f = newFlight(req, key, m, cc, true);
                if (flights.putIfAbsent(key, f) == null) {
                    ObjectNode raced = parse(cache.memory(key), key); // a flight may have just ended and written the answer
                    if (raced != null) {
                        flights.remove(key, f);
                        memoryHits.increment();
                        return replay(raced, req);
                    }
                    return lead(ctx, req, next, f);
                }
            }
        }
        return lead(ctx, req, next, newFlight(req, key, m, cc, false));
    }

    private HttpResponse generateOrError(ServiceRequestContext ctx, GatewayRequest req, Next next, String key, CacheConfig.Model m, Control cc, boolean coalesce) {
        try {
            return generate(ctx, req, next, key, m, cc, coalesce);
        } catch (OpenAiException e) {
            return OpenAiService.error(e);
        } catch (Exception e) {
            log.error("cache stage failed", e);
            return OpenAiService.error(OpenAiException.internal(e));
        }
    }

    private Flight newFlight(GatewayRequest req, String key, CacheConfig.Model m, Control cc, boolean registered) {
        Flight[] self = new Flight[1];
        self[0] = new Flight(req.chat(), MAX_FLIGHT_BYTES, f -> flights.remove(key, f), r -> {
            if (r.ok() && !r.overflow() && !cc.noStore) {
                byte[] json = r.answer().toString().getBytes(StandardCharsets.UTF_8);
                if (json.length <= config.maxEntryBytes()) {
                    cache.put(key, json, m.ttl(), m.redisTtl());
                    writes.increment();
                }
            }
            if (registered) flights.remove(key, self[0]);
        });
        return self[0];
    }

    private HttpResponse lead(ServiceRequestContext ctx, GatewayRequest req, Next next, Flight f) throws Exception {
        misses.increment();
        if (req.stream()) forceUsage(req.body());
        Flight.Client leader = new Flight.Client(ctx, req.stream(), req.includeUsage(), null, "miss");
        HttpResponse res;
        try {
            res = next.proceed(ctx, req);
        } catch (OpenAiException e) {
            return f.failAtStart(leader, e);
        } catch (RuntimeException e) {
            log.error("gateway stage failed", e);
            return f.failAtStart(leader, OpenAiException.internal(e));
        }
        return f.lead(leader, res);
    }

    /** Asks the backend for the usage chunk (cached with the answer); clients that did not ask for it never see it. */
    private static void forceUsage(ObjectNode body) {
        JsonNode so = body.get("stream_options");
        if (so instanceof ObjectNode o) o.put("include_usage", true);
        else if (so == null || so.isNull()) body.putObject("stream_options").put("include_usage", true);
    }

    @Override
    public void close() {
        cache.close();
    }

    /** The request's {@code Cache-Control} directives that the cache honours. */
    record Control(boolean noCache, boolean noStore) {
        static Control of(String header) {
            if (header == null) return new Control(false, false);
            boolean noCache = false, noStore = false;
            for (String d : header.split(",")) {
                String x = d.trim().toLowerCase(Locale.ROOT);
                int eq = x.indexOf('=');
                if (eq >= 0) x = x.substring(0, eq).trim();
                if (x.equals("no-cache")) noCache = true;
                else if (x.equals("no-store")) noStore = true;
            }
            return new Control(noCache, noStore);
        }
    }
}
