package dev.tokenvault.budget;

/** One budget: an app's portal, general or search. */
record BudgetKey(String app, long portalId, BudgetKind kind) {
}
