package dev.sluice.server.gateway.limits;

import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Budget counters: per budget and period, tokens and money used and reserved. A request reserves
 * its worst case (prompt + {@code max_tokens}, at the model's prices) at admission, against every
 * budget that applies, all or nothing; it settles with the actual usage when its response ends.
 * Implementations: {@link SqlLedger} (one conditional UPDATE per budget in one transaction) and
 * {@link RedisLedger} (one Lua script); both are atomic, so concurrent requests never oversell.
 */
interface Ledger extends AutoCloseable {
    /** One reserved counter: the budget and the period it was reserved in. */
    record Slot(Catalog.BudgetLimit budget, String periodKey, java.time.Instant periodEnd) {}

    /** What a request reserved; settled once. */
    record Reservation(List<Slot> slots, long tokens, long micros) {
        static final Reservation NONE = new Reservation(List.of(), 0, 0);
    }

    /** Used and reserved amounts of one budget's current period. */
    record Balance(long tokensUsed, long tokensReserved, long microsUsed, long microsReserved) {
        static final Balance ZERO = new Balance(0, 0, 0, 0);
    }

    /** A budget could not take the reservation. */
    final class OverBudget extends RuntimeException {
        final Catalog.BudgetLimit budget;

        OverBudget(Catalog.BudgetLimit budget) {
            super("over budget: " + budget.scope() + " " + budget.subject() + " " + budget.period(), null, false, false);
            this.budget = budget;
        }
    }

    /** Reserves {@code tokens} and {@code micros} against all {@code budgets}, or none; fails with {@link OverBudget}. */
    CompletableFuture<Reservation> reserve(List<Catalog.BudgetLimit> budgets, long tokens, long micros);

    /** Replaces a reservation by the actual usage ({@code tokens}, {@code micros}). */
    CompletableFuture<Void> settle(Reservation r, long tokens, long micros);

    /** The current period's balance of {@code budget}. */
    CompletableFuture<Balance> balance(Catalog.BudgetLimit budget);

    /** Slots in a fixed order (scope, subject, period), so concurrent transactions lock rows in the same order. */
    static List<Slot> slots(List<Catalog.BudgetLimit> budgets) {
        LocalDate today = LocalDate.now(ZoneOffset.UTC);
        List<Slot> out = new ArrayList<>();
        for (Catalog.BudgetLimit b : budgets) out.add(new Slot(b, b.periodKey(today), b.periodEnd(today)));
        out.sort(Comparator.comparing((Slot s) -> s.budget().scope()).thenComparing(s -> s.budget().subject()).thenComparing(Slot::periodKey));
        return out;
    }

    @Override
    default void close() {}
}
