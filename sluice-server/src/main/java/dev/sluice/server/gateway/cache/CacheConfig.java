package dev.sluice.server.gateway.cache;

import java.time.Duration;
import java.util.Map;

/**
 * The {@code cache:} section of the config file: the response cache and stored completions (issue 7).
 * Validated when built; every field has a safe default ({@code docs/cache.md} is the reference).
 *
 * <p>Why the cache is on by default: it only ever serves <em>deterministic</em> requests
 * (temperature 0, or a {@code seed}), where the client has asked for a reproducible answer, so
 * serving the stored one is what it asked for; it is scoped to the caller's tenant, marks every
 * answer ({@code x-sluice-cache: hit|miss|coalesced|bypass}), and clients opt out per request
 * ({@code Cache-Control: no-cache / no-store}) and operators per model ({@code models.NAME.enabled: false})
 * or globally ({@code enabled: false}). The Redis level is on only when {@code redis.uri} is set.
 *
 * @param enabled          master switch (default {@value #DEFAULT_ENABLED}); off: every request says {@code bypass}
 * @param maxBytes         in-process level size bound in bytes, weighed by each entry's JSON size (default
 *                         {@value #DEFAULT_MAX_BYTES} = 128 MiB); when full the least useful entries are evicted (Caffeine's W-TinyLFU)
 * @param maxEntryBytes    largest answer cached, in bytes (default {@value #DEFAULT_MAX_ENTRY_BYTES} = 4 MiB); a larger
 *                         answer is served but not cached
 * @param ttl              in-process entry lifetime (default {@link #DEFAULT_TTL}); an entry expires this long after it was written
 * @param redisTtl         Redis entry lifetime (default {@link #DEFAULT_REDIS_TTL}), set with {@code SET ... PX}
 * @param redisKeyPrefix   prefix of every Redis key (default {@value #DEFAULT_REDIS_KEY_PREFIX}); lets replicas of
 *                         different deployments share one Redis
 * @param coalesce         concurrent identical cacheable requests share one generation (default {@value #DEFAULT_COALESCE})
 * @param models           per public model name: on/off, TTL overrides and cross-tenant sharing; absent models use the defaults
 * @param storedCompletions OpenAI stored completions ({@code store: true}); see {@link Stored}
 */
public record CacheConfig(Boolean enabled, Long maxBytes, Long maxEntryBytes, Duration ttl, Duration redisTtl, String redisKeyPrefix,
                          Boolean coalesce, Map<String, Model> models, Stored storedCompletions) {
    /** On: only deterministic requests are cached, tenant-scoped, and every answer says whether it was a hit (see the class note). */
    public static final boolean DEFAULT_ENABLED = true;
    /** 128 MiB: ~30,000 answers of 4 KB; small next to a model's weights, bounded on a laptop. */
    public static final long DEFAULT_MAX_BYTES = 128L << 20;
    /** 4 MiB: a 32k-token answer with logprobs; larger ones are rare and would crowd the cache out. */
    public static final long DEFAULT_MAX_ENTRY_BYTES = 4L << 20;
    /** 1 hour in-process: an answer cannot go stale (the model version is in the key); the TTL only bounds its life. */
    public static final Duration DEFAULT_TTL = Duration.ofHours(1);
    /** 24 hours in Redis: the shared level keeps answers across replicas and restarts for a day. */
    public static final Duration DEFAULT_REDIS_TTL = Duration.ofHours(24);
    public static final String DEFAULT_REDIS_KEY_PREFIX = "sluice:cache:";
    public static final boolean DEFAULT_COALESCE = true;
    /** Shortest TTL accepted: 1 ms (tests use short ones; Redis PX takes milliseconds). */
    static final Duration MIN_TTL = Duration.ofMillis(1);
    /** Longest TTL accepted: 365 days. */
    static final Duration MAX_TTL = Duration.ofDays(365);

    public CacheConfig {
        enabled = enabled == null ? DEFAULT_ENABLED : enabled;
        maxBytes = maxBytes == null ? DEFAULT_MAX_BYTES : maxBytes;
        if (maxBytes < 0) throw new IllegalArgumentException("cache.maxBytes must be >= 0 (0: no in-process level), got " + maxBytes);
        maxEntryBytes = maxEntryBytes == null ? DEFAULT_MAX_ENTRY_BYTES : maxEntryBytes;
        if (maxEntryBytes < 1 || maxEntryBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("cache.maxEntryBytes must be in [1, 2^31), got " + maxEntryBytes);
        }
        ttl = checkTtl("cache.ttl", ttl == null ? DEFAULT_TTL : ttl);
        redisTtl = checkTtl("cache.redisTtl", redisTtl == null ? DEFAULT_REDIS_TTL : redisTtl);
        redisKeyPrefix = redisKeyPrefix == null ? DEFAULT_REDIS_KEY_PREFIX : redisKeyPrefix;
        if (redisKeyPrefix.length() > 200) throw new IllegalArgumentException("cache.redisKeyPrefix must be at most 200 characters, got " + redisKeyPrefix.length());
        coalesce = coalesce == null ? DEFAULT_COALESCE : coalesce;
        models = models == null ? Map.of() : Map.copyOf(models);
        for (var e : models.entrySet()) {
            if (e.getValue() == null) throw new IllegalArgumentException("cache.models." + e.getKey() + " must be an object");
            e.getValue().check("cache.models." + e.getKey());
        }
        storedCompletions = storedCompletions == null ? Stored.defaults() : storedCompletions;
    }

    public static CacheConfig defaults() {
        return new CacheConfig(null, null, null, null, null, null, null, null, null);
    }

    /** The same config with {@code models} replaced. */
    public CacheConfig withModels(Map<String, Model> m) {
        return new CacheConfig(enabled, maxBytes, maxEntryBytes, ttl, redisTtl, redisKeyPrefix, coalesce, m, storedCompletions);
    }

    /** The settings that apply to {@code model} (a public model name). */
    public Model model(String model) {
        Model m = models.get(model);
        return new Model(m == null || m.enabled == null ? enabled : m.enabled && enabled, m == null || m.ttl == null ? ttl : m.ttl,
                m == null || m.redisTtl == null ? redisTtl : m.redisTtl, m != null && m.shared != null && m.shared);
    }

    private static Duration checkTtl(String key, Duration d) {
        if (d.compareTo(MIN_TTL) < 0 || d.compareTo(MAX_TTL) > 0) {
            throw new IllegalArgumentException(key + " must be in [1 ms, 365 days], got " + d);
        }
        return d;
    }

    /**
     * One model's cache settings ({@code cache.models.NAME}); each unset field takes the section's value.
     *
     * @param enabled  cache this model (default: the section's {@code enabled}); false: its requests say {@code bypass}
     * @param ttl      in-process TTL for this model's answers
     * @param redisTtl Redis TTL for this model's answers
     * @param shared   true: one cache for all tenants (the key leaves the tenant out), for public, non-personal
     *                 models and prompts; default false: each tenant has its own entries and never sees another's
     */
    public record Model(Boolean enabled, Duration ttl, Duration redisTtl, Boolean shared) {
        void check(String key) {
            if (ttl != null) checkTtl(key + ".ttl", ttl);
            if (redisTtl != null) checkTtl(key + ".redisTtl", redisTtl);
        }
    }

    /**
     * Stored completions ({@code cache.storedCompletions}).
     *
     * @param enabled    honour {@code store: true} and serve the {@code GET/POST/DELETE /v1/chat/completions...} routes
     *                   (default {@value #DEFAULT_ENABLED}); off: {@code store} is ignored and the routes answer 404
     * @param maxRecords most records waiting to be written (default {@value #DEFAULT_MAX_RECORDS}); when the store is
     *                   down long enough to fill it, new records are dropped, counted and logged, never block a request
     */
    public record Stored(Boolean enabled, Integer maxRecords) {
        public static final boolean DEFAULT_ENABLED = true;
        /** 10,000 records: a long completion and its request are tens of KB, so at most a few hundred MB while the store is down. */
        public static final int DEFAULT_MAX_RECORDS = 10_000;

        public Stored {
            enabled = enabled == null ? DEFAULT_ENABLED : enabled;
            maxRecords = maxRecords == null ? DEFAULT_MAX_RECORDS : maxRecords;
            if (maxRecords < 1 || maxRecords > 1_000_000) {
                throw new IllegalArgumentException("cache.storedCompletions.maxRecords must be in [1, 1000000], got " + maxRecords);
            }
        }

        public static Stored defaults() {
            return new Stored(null, null);
        }
    }
}
