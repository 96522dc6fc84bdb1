package dev.tokenvault.budget;

/** Which of a portal's two HubSpot budgets a call spends. */
public enum BudgetKind {
    /** Every HubSpot API call but the CRM search ({@code tokenvault.apps.<app>.rate-limit.calls} / {@code .interval}). */
    GENERAL("general"),
    /**
     * {@code POST /crm/v3/objects/{type}/search}: its own, lower budget ({@code .search-calls} /
     * {@code .search-interval}).
     */
    SEARCH("search");

    private final String column;

    BudgetKind(String column) {
        this.column = column;
    }

    /** The value stored in {@code rate_budget.kind}. */
    String column() {
        return column;
    }
}
