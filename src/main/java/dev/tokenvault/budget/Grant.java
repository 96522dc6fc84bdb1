package dev.tokenvault.budget;

import java.time.Instant;

/**
 * Permits granted by {@link RateBudgets#acquire}.
 *
 * @param granted the permits granted (what was asked for)
 * @param remaining permits still free in the budget right after this grant (all replicas)
 * @param resetAt when every permit counted now has left the rolling window, so the budget is whole again unless more
 *        are granted meanwhile (service clock)
 */
public record Grant(int granted, int remaining, Instant resetAt) {
}
