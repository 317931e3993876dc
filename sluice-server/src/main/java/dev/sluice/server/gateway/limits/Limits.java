package dev.sluice.server.gateway.limits;

import com.linecorp.armeria.common.CommonPools;
import com.linecorp.armeria.server.ServerBuilder;
import dev.sluice.server.gateway.GatewayStage;
import dev.sluice.server.redis.Redis;
import dev.sluice.server.store.LazyStore;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The limits concern, built from its config: the admission stage (rate limits, budgets, usage
 * records) and its admin routes. {@link dev.sluice.server.gateway.GatewayAssembly} builds one,
 * adds {@link #stage()} to the pipeline and {@link #register} to the server, and closes it after
 * the server has stopped (the usage queue is drained then, so a graceful shutdown loses nothing).
 *
 * <p>Backends, logged at start: rate limits in Redis when {@code limits.mode} says so (or
 * {@code auto} with {@code redis.uri} set), else in-process; budgets in Redis or the store as
 * {@code limits.quotaBackend} says; usage records, stored prices and budgets in the store.
 */
public final class Limits implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Limits.class);

    private final LimitsConfig config;
    private final RedisLink link;
    private final RateLimiter limiter;
    private final Catalog catalog;
    private final Ledger ledger;
    private final UsageStore usage;
    private final AdmissionStage stage;
    private final ScheduledExecutorService refresher;

    private Limits(LimitsConfig config, Redis redis, LazyStore store, MeterRegistry metrics) {
        this.config = config;
        boolean redisMode = config.redisMode(redis != null);
        boolean redisQuota = config.redisQuota(redis != null);
        if ((redisMode || redisQuota) && redis == null) {
            throw new IllegalArgumentException("limits.mode/limits.quotaBackend is redis but redis.uri is not set");
        }
        this.link = redisMode || redisQuota ? new RedisLink(redis) : null;
        this.limiter = new RateLimiter(config, redisMode ? link : null, metrics);
        this.catalog = new Catalog(config, store);
        if (redisQuota) ledger = new RedisLedger(link, config.keyPrefix());
        else if (store != null) ledger = new SqlLedger(store, CommonPools.blockingTaskExecutor());
        else ledger = null;
        this.usage = store != null && config.usageRecordsOn(store.mayHoldData()) ? new UsageStore(store, metrics) : null;
        this.stage = new AdmissionStage(config, limiter, catalog, ledger, redisQuota, usage, metrics);
        if (store != null) {
            refresher = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("sluice-limits-refresh").daemon(true).factory());
            refresher.scheduleWithFixedDelay(catalog::refresh, Catalog.REFRESH_SECONDS, Catalog.REFRESH_SECONDS, TimeUnit.SECONDS);
        } else {
            refresher = null;
        }
        log.info("limits: {} rule(s), rate limits {}{}, budgets {}, usage records {}", config.rules().size(),
                redisMode ? "in redis (shared by replicas; fallback " + config.fallback() + ")" : "in-process",
                redisMode && config.fallback().equals("local") ? " [local fallback: limits / " + config.replicas() + "]" : "",
                redisQuota ? "in redis" : ledger != null ? "in the store" : "off (no store)",
                usage != null ? "on" : "off (limits.usageRecords, or no store yet)");
    }

    /**
     * Builds the limits concern; {@code redis} and {@code store} may be null (no Redis configured;
     * no store: no budgets, no usage records). The store is opened only when first needed.
     */
    public static Limits open(LimitsConfig config, Redis redis, LazyStore store, MeterRegistry metrics) {
        return new Limits(config, redis, store, metrics);
    }

    public LimitsConfig config() {
        return config;
    }

    /** The admission stage; the pipeline runs it before the cache. */
    public GatewayStage stage() {
        return stage;
    }

    /** Adds the admin routes ({@code /admin/v1/limits}, prices, budgets, usage) and {@code GET /v1/usage}. */
    public void register(ServerBuilder sb) {
        new LimitsAdmin(this).register(sb);
    }

    RateLimiter limiter() {
        return limiter;
    }

    Catalog catalog() {
        return catalog;
    }

    Ledger ledger() {
        return ledger;
    }

    UsageStore usage() {
        return usage;
    }

    /** Waits until every usage record queued so far is written; true when all were. */
    public boolean flushUsage(java.time.Duration timeout) {
        return usage == null || usage.flush(timeout);
    }

    @Override
    public void close() {
        if (refresher != null) refresher.shutdownNow();
        if (usage != null) usage.close();
        limiter.close();
        if (ledger != null) ledger.close();
        if (link != null) link.close();
    }
}
