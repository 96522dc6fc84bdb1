package dev.tokenvault.budget;

import java.util.Arrays;

/**
 * A budget's sliding log at one instant, pure arithmetic (no I/O, no clock): the times of the grants that still count
 * (granted less than {@link BudgetShape#spanMs()} ago), ascending, in epoch milliseconds of the database clock.
 * <p>
 * The invariant that gives the guarantee: a grant at {@code t} is added only when the log (everything granted after
 * {@code t - span}) leaves room for it, and {@code t} is never earlier than the newest grant already logged (a
 * database clock that steps back cannot reorder the log). Then any window of {@code span} holds at most {@code calls}
 * grants: its newest grant was added last, when every other grant of the window was already in the log and counted.
 */
final class BudgetWindow {

    private final BudgetShape shape;
    private final long now;
    private final long[] grants;

    private BudgetWindow(BudgetShape shape, long now, long[] grants) {
        this.shape = shape;
        this.now = now;
        this.grants = grants;
    }

    /** The log at {@code now}: grants no longer counting ({@code <= now - span}) are dropped. */
    static BudgetWindow of(BudgetShape shape, long now, long[] stored) {
        long[] sorted = stored.clone();
        Arrays.sort(sorted);
        long cutoff = now - shape.spanMs();
        int first = 0;
        while (first < sorted.length && sorted[first] <= cutoff) {
            first++;
        }
        return new BudgetWindow(shape, now, Arrays.copyOfRange(sorted, first, sorted.length));
    }

    BudgetShape shape() {
        return shape;
    }

    long now() {
        return now;
    }

    /** The grants that count, ascending (a copy). */
    long[] grants() {
        return grants.clone();
    }

    /** Grants counting now. */
    int used() {
        return grants.length;
    }

    /** Permits free now (0 when the log holds more than the budget, e.g. after the budget was lowered). */
    int remaining() {
        return Math.max(0, shape.calls() - grants.length);
    }

    boolean fits(int calls) {
        return grants.length + calls <= shape.calls();
    }

    /** The time a grant made now is logged at: now, or the newest grant when the clock is behind it. */
    long grantTime() {
        return grants.length == 0 ? now : Math.max(now, grants[grants.length - 1]);
    }

    /** The log with {@code calls} more grants at {@link #grantTime()} (the caller checked {@link #fits}). */
    BudgetWindow grant(int calls) {
        long at = grantTime();
        long[] more = Arrays.copyOf(grants, grants.length + calls);
        Arrays.fill(more, grants.length, more.length, at);
        return new BudgetWindow(shape, now, more);
    }

    /**
     * The earliest time {@code calls} permits fit, no grant being added meanwhile: now when they fit, else when enough
     * of the oldest grants have stopped counting. {@code calls} must not exceed the budget.
     */
    long freeAt(int calls) {
        int excess = grants.length + calls - shape.calls();
        if (excess <= 0) {
            return now;
        }
        return grants[excess - 1] + shape.spanMs();
    }

    /** When every grant counting now has stopped counting (now when there is none). */
    long fullAt() {
        return grants.length == 0 ? now : Math.max(now, grants[grants.length - 1] + shape.spanMs());
    }

    /** The same log under another shape (learned from HubSpot), pruned with its span. */
    BudgetWindow reshaped(BudgetShape other) {
        return of(other, now, grants);
    }
}
