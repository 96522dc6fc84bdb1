package dev.tokenvault.budget;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Map;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.TreeMap;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.metrics.Metrics;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;

/**
 * The HubSpot rate budget of every (app, portal), one for the whole deployment: at most {@code calls} permits in any
 * rolling {@code interval}, whichever replica grants them ({@code tokenvault.apps.<app>.rate-limit.*}; the search
 * endpoint has its own budget). A permit is taken right before a HubSpot call is sent. See docs/architecture.md,
 * "Rate budget".
 * <p>
 * Every method fails with {@link IllegalArgumentException} for an unknown app or invalid arguments (400), and with the
 * pool's own exceptions when the database is away ({@code db.Outages} classifies them: 503). Instants are of the
 * service clock ({@link InstantSource}); the budget itself runs on the database's clock.
 */
@ApplicationScoped
public class RateBudgets {

    private final Map<String, TokenVaultConfig.App> apps;
    private final ReplicaBudgets replica;

    RateBudgets(TokenVaultConfig config, Pool pool, Vertx vertx, Metrics metrics, InstantSource clock) {
        this.apps = config.apps();
        this.replica = new ReplicaBudgets(pool, vertx, metrics, clock, this::configured);
    }

    void validate(@Observes StartupEvent event) {
        Map<String, TokenVaultConfig.App.RateLimit> limits = new TreeMap<>();
        apps.forEach((name, app) -> limits.put(name, app.rateLimit()));
        validate(limits);
    }

    /** Refuses a budget that cannot be honoured, naming its key. */
    static void validate(Map<String, TokenVaultConfig.App.RateLimit> limits) {
        limits.forEach((name, limit) -> {
            String prefix = "tokenvault.apps." + name + ".rate-limit.";
            calls(prefix + "calls", limit.calls());
            interval(prefix + "interval", limit.interval());
            calls(prefix + "search-calls", limit.searchCalls());
            interval(prefix + "search-interval", limit.searchInterval());
        });
    }

    private static void calls(String key, int calls) {
        if (calls < 1 || calls > BudgetShape.MAX_CALLS) {
            throw new IllegalStateException(key + " must be between 1 and " + BudgetShape.MAX_CALLS + ", was " + calls);
        }
    }

    private static void interval(String key, Duration interval) {
        if (interval == null || interval.toMillis() < 1 || interval.toMillis() > BudgetShape.MAX_INTERVAL_MS) {
            throw new IllegalStateException(key + " must be a positive duration of at least 1 ms and at most 1 day, was "
                    + interval);
        }
    }

    private BudgetShape configured(String app, BudgetKind kind) {
        TokenVaultConfig.App known = apps.get(app);
        if (known == null) {
            throw new IllegalArgumentException("no app named '" + app + "' is configured");
        }
        TokenVaultConfig.App.RateLimit limit = known.rateLimit();
        return kind == BudgetKind.SEARCH ? new BudgetShape(limit.searchCalls(), limit.searchInterval().toMillis())
                : new BudgetShape(limit.calls(), limit.interval().toMillis());
    }

    /**
     * Waits, first come first served per (app, portal, kind) in this replica, up to maxWait for `calls` permits.
     * Fails with {@link BudgetExhaustedException} as soon as the permits cannot free within {@code maxWait} (its
     * {@code retryAfter}: when they would, at least 1 s), and with {@link IllegalArgumentException} when
     * {@code calls} is below 1 or above the budget's size.
     */
    public Uni<Grant> acquire(String app, long portalId, BudgetKind kind, int calls, Duration maxWait) {
        return replica.acquire(app, portalId, kind, calls, maxWait).map(ReplicaBudgets.Granted::grant);
    }

    /** The budget as it stands, for all replicas. */
    public Uni<BudgetStatus> status(String app, long portalId, BudgetKind kind) {
        return replica.status(app, portalId, kind);
    }

    /**
     * What HubSpot's X-HubSpot-RateLimit-Max / -Remaining / -Interval-Milliseconds said (any may be absent). A
     * different {@code max} or interval is stored (accounts with higher limits); a {@code remaining} below what the
     * budget implies (traffic outside the vault) spends the difference now.
     */
    public Uni<Void> observe(String app, long portalId, BudgetKind kind, OptionalInt max, OptionalInt remaining,
            OptionalLong intervalMs) {
        return replica.observe(app, portalId, kind, max, remaining, intervalMs);
    }

    /**
     * A HubSpot 429: no permits for this budget until `until` (Retry-After, or the daily reset), in every replica
     * (a later pause already stored is kept; at most 25 hours).
     */
    public Uni<Void> pause(String app, long portalId, BudgetKind kind, Instant until) {
        return replica.pause(app, portalId, kind, until);
    }
}
