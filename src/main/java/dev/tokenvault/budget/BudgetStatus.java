package dev.tokenvault.budget;

import java.time.Instant;

/**
 * A budget as it stands (all replicas).
 *
 * @param calls the budget's size: permits in any rolling interval (configured, or learned from HubSpot)
 * @param intervalMs the rolling interval, in milliseconds (configured, or learned from HubSpot)
 * @param remaining permits that could be granted now (0 while paused)
 * @param resetAt when every permit counted now has left the window (not before {@code pausedUntil}); now when none
 *        is counted (service clock)
 * @param pausedUntil after a HubSpot 429, no permit before this instant; null when not paused (service clock)
 */
public record BudgetStatus(int calls, long intervalMs, int remaining, Instant resetAt, Instant pausedUntil) {
}
