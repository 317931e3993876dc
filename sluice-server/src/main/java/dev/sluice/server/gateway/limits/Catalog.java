package dev.sluice.server.gateway.limits;

import dev.sluice.server.gateway.Principal;
import dev.sluice.server.store.LazyStore;
import dev.sluice.server.store.StoreException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Prices and budgets: the config's, overridden by those set through the admin API (stored in the
 * {@code prices} and {@code budgets} tables, so every replica sees them).
 *
 * <p>Design note: the tables are small (one row per priced model, one per budgeted key or tenant),
 * so they are read whole into an immutable snapshot every {@link #REFRESH_SECONDS} s and after each
 * admin change; requests read the snapshot and never touch the database for this. Money is kept as
 * integer micro-units (1e-6 of the currency) everywhere, so sums are exact. Thread-safe.
 */
final class Catalog {
    private static final Logger log = LoggerFactory.getLogger(Catalog.class);
    /** How often stored prices and budgets are re-read: 5 s (an admin change on another replica shows within this). */
    static final int REFRESH_SECONDS = 5;
    /** A budget's limit in micro-units per currency unit. */
    static final long MICROS = 1_000_000L;

    /** A price in micro-units per 1K tokens. */
    record Price(long inputMicrosPer1k, long outputMicrosPer1k) {
        static final Price FREE = new Price(0, 0);

        static Price of(LimitsConfig.Price p) {
            return new Price(micros(p.input()), micros(p.output()));
        }
    }

    /** One budget as it applies to one subject; {@code tokens}/{@code micros} null when not limited. */
    record BudgetLimit(String scope, String subject, String period, Long tokens, Long micros) {
        /** The counter's period: {@code 2026-11-24} for a day, {@code 2026-11} for a month (UTC). */
        String periodKey(LocalDate today) {
            return period.equals("day") ? today.toString() : today.toString().substring(0, 7);
        }

        /** When this period ends (counters may be dropped after). */
        Instant periodEnd(LocalDate today) {
            LocalDate end = period.equals("day") ? today.plusDays(1) : today.withDayOfMonth(1).plusMonths(1);
            return end.atStartOfDay(ZoneOffset.UTC).toInstant();
        }
    }

    private record Snapshot(Map<String, Price> prices, Map<String, BudgetLimit> stored) {}

    private final LimitsConfig config;
    private final LazyStore store;
    private final Map<String, Price> configPrices = new HashMap<>();
    private volatile Snapshot snapshot = new Snapshot(Map.of(), Map.of());

    Catalog(LimitsConfig config, LazyStore store) {
        this.config = config;
        this.store = store;
        config.prices().forEach((m, p) -> configPrices.put(m, Price.of(p)));
        refresh();
    }

    static long micros(BigDecimal amount) {
        return amount.movePointRight(6).setScale(0, RoundingMode.HALF_UP).longValueExact();
    }

    static BigDecimal money(long micros) {
        return BigDecimal.valueOf(micros, 6).stripTrailingZeros();
    }

    Price price(String model) {
        Price p = snapshot.prices().get(model);
        if (p == null) p = configPrices.get(model);
        return p == null ? Price.FREE : p;
    }

    /** Cost in micro-units, rounded up to a whole micro-unit. */
    long cost(String model, long promptTokens, long completionTokens) {
        Price p = price(model);
        return ceilDiv(promptTokens * p.inputMicrosPer1k() + completionTokens * p.outputMicrosPer1k(), 1000);
    }

    private static long ceilDiv(long a, long b) {
        return a <= 0 ? 0 : (a + b - 1) / b;
    }

    /** The budgets {@code p} must fit: its key's and its tenant's, per period; stored ones replace the config's. */
    List<BudgetLimit> budgetsFor(Principal p) {
        List<BudgetLimit> out = new ArrayList<>();
        if (p.keyId() != null) add(out, "key", p.keyId());
        add(out, "tenant", p.tenant());
        return out;
    }

    private void add(List<BudgetLimit> out, String scope, String subject) {
        Map<String, BudgetLimit> stored = snapshot.stored();
        for (String period : List.of("day", "month")) {
            BudgetLimit b = stored.get(scope + "/" + subject + "/" + period);
            if (b == null) b = fromConfig(scope, subject, period);
            if (b != null && (b.tokens() != null || b.micros() != null)) out.add(b);
        }
    }

    private BudgetLimit fromConfig(String scope, String subject, String period) {
        LimitsConfig.Budget any = null;
        for (LimitsConfig.Budget b : config.budgets()) {
            if (!b.scope().equals(scope) || !b.period().equals(period)) continue;
            if (subject.equals(b.subject())) return limit(b, subject);
            if (b.subject() == null && any == null) any = b;
        }
        return any == null ? null : limit(any, subject);
    }

    private static BudgetLimit limit(LimitsConfig.Budget b, String subject) {
        return new BudgetLimit(b.scope(), subject, b.period(), b.tokens(), b.money() == null ? null : micros(b.money()));
    }

    /** Prices now in force, by model: the config's and the stored ones (which win). */
    Map<String, Price> prices() {
        Map<String, Price> all = new java.util.TreeMap<>(configPrices);
        all.putAll(snapshot.prices());
        return all;
    }

    /** Budgets set through the admin API. */
    List<BudgetLimit> storedBudgets() {
        return List.copyOf(snapshot.stored().values());
    }

    /** Re-reads the stored prices and budgets; keeps the last snapshot when the store cannot be read. */
    void refresh() {
        // never create the store just to find it empty: read it once it is open or already exists
        if (store == null || (store.opened() == null && !store.mayHoldData())) return;
        try (Connection c = store.get().connection()) {
            Map<String, Price> prices = new HashMap<>();
            try (ResultSet r = c.createStatement().executeQuery("SELECT model, input_micros_per_1k, output_micros_per_1k FROM prices")) {
                while (r.next()) prices.put(r.getString(1), new Price(r.getLong(2), r.getLong(3)));
            }
            Map<String, BudgetLimit> budgets = new HashMap<>();
            try (ResultSet r = c.createStatement().executeQuery("SELECT budget_scope, subject, budget_period, tokens_limit, money_micros_limit FROM budgets")) {
                while (r.next()) {
                    Long t = r.getLong(4);
                    if (r.wasNull()) t = null;
                    Long m = r.getLong(5);
                    if (r.wasNull()) m = null;
                    BudgetLimit b = new BudgetLimit(r.getString(1), r.getString(2), r.getString(3), t, m);
                    budgets.put(b.scope() + "/" + b.subject() + "/" + b.period(), b);
                }
            }
            snapshot = new Snapshot(Map.copyOf(prices), Map.copyOf(budgets));
        } catch (SQLException | RuntimeException e) {
            log.warn("limits: cannot read stored prices and budgets, keeping the last ones: {}", e.toString());
        }
    }

    void putPrice(String model, Price p) {
        update("MERGE INTO prices (model, input_micros_per_1k, output_micros_per_1k, updated_at) KEY (model) VALUES (?, ?, ?, ?)",
                "INSERT INTO prices (model, input_micros_per_1k, output_micros_per_1k, updated_at) VALUES (?, ?, ?, ?) "
                        + "ON CONFLICT (model) DO UPDATE SET input_micros_per_1k = EXCLUDED.input_micros_per_1k, "
                        + "output_micros_per_1k = EXCLUDED.output_micros_per_1k, updated_at = EXCLUDED.updated_at",
                model, p.inputMicrosPer1k(), p.outputMicrosPer1k(), Timestamp.from(Instant.now()));
    }

    boolean deletePrice(String model) {
        return update("DELETE FROM prices WHERE model = ?", null, model) > 0;
    }

    void putBudget(BudgetLimit b) {
        update("MERGE INTO budgets (budget_scope, subject, budget_period, tokens_limit, money_micros_limit, updated_at) KEY (budget_scope, subject, budget_period) VALUES (?, ?, ?, ?, ?, ?)",
                "INSERT INTO budgets (budget_scope, subject, budget_period, tokens_limit, money_micros_limit, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
                        + "ON CONFLICT (budget_scope, subject, budget_period) DO UPDATE SET tokens_limit = EXCLUDED.tokens_limit, "
                        + "money_micros_limit = EXCLUDED.money_micros_limit, updated_at = EXCLUDED.updated_at",
                b.scope(), b.subject(), b.period(), b.tokens(), b.micros(), Timestamp.from(Instant.now()));
    }

    boolean deleteBudget(String scope, String subject, String period) {
        return update("DELETE FROM budgets WHERE budget_scope = ? AND subject = ? AND budget_period = ?", null, scope, subject, period) > 0;
    }

    /** Runs an update ({@code h2} on H2, {@code pg} on PostgreSQL when given), then refreshes the snapshot. */
    private int update(String h2, String pg, Object... args) {
        if (store == null) throw new StoreException("limits: no store configured", null);
        String sql = store.config().postgres() && pg != null ? pg : h2;
        try (Connection c = store.get().connection(); PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                if (args[i] == null) ps.setNull(i + 1, java.sql.Types.BIGINT);
                else ps.setObject(i + 1, args[i]);
            }
            int n = ps.executeUpdate();
            refresh();
            return n;
        } catch (SQLException e) {
            throw new StoreException("limits: store update failed: " + e.getMessage(), e);
        }
    }
}
