package dev.tokenvault.budget;

/**
 * A budget's size: at most {@code calls} permits in any rolling {@code intervalMs}.
 * <p>
 * Inside the vault a permit counts for the interval plus a {@linkplain #marginMs() margin}: the call reaches HubSpot
 * a little after its permit was granted (the rest of the proxy's work, the network), and those delays differ from call
 * to call. When the log holds at most {@code calls} grants in any window of interval + margin, HubSpot, which sees
 * each call up to a margin later than its grant, sees at most {@code calls} in any window of interval.
 */
record BudgetShape(int calls, long intervalMs) {

    /** Upper bound of a budget's size (configured or learned): bounds the stored log of a budget (8 bytes a grant). */
    static final int MAX_CALLS = 10_000;

    /** Upper bound of a learned interval (a day): HubSpot's rolling windows are seconds. */
    static final long MAX_INTERVAL_MS = 86_400_000L;

    /** The margin is {@value #MARGIN_DIVISOR}th of the interval, ... */
    static final long MARGIN_DIVISOR = 40;

    /** ... at least this ... */
    static final long MIN_MARGIN_MS = 25;

    /** ... and at most this (milliseconds). */
    static final long MAX_MARGIN_MS = 250;

    BudgetShape {
        if (calls < 1 || calls > MAX_CALLS) {
            throw new IllegalArgumentException("calls must be 1.." + MAX_CALLS + ", was " + calls);
        }
        if (intervalMs < 1 || intervalMs > MAX_INTERVAL_MS) {
            throw new IllegalArgumentException("interval must be 1 ms..1 day, was " + intervalMs + " ms");
        }
    }

    /**
     * How much longer than the interval a permit counts: 2.5 % of the interval, 25 ms to 250 ms (250 ms for 10 s,
     * 25 ms for 1 s). At most 2.5 % of the budget is given up for it: at least 97.5 % of {@code calls} per interval
     * under sustained overload.
     */
    long marginMs() {
        return Math.min(MAX_MARGIN_MS, Math.max(MIN_MARGIN_MS, intervalMs / MARGIN_DIVISOR));
    }

    /** How long a grant counts: interval + margin. */
    long spanMs() {
        return intervalMs + marginMs();
    }
}
