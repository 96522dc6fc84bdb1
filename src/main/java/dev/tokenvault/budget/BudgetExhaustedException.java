package dev.tokenvault.budget;

import java.time.Duration;

/**
 * No permit within the wait: answered 429 problem type {@code .../rate-budget-exhausted} with {@code Retry-After}. The
 * call was not sent and no permit was spent.
 */
public class BudgetExhaustedException extends RuntimeException {

    private final Duration retryAfter;

    public BudgetExhaustedException(Duration retryAfter) {
        super("no HubSpot rate budget permit within the wait; retry after " + retryAfter.toSeconds() + " s", null, false,
                false);
        this.retryAfter = retryAfter;
    }

    /** When the next permit frees, as far as this replica knows: whole seconds, at least 1 s. */
    public Duration retryAfter() {
        return retryAfter;
    }

    /** {@code millis} rounded up to whole seconds, at least one. */
    static BudgetExhaustedException after(long millis) {
        return new BudgetExhaustedException(Duration.ofSeconds(Math.max(1, (millis + 999) / 1000)));
    }
}
