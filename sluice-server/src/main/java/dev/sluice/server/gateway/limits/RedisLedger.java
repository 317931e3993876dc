package dev.sluice.server.gateway.limits;

import io.lettuce.core.ScriptOutputType;

import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Budget counters in Redis: one hash per budget and period ({@code tu tr mu mr}: tokens used and
 * reserved, money used and reserved in micro-units).
 *
 * <p>Design note: {@link #RESERVE} checks every budget and then reserves on all of them inside one
 * Lua script, which Redis runs atomically, so concurrent requests on any replica never oversell.
 * A counter expires {@link #KEEP_AFTER_PERIOD_MS} after its period ends. The budgets' keys of one
 * request may live in different cluster slots, so this needs
 * a single Redis; Redis Cluster is not supported for budgets.
 */
final class RedisLedger implements Ledger {
    /** How long a period's counters are kept after it ends: 35 days (last month's balance stays readable). */
    static final long KEEP_AFTER_PERIOD_MS = 35L * 24 * 3600 * 1000;

    static final String RESERVE = """
            local t = tonumber(ARGV[1])
            local m = tonumber(ARGV[2])
            for i, k in ipairs(KEYS) do
              local tl = tonumber(ARGV[2 + 3 * i - 2])
              local ml = tonumber(ARGV[2 + 3 * i - 1])
              local v = redis.call('HMGET', k, 'tu', 'tr', 'mu', 'mr')
              local tu, tr, mu, mr = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0
              if tl >= 0 and tu + tr + t > tl then return i end
              if ml >= 0 and mu + mr + m > ml then return i end
            end
            for i, k in ipairs(KEYS) do
              redis.call('HINCRBY', k, 'tr', ARGV[1])
              redis.call('HINCRBY', k, 'mr', ARGV[2])
              redis.call('PEXPIREAT', k, tonumber(ARGV[2 + 3 * i]))
            end
            return 0
            """;
    /** Integers are passed as the strings Java formats (a Lua number such as -0 is not an integer to Redis). */
    static final String SETTLE = """
            for i, k in ipairs(KEYS) do
              redis.call('HINCRBY', k, 'tr', ARGV[1])
              redis.call('HINCRBY', k, 'tu', ARGV[2])
              redis.call('HINCRBY', k, 'mr', ARGV[3])
              redis.call('HINCRBY', k, 'mu', ARGV[4])
            end
            return 0
            """;
    static final String BALANCE = "return redis.call('HMGET', KEYS[1], 'tu', 'tr', 'mu', 'mr')";

    private final RedisLink link;
    private final String prefix;

    RedisLedger(RedisLink link, String prefix) {
        this.link = link;
        this.prefix = prefix;
    }

    private String key(Catalog.BudgetLimit b, String periodKey) {
        return prefix + "budget:" + b.scope() + ":" + RateLimiter.keyValue(b.subject()) + ":" + periodKey;
    }

    @Override
    public CompletableFuture<Reservation> reserve(List<Catalog.BudgetLimit> budgets, long tokens, long micros) {
        if (budgets.isEmpty()) return CompletableFuture.completedFuture(Reservation.NONE);
        List<Slot> slots = Ledger.slots(budgets);
        String[] keys = new String[slots.size()];
        List<String> args = new ArrayList<>(List.of(Long.toString(tokens), Long.toString(micros)));
        for (int i = 0; i < slots.size(); i++) {
            Slot s = slots.get(i);
            keys[i] = key(s.budget(), s.periodKey());
            args.add(Long.toString(s.budget().tokens() == null ? -1 : s.budget().tokens()));
            args.add(Long.toString(s.budget().micros() == null ? -1 : s.budget().micros()));
            args.add(Long.toString(s.periodEnd().toEpochMilli() + KEEP_AFTER_PERIOD_MS));
        }
        return link.eval(RESERVE, ScriptOutputType.INTEGER, keys, args.toArray(String[]::new)).thenApply(r -> {
            int refused = ((Long) r).intValue();
            if (refused > 0) throw new OverBudget(slots.get(refused - 1).budget());
            return new Reservation(slots, tokens, micros);
        });
    }

    @Override
    public CompletableFuture<Void> settle(Reservation r, long tokens, long micros) {
        if (r.slots().isEmpty()) return CompletableFuture.completedFuture(null);
        String[] keys = r.slots().stream().map(s -> key(s.budget(), s.periodKey())).toArray(String[]::new);
        return link.eval(SETTLE, ScriptOutputType.INTEGER, keys, Long.toString(-r.tokens()), Long.toString(tokens), Long.toString(-r.micros()),
                Long.toString(micros)).thenApply(x -> null);
    }

    @Override
    public CompletableFuture<Balance> balance(Catalog.BudgetLimit b) {
        String k = key(b, b.periodKey(LocalDate.now(ZoneOffset.UTC)));
        return link.eval(BALANCE, ScriptOutputType.MULTI, new String[]{k}).thenApply(r -> {
            List<?> v = (List<?>) r;
            long[] n = new long[4];
            for (int i = 0; i < 4 && i < v.size(); i++) {
                Object o = v.get(i);
                n[i] = o == null ? 0 : Long.parseLong(o instanceof byte[] bs ? new String(bs, java.nio.charset.StandardCharsets.UTF_8) : o.toString());
            }
            return new Balance(n[0], n[1], n[2], n[3]);
        });
    }
}
