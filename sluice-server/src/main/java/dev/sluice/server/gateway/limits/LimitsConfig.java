package dev.sluice.server.gateway.limits;

import java.math.BigDecimal;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The {@code limits:} section of the config file: rate limits, quotas, prices and usage records (issue 6).
 * Validated when built; every field has a safe default, and no section at all means no rate
 * limits, no budgets, free models and usage records on.
 *
 * @param enabled          false turns admission off entirely: no rate limits, no budgets, no usage records (default true)
 * @param mode             {@code auto} (default: {@code redis} when {@code redis.uri} is set, else {@code local}),
 *                         {@code local} (in-process buckets; each replica limits on its own) or {@code redis}
 *                         (buckets shared by every replica through Redis)
 * @param fallback         what a replica does while Redis is unreachable: {@code local} (default: in-process buckets
 *                         with each limit divided by {@code replicas}) or {@code closed} (every limited request
 *                         gets 503 until Redis answers again)
 * @param replicas         gateway replicas sharing the limits, for the local fallback (default {@value #DEFAULT_REPLICAS})
 * @param regionHeader     request header whose value is the {@code region} dimension (default {@value #DEFAULT_REGION_HEADER})
 * @param keyPrefix        prefix of every Redis key this concern writes (default {@value #DEFAULT_KEY_PREFIX})
 * @param refill           {@code greedy} (default: a bucket refills continuously, limit/60 per second) or
 *                         {@code interval} (the whole limit comes back once a minute)
 * @param rules            rate-limit rules, all checked at once; a request must fit every rule that matches it (default none)
 * @param prices           per public model name, the price of 1K input and 1K output tokens (default none: free)
 * @param budgets          budgets per key and per tenant (default none)
 * @param quotaBackend     where budget counters live: {@code auto} (default: Redis in {@code redis} mode, else the store),
 *                         {@code store} (one atomic SQL update per reservation) or {@code redis} (one Lua script)
 * @param defaultMaxTokens completion tokens reserved against a budget for a request that sets no {@code max_tokens}
 *                         (default {@value #DEFAULT_MAX_TOKENS}); the reservation is settled with the actual usage
 * @param usageRecords     write one usage record per request to the store; default (unset): on when the store
 *                         already exists (PostgreSQL, or an H2 file that identity or an earlier run created), off on a
 *                         bare {@code sluice serve}, which then never touches the disk
 */
public record LimitsConfig(Boolean enabled, String mode, String fallback, Integer replicas, String regionHeader, String keyPrefix,
                           String refill, List<Rule> rules, Map<String, Price> prices, List<Budget> budgets, String quotaBackend,
                           Integer defaultMaxTokens, Boolean usageRecords) {
    /** One replica: local limits are exact for a single gateway. */
    public static final int DEFAULT_REPLICAS = 1;
    /** The header clients or a load balancer set to name the caller's region. */
    public static final String DEFAULT_REGION_HEADER = "x-sluice-region";
    /** Prefix of the Redis keys of buckets, concurrency leases and budgets. */
    public static final String DEFAULT_KEY_PREFIX = "sluice:";
    /** Completion tokens reserved when a request sets no {@code max_tokens}: 4096, a typical context's reply bound. */
    public static final int DEFAULT_MAX_TOKENS = 4096;
    /** Largest per-minute limit: 10^10 (Bucket4j refills at most one token per nanosecond, 6 x 10^10 a minute). */
    public static final long MAX_PER_MINUTE = 10_000_000_000L;
    /** Most rules: 64 (each matching rule costs a bucket operation per request). */
    public static final int MAX_RULES = 64;

    static final Set<String> DIMENSIONS = Set.of("key", "user", "tenant", "model", "route", "region");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]{1,64}");

    public LimitsConfig {
        enabled = enabled == null || enabled;
        mode = oneOf("limits.mode", mode, "auto", "auto", "local", "redis");
        fallback = oneOf("limits.fallback", fallback, "local", "local", "closed");
        replicas = replicas == null ? DEFAULT_REPLICAS : replicas;
        if (replicas < 1 || replicas > 10_000) throw new IllegalArgumentException("limits.replicas must be in [1, 10000], got " + replicas);
        regionHeader = regionHeader == null || regionHeader.isBlank() ? DEFAULT_REGION_HEADER : regionHeader.trim().toLowerCase(java.util.Locale.ROOT);
        keyPrefix = keyPrefix == null ? DEFAULT_KEY_PREFIX : keyPrefix;
        if (keyPrefix.length() > 128) throw new IllegalArgumentException("limits.keyPrefix must be at most 128 characters");
        refill = oneOf("limits.refill", refill, "greedy", "greedy", "interval");
        rules = rules == null ? List.of() : List.copyOf(rules);
        if (rules.size() > MAX_RULES) throw new IllegalArgumentException("limits.rules: at most " + MAX_RULES + " rules, got " + rules.size());
        Set<String> names = new HashSet<>();
        for (int i = 0; i < rules.size(); i++) {
            Rule r = rules.get(i);
            if (r == null) throw new IllegalArgumentException("limits.rules[" + i + "] is empty");
            if (!names.add(r.name())) throw new IllegalArgumentException("limits.rules[" + i + "].name '" + r.name() + "' is used twice");
        }
        prices = prices == null ? Map.of() : Map.copyOf(prices);
        for (var e : prices.entrySet()) if (e.getValue() == null) throw new IllegalArgumentException("limits.prices." + e.getKey() + " is empty");
        budgets = budgets == null ? List.of() : List.copyOf(budgets);
        quotaBackend = oneOf("limits.quotaBackend", quotaBackend, "auto", "auto", "store", "redis");
        defaultMaxTokens = defaultMaxTokens == null ? DEFAULT_MAX_TOKENS : defaultMaxTokens;
        if (defaultMaxTokens < 1) throw new IllegalArgumentException("limits.defaultMaxTokens must be >= 1, got " + defaultMaxTokens);
    }

    public static LimitsConfig defaults() {
        return new LimitsConfig(null, null, null, null, null, null, null, null, null, null, null, null, null);
    }

    /** True when the buckets live in Redis: mode {@code redis}, or {@code auto} with a Redis configured. */
    public boolean redisMode(boolean redisConfigured) {
        return mode.equals("redis") || (mode.equals("auto") && redisConfigured);
    }

    /** True when budget counters live in Redis. */
    public boolean redisQuota(boolean redisConfigured) {
        return quotaBackend.equals("redis") || (quotaBackend.equals("auto") && redisMode(redisConfigured));
    }

    /** Whether usage records are written, given whether the store exists already. */
    public boolean usageRecordsOn(boolean storeExists) {
        return usageRecords == null ? storeExists : usageRecords;
    }

    public boolean failClosed() {
        return fallback.equals("closed");
    }

    /** The same config with other rules (tests, admin previews). */
    public LimitsConfig withRules(List<Rule> r) {
        return new LimitsConfig(enabled, mode, fallback, replicas, regionHeader, keyPrefix, refill, r, prices, budgets, quotaBackend, defaultMaxTokens, usageRecords);
    }

    /**
     * A rate-limit rule: one bucket per distinct combination of its {@code dimensions}' values.
     *
     * @param name              unique name, used in Redis keys, metrics and error messages
     * @param dimensions        what the buckets are keyed by, any of {@code key user tenant model route region};
     *                          empty: one global bucket. A missing value (no key id, no user, no region header)
     *                          counts as {@code -}, so such requests share one bucket
     * @param models            only requests for these public model names (default: all)
     * @param routes            only these route types, {@code chat} and/or {@code completions} (default: both)
     * @param requestsPerMinute requests admitted per minute per bucket, or null for no request limit
     * @param tokensPerMinute   tokens per minute per bucket (prompt tokens taken at admission, completion tokens
     *                          settled when the response ends), or null for no token limit
     * @param maxConcurrent     requests in flight at once per bucket, or null for no concurrency limit
     * @param tiers             per key tier, limits that replace the three above for callers of that tier
     */
    public record Rule(String name, List<String> dimensions, List<String> models, List<String> routes, Long requestsPerMinute,
                       Long tokensPerMinute, Integer maxConcurrent, Map<String, TierLimits> tiers) {
        public Rule {
            if (name == null || !NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("limits.rules[].name must match " + NAME.pattern() + ", got '" + name + "'");
            }
            String at = "limits.rules[" + name + "]";
            dimensions = dimensions == null ? List.of() : List.copyOf(dimensions);
            for (String d : dimensions) {
                if (!DIMENSIONS.contains(d)) throw new IllegalArgumentException(at + ".dimensions: unknown dimension '" + d + "' (one of key, user, tenant, model, route, region)");
            }
            if (new HashSet<>(dimensions).size() != dimensions.size()) throw new IllegalArgumentException(at + ".dimensions lists a dimension twice");
            models = models == null ? List.of() : List.copyOf(models);
            routes = routes == null ? List.of() : List.copyOf(routes);
            for (String r : routes) {
                if (!r.equals("chat") && !r.equals("completions")) throw new IllegalArgumentException(at + ".routes: unknown route '" + r + "' (chat or completions)");
            }
            new TierLimits(requestsPerMinute, tokensPerMinute, maxConcurrent).check(at);
            tiers = tiers == null ? Map.of() : Map.copyOf(tiers);
            for (var e : tiers.entrySet()) {
                if (e.getValue() == null) throw new IllegalArgumentException(at + ".tiers." + e.getKey() + " is empty");
                e.getValue().check(at + ".tiers." + e.getKey());
            }
            if (requestsPerMinute == null && tokensPerMinute == null && maxConcurrent == null && tiers.isEmpty()) {
                throw new IllegalArgumentException(at + ": set at least one of requestsPerMinute, tokensPerMinute, maxConcurrent, tiers");
            }
        }

        /** The limits for a caller of {@code tier}: the tier's own, else the rule's. */
        public TierLimits limitsFor(String tier) {
            TierLimits t = tiers.get(tier);
            return t != null ? t : new TierLimits(requestsPerMinute, tokensPerMinute, maxConcurrent);
        }

        public boolean matches(String model, String route) {
            return (models.isEmpty() || models.contains(model)) && (routes.isEmpty() || routes.contains(route));
        }
    }

    /** A rule's three limits; a null one does not limit. */
    public record TierLimits(Long requestsPerMinute, Long tokensPerMinute, Integer maxConcurrent) {
        void check(String at) {
            if (requestsPerMinute != null && (requestsPerMinute < 1 || requestsPerMinute > MAX_PER_MINUTE)) {
                throw new IllegalArgumentException(at + ".requestsPerMinute must be in [1, " + MAX_PER_MINUTE + "], got " + requestsPerMinute);
            }
            if (tokensPerMinute != null && (tokensPerMinute < 1 || tokensPerMinute > MAX_PER_MINUTE)) {
                throw new IllegalArgumentException(at + ".tokensPerMinute must be in [1, " + MAX_PER_MINUTE + "], got " + tokensPerMinute);
            }
            if (maxConcurrent != null && maxConcurrent < 1) throw new IllegalArgumentException(at + ".maxConcurrent must be >= 1, got " + maxConcurrent);
        }

        public boolean empty() {
            return requestsPerMinute == null && tokensPerMinute == null && maxConcurrent == null;
        }
    }

    /**
     * A model's price, in the deployment's currency per 1,000 tokens.
     *
     * @param input  price of 1K prompt tokens (default 0)
     * @param output price of 1K completion tokens (default 0)
     */
    public record Price(BigDecimal input, BigDecimal output) {
        public Price {
            input = input == null ? BigDecimal.ZERO : input;
            output = output == null ? BigDecimal.ZERO : output;
            if (input.signum() < 0 || output.signum() < 0) throw new IllegalArgumentException("limits.prices: a price must be >= 0, got " + input + "/" + output);
        }
    }

    /**
     * A budget: tokens and/or money a key or a tenant may spend per period (UTC day or calendar month).
     *
     * @param scope   {@code key} or {@code tenant}
     * @param subject one key id or tenant id; absent: every key (or tenant) gets this budget on its own
     * @param period  {@code day} or {@code month} (default {@code month})
     * @param tokens  prompt + completion tokens per period, or null for no token budget
     * @param money   cost per period at {@code prices}, or null for no money budget
     */
    public record Budget(String scope, String subject, String period, Long tokens, BigDecimal money) {
        public Budget {
            scope = oneOf("limits.budgets[].scope", scope, null, "key", "tenant");
            period = oneOf("limits.budgets[].period", period, "month", "day", "month");
            if (tokens != null && tokens < 0) throw new IllegalArgumentException("limits.budgets[].tokens must be >= 0, got " + tokens);
            if (money != null && money.signum() < 0) throw new IllegalArgumentException("limits.budgets[].money must be >= 0, got " + money);
            if (tokens == null && money == null) throw new IllegalArgumentException("limits.budgets[" + scope + "]: set tokens and/or money");
            if (subject != null && subject.isBlank()) subject = null;
        }
    }

    static String oneOf(String key, String value, String dflt, String... allowed) {
        if (value == null || value.isBlank()) {
            if (dflt == null) throw new IllegalArgumentException(key + " is required (one of " + String.join(", ", allowed) + ")");
            return dflt;
        }
        String v = value.trim().toLowerCase(java.util.Locale.ROOT);
        for (String a : allowed) if (a.equals(v)) return v;
        throw new IllegalArgumentException(key + " must be one of " + String.join(", ", allowed) + ", got '" + value + "'");
    }
}
