package dev.tokenvault.refresh;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import jakarta.enterprise.context.ApplicationScoped;

import org.jboss.logging.Logger;

import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.connection.ConnectionService;
import dev.tokenvault.connection.LeaseOwner;
import dev.tokenvault.connection.OpenedConnection;
import dev.tokenvault.db.Outages;
import dev.tokenvault.hubspot.TokenGrant;
import dev.tokenvault.metrics.Metrics;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;

/**
 * Refresh results that carry a new refresh token and could not be stored (the database was away when HubSpot
 * answered). HubSpot may already have revoked the refresh token that was sent, so the new one is the only way back to
 * the portal: it is kept in memory and written again, with backoff, until it is stored, found superseded (a newer
 * refresh token or a re-install is stored; erased), or {@code tokenvault.refresh.pending-write-retention} has passed.
 * At most {@code pending-write-limit} are kept. Every write is the compare-and-set of
 * {@link ConnectionService#storeRotatedRefresh}, so a late write never overwrites a newer token.
 * <p>
 * What remains: a replica that stops (or crashes) between HubSpot's answer and a successful write loses what it
 * holds here; see docs/architecture.md, "Rotated refresh tokens".
 */
@ApplicationScoped
class PendingRefreshWrites {

    private static final Logger LOG = Logger.getLogger(PendingRefreshWrites.class);
    private static final Duration FIRST_RETRY = Duration.ofSeconds(1);
    private static final Duration MAX_RETRY = Duration.ofSeconds(30);

    private final ConnectionService connections;
    private final InstantSource clock;
    private final Metrics metrics;
    private final Duration retention;
    private final int limit;
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();

    PendingRefreshWrites(ConnectionService connections, InstantSource clock, Metrics metrics, TokenVaultConfig config) {
        this.connections = connections;
        this.clock = clock;
        this.metrics = metrics;
        this.retention = config.refresh().pendingWriteRetention();
        this.limit = config.refresh().pendingWriteLimit();
    }

    /** A result to keep; its new refresh token is in {@code grant}. {@link #toString()} hides the tokens. */
    record Pending(OpenedConnection opened, TokenGrant grant, LeaseOwner owner, Instant since, int attempts,
            Instant nextAttempt) {
        @Override
        public String toString() {
            return "Pending[" + opened.connection().app() + "/" + opened.connection().portalId() + ", attempts="
                    + attempts + "]";
        }
    }

    static String key(String app, long portalId) {
        return app + "/" + portalId;
    }

    /** Keeps a result whose write failed; written again from the next second on. */
    void keep(OpenedConnection opened, TokenGrant grant, LeaseOwner owner, Throwable why) {
        String k = key(opened.connection().app(), opened.connection().portalId());
        Instant now = clock.instant();
        Pending previous = pending.put(k, new Pending(opened, grant, owner, now, 0, now.plus(FIRST_RETRY)));
        if (previous == null) {
            LOG.warnf("the new refresh token of %s could not be stored (%s); it is kept in memory and written again "
                    + "with backoff for up to %s", k, Outages.describe(why), retention);
        }
        while (pending.size() > limit) {
            pending.values().stream().min(Comparator.comparing(Pending::since)).ifPresent(oldest -> {
                if (pending.remove(key(oldest.opened().connection().app(), oldest.opened().connection().portalId()),
                        oldest)) {
                    lost(oldest, "more than tokenvault.refresh.pending-write-limit=" + limit + " are waiting");
                }
            });
        }
        metrics.refreshWritesPending().set(pending.size());
    }

    boolean isPending(String app, long portalId) {
        return pending.containsKey(key(app, portalId));
    }

    int size() {
        return pending.size();
    }

    /**
     * Writes what is kept for (app, portal), if anything, before that connection is refreshed again: the stored
     * refresh token may be the one HubSpot has revoked. Fails (unavailable) while it cannot be written.
     */
    Uni<Void> writeFirst(String app, long portalId) {
        Pending p = pending.get(key(app, portalId));
        return p == null ? Uni.createFrom().voidItem() : write(p, true);
    }

    @Scheduled(every = "1s", delayed = "1s", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> retryDue() {
        if (pending.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        Instant now = clock.instant();
        List<Pending> due = pending.values().stream().filter(p -> !p.nextAttempt().isAfter(now)).toList();
        return Multi.createFrom().iterable(due)
                .onItem().transformToUni(p -> write(p, false).onFailure().recoverWithNull()).merge(4)
                .collect().last().replaceWithVoid();
    }

    private Uni<Void> write(Pending p, boolean failIfStillPending) {
        String k = key(p.opened().connection().app(), p.opened().connection().portalId());
        TokenGrant g = p.grant();
        return connections.storeRotatedRefresh(p.opened(), p.owner().id(), g.accessToken(), g.refreshToken(),
                g.expiresIn(), g.scopes())
                .map(stored -> {
                    if (pending.remove(k, p)) {
                        metrics.refreshWritesPending().set(pending.size());
                        if (stored) {
                            LOG.infof("the new refresh token of %s is stored now (after %d more attempts)", k,
                                    p.attempts() + 1);
                        } else {
                            LOG.infof("the new refresh token of %s was not stored: the connection holds a newer "
                                    + "one, was installed again or was erased", k);
                        }
                    }
                    return (Void) null;
                })
                .onFailure().recoverWithUni(e -> {
                    Instant now = clock.instant();
                    if (now.isAfter(p.since().plus(retention))) {
                        if (pending.remove(k, p)) {
                            lost(p, "it could not be written for " + retention);
                        }
                    } else {
                        Duration wait = FIRST_RETRY.multipliedBy(1L << Math.min(5, p.attempts() + 1));
                        pending.replace(k, p, new Pending(p.opened(), g, p.owner(), p.since(), p.attempts() + 1,
                                now.plus(wait.compareTo(MAX_RETRY) > 0 ? MAX_RETRY : wait)));
                        LOG.debugf("the new refresh token of %s could not be stored yet (%s)", k, Outages.describe(e));
                    }
                    return failIfStillPending ? Uni.createFrom().failure(new RefreshUnavailableException(
                            "a newer refresh token of this connection is not stored yet (database unavailable)",
                            Duration.ofSeconds(5))) : Uni.createFrom().voidItem();
                });
    }

    private void lost(Pending p, String why) {
        metrics.refreshTokenLost();
        metrics.refreshWritesPending().set(pending.size());
        LOG.errorf("giving up storing the new refresh token of %s/%d: %s. If HubSpot revoked the previous one, the "
                + "connection will need a re-install", p.opened().connection().app(), p.opened().connection().portalId(),
                why);
    }
}
