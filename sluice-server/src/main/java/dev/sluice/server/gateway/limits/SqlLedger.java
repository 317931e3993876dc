package dev.sluice.server.gateway.limits;

import dev.sluice.server.store.LazyStore;
import dev.sluice.server.store.StoreException;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Budget counters in the store ({@code budget_usage}, PostgreSQL or H2).
 *
 * <p>Design note: a reservation is, per budget, an insert of the period's row if missing and one
 * conditional update, {@code reserved = reserved + x WHERE used + reserved + x <= limit}; the row
 * lock taken by the update serialises concurrent reservations and the condition is evaluated on
 * the latest committed row, so no interleaving can oversell. All of a request's budgets are
 * reserved in one transaction in a fixed order (no deadlock); a refused one rolls back the rest.
 * Work runs on {@code executor} (blocking JDBC), never on an event loop.
 */
final class SqlLedger implements Ledger {
    /** Stand-in for "no limit" in the conditional update: far above any real budget, far below overflow. */
    static final long UNLIMITED = Long.MAX_VALUE / 4;

    private final LazyStore store;
    private final Executor executor;

    SqlLedger(LazyStore store, Executor executor) {
        this.store = store;
        this.executor = executor;
    }

    @Override
    public CompletableFuture<Reservation> reserve(List<Catalog.BudgetLimit> budgets, long tokens, long micros) {
        if (budgets.isEmpty()) return CompletableFuture.completedFuture(Reservation.NONE);
        return CompletableFuture.supplyAsync(() -> reserveNow(budgets, tokens, micros), executor);
    }

    private Reservation reserveNow(List<Catalog.BudgetLimit> budgets, long tokens, long micros) {
        List<Slot> slots = Ledger.slots(budgets);
        try (Connection c = store.get().connection()) {
            c.setAutoCommit(false);
            try (PreparedStatement ins = c.prepareStatement("INSERT INTO budget_usage (budget_scope, subject, period_key, tokens_used, tokens_reserved, "
                    + "money_micros_used, money_micros_reserved) VALUES (?, ?, ?, 0, 0, 0, 0) ON CONFLICT DO NOTHING");
                 PreparedStatement upd = c.prepareStatement("UPDATE budget_usage SET tokens_reserved = tokens_reserved + ?, "
                         + "money_micros_reserved = money_micros_reserved + ? WHERE budget_scope = ? AND subject = ? AND period_key = ? "
                         + "AND tokens_used + tokens_reserved + ? <= ? AND money_micros_used + money_micros_reserved + ? <= ?")) {
                for (Slot s : slots) {
                    Catalog.BudgetLimit b = s.budget();
                    ins.setString(1, b.scope());
                    ins.setString(2, b.subject());
                    ins.setString(3, s.periodKey());
                    ins.executeUpdate();
                    upd.setLong(1, tokens);
                    upd.setLong(2, micros);
                    upd.setString(3, b.scope());
                    upd.setString(4, b.subject());
                    upd.setString(5, s.periodKey());
                    upd.setLong(6, tokens);
                    upd.setLong(7, b.tokens() == null ? UNLIMITED : b.tokens());
                    upd.setLong(8, micros);
                    upd.setLong(9, b.micros() == null ? UNLIMITED : b.micros());
                    if (upd.executeUpdate() != 1) {
                        c.rollback();
                        throw new OverBudget(b);
                    }
                }
                c.commit();
                return new Reservation(slots, tokens, micros);
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            throw new StoreException("budget reservation failed: " + e.getMessage(), e);
        }
    }

    @Override
    public CompletableFuture<Void> settle(Reservation r, long tokens, long micros) {
        if (r.slots().isEmpty()) return CompletableFuture.completedFuture(null);
        return CompletableFuture.runAsync(() -> {
            try (Connection c = store.get().connection(); PreparedStatement upd = c.prepareStatement("UPDATE budget_usage SET "
                    + "tokens_reserved = tokens_reserved - ?, tokens_used = tokens_used + ?, money_micros_reserved = money_micros_reserved - ?, "
                    + "money_micros_used = money_micros_used + ? WHERE budget_scope = ? AND subject = ? AND period_key = ?")) {
                for (Slot s : r.slots()) {
                    upd.setLong(1, r.tokens());
                    upd.setLong(2, tokens);
                    upd.setLong(3, r.micros());
                    upd.setLong(4, micros);
                    upd.setString(5, s.budget().scope());
                    upd.setString(6, s.budget().subject());
                    upd.setString(7, s.periodKey());
                    upd.addBatch();
                }
                upd.executeBatch();
            } catch (SQLException e) {
                throw new StoreException("budget settlement failed: " + e.getMessage(), e);
            }
        }, executor);
    }

    @Override
    public CompletableFuture<Balance> balance(Catalog.BudgetLimit b) {
        return CompletableFuture.supplyAsync(() -> {
            try (Connection c = store.get().connection(); PreparedStatement q = c.prepareStatement("SELECT tokens_used, tokens_reserved, money_micros_used, "
                    + "money_micros_reserved FROM budget_usage WHERE budget_scope = ? AND subject = ? AND period_key = ?")) {
                q.setString(1, b.scope());
                q.setString(2, b.subject());
                q.setString(3, b.periodKey(LocalDate.now(ZoneOffset.UTC)));
                try (ResultSet r = q.executeQuery()) {
                    return r.next() ? new Balance(r.getLong(1), r.getLong(2), r.getLong(3), r.getLong(4)) : Balance.ZERO;
                }
            } catch (SQLException e) {
                throw new StoreException("budget read failed: " + e.getMessage(), e);
            }
        }, executor);
    }
}
