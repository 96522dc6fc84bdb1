package dev.tokenvault.refresh;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import org.jboss.logging.Logger;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.connection.Connection;
import dev.tokenvault.connection.ConnectionChanged;
import dev.tokenvault.connection.ConnectionService;
import dev.tokenvault.connection.ConnectionStatus;
import dev.tokenvault.connection.LeaseOwner;
import dev.tokenvault.connection.OpenedConnection;
import dev.tokenvault.crypto.SecretField;
import dev.tokenvault.db.Outages;
import dev.tokenvault.hubspot.AppCredentials;
import dev.tokenvault.hubspot.HubSpotException;
import dev.tokenvault.hubspot.HubSpotOAuthClient;
import dev.tokenvault.hubspot.TokenGrant;
import dev.tokenvault.metrics.Metrics;
import dev.tokenvault.web.ApiException;
import io.micrometer.core.instrument.Timer;
import io.smallrye.mutiny.Uni;

/**
 * One refresh of one connection, safe across replicas and shared by concurrent callers: the on-demand path (token
 * hand-out) and the scheduled refresher both come here.
 * <p>
 * A refresh claims the row's lease in a short statement, calls HubSpot outside any transaction, and stores the result
 * only while still holding the lease. Callers in this process asking for the same connection share one flight;
 * callers in other replicas wait for the lease and then find the fresh token.
 */
@ApplicationScoped
public class RefreshService {

    private static final Logger LOG = Logger.getLogger(RefreshService.class);
    /** First wait for another replica's lease; doubled after every look, up to {@link #LEASE_POLL_MAX}. */
    static final Duration LEASE_POLL = Duration.ofMillis(100);
    static final Duration LEASE_POLL_MAX = Duration.ofSeconds(2);

    private final ConnectionService connections;
    private final HubSpotOAuthClient hubspot;
    private final AppCredentials credentials;
    private final AuditLog audit;
    private final InstantSource clock;
    private final Duration lease;
    private final Duration leaseWait;
    private final LeaseOwner owner;
    private final PendingRefreshWrites pendingWrites;
    private final Map<String, Uni<FreshToken>> flights = new ConcurrentHashMap<>();
    private final RefreshRateLimit rateLimit = new RefreshRateLimit();
    private final Metrics metrics;
    private final jakarta.enterprise.event.Event<ConnectionChanged> changed;

    @Inject
    RefreshService(ConnectionService connections, HubSpotOAuthClient hubspot, AppCredentials credentials,
            AuditLog audit, InstantSource clock, TokenVaultConfig config, Metrics metrics,
            jakarta.enterprise.event.Event<ConnectionChanged> changed, PendingRefreshWrites pendingWrites) {
        this.changed = changed;
        this.pendingWrites = pendingWrites;
        this.connections = connections;
        this.hubspot = hubspot;
        this.credentials = credentials;
        this.audit = audit;
        this.clock = clock;
        this.lease = config.refresh().lease();
        this.leaseWait = config.refresh().leaseWait();
        // the process start, not the clock's now: a replica must not mistake its own leases for a previous process's
        this.owner = LeaseOwner.of(config.replicaName(),
                Instant.ofEpochMilli(java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime()));
        this.metrics = metrics;
    }

    /** This replica's lease owner. */
    public LeaseOwner owner() {
        return owner;
    }

    /**
     * Refreshes unless the stored token already satisfies {@code alreadyFresh} (someone refreshed meanwhile).
     *
     * @throws NeedsReauthException HubSpot rejected the refresh token
     * @throws RefreshUnavailableException HubSpot, the key service or the database is unavailable now
     */
    public Uni<FreshToken> refresh(String app, long portalId, Predicate<Connection> alreadyFresh) {
        String key = app + "/" + portalId;

        return flights.computeIfAbsent(key, k -> Uni.createFrom()
                .deferred(() -> rateLimit.tryAcquire(k, clock.instant())
                        ? claimAndRefresh(app, portalId, alreadyFresh, clock.instant().plus(leaseWait), LEASE_POLL)
                        : Uni.createFrom().failure(new RefreshUnavailableException(
                                "too many refreshes of this connection recently (HubSpot allows "
                                        + RefreshRateLimit.HUBSPOT_LIMIT + " OAuth calls per 10 s per portal)",
                                RefreshRateLimit.WINDOW)))
                .onTermination().invoke(() -> flights.remove(k))
                .memoize().indefinitely());
    }

    /**
     * Refreshes a connection the scheduler has already leased, through the same single-flight map as on-demand
     * callers: a hand-out arriving meanwhile joins this refresh instead of starting another.
     */
    public Uni<Void> refreshLeased(Connection leased) {
        String key = leased.app() + "/" + leased.portalId();
        return flights.computeIfAbsent(key, k -> Uni.createFrom().deferred(() -> refreshClaimed(leased))
                .onTermination().invoke(() -> flights.remove(k))
                .memoize().indefinitely())
                .replaceWithVoid()
                .onFailure(e -> e instanceof NeedsReauthException || e instanceof RefreshUnavailableException)
                .recoverWithNull().replaceWithVoid();
    }

    private Uni<FreshToken> claimAndRefresh(String app, long portalId, Predicate<Connection> alreadyFresh,
            Instant giveUpAt, Duration poll) {
        return connections.claimRefreshLease(app, portalId, owner, lease).chain(claimed -> {
            if (claimed.isPresent()) {
                Connection c = claimed.get();
                if (alreadyFresh.test(c)) {
                    return connections.releaseLease(c.id(), owner.id()).chain(() -> stored(app, portalId));
                }
                return refreshClaimed(c);
            }
            return connections.find(app, portalId).chain(found -> {
                Connection c = found.orElseThrow(() -> ApiException.notFound(
                        "portal " + portalId + " has no connection for app " + app));
                if (c.status() == ConnectionStatus.NEEDS_REAUTH) {
                    return Uni.createFrom().failure(new NeedsReauthException(app, portalId));
                }
                if (c.authType() != dev.tokenvault.connection.AuthType.OAUTH) {
                    return Uni.createFrom().failure(ApiException.conflict(
                            "portal " + portalId + " holds a static credential (" + c.authType().value()
                                    + "), which does not refresh; store a new one to rotate it"));
                }
                if (!clock.instant().isBefore(giveUpAt)) {
                    // a live replica finishes a refresh in well under tokenvault.refresh.lease-wait; one that stopped
                    // holds the lease until it expires: answer now rather than hold the caller that long
                    return Uni.createFrom().failure(new RefreshUnavailableException(
                            "another replica holds this connection's refresh lease (it may have stopped; the lease "
                                    + "expires within " + lease.toSeconds() + " s)",
                            Duration.ofSeconds(Math.max(1, Math.min(30, lease.toSeconds() / 2)))));
                }
                // another replica is refreshing: wait for its lease with backoff, then look again
                Duration next = poll.multipliedBy(2).compareTo(LEASE_POLL_MAX) > 0 ? LEASE_POLL_MAX : poll.multipliedBy(2);
                return Uni.createFrom().voidItem().onItem().delayIt().by(poll)
                        .chain(() -> claimAndRefresh(app, portalId, alreadyFresh, giveUpAt, next));
            });
        });
    }

    private Uni<FreshToken> stored(String app, long portalId) {
        return connections.open(app, portalId).map(o -> {
            OpenedConnection opened = o.orElseThrow(() -> ApiException.notFound(
                    "portal " + portalId + " has no connection for app " + app));
            return new FreshToken(opened.secret(SecretField.ACCESS_TOKEN).orElse(null),
                    opened.connection().accessExpiresAt(), opened.connection().scopes());
        });
    }

    private Uni<FreshToken> refreshClaimed(Connection c) {
        Timer.Sample sample = Timer.start();
        // a newer refresh token not stored yet goes first: the stored one may be revoked at HubSpot already
        return pendingWrites.writeFirst(c.app(), c.portalId())
                .chain(() -> connections.open(c.app(), c.portalId()))
                .chain(found -> {
                    OpenedConnection opened = found.orElseThrow(() -> ApiException.notFound("connection erased"));
                    Optional<String> refreshToken = opened.secret(SecretField.REFRESH_TOKEN);
                    if (refreshToken.isEmpty()) {
                        return rejectedRefresh(c, "no refresh token stored");
                    }
                    return credentials.require(c.app())
                            .chain(client -> hubspot.refresh(client, refreshToken.get()))
                            .onItemOrFailure().invoke((g, e) -> sample.stop(metrics.refreshLatency()))
                            .chain(grant -> store(opened, grant))
                            .onFailure(HubSpotException.class)
                            .recoverWithUni(e -> failed(c, (HubSpotException) e));
                })
                .onFailure(e -> !(e instanceof NeedsReauthException) && !(e instanceof RefreshUnavailableException))
                .call(e -> {
                    // failed before HubSpot answered (key service, database): back off like a transient failure,
                    // so the scheduler does not claim the row again at once
                    Duration wait = Backoff.after(c.refreshFailures() + 1, null);
                    LOG.warnf("refresh of %s/%d could not run (%s); next attempt in %s", c.app(), c.portalId(),
                            e.getClass().getSimpleName(), wait);
                    return connections.recordRefreshFailure(c, owner.id(), "refresh could not run: "
                            + e.getClass().getSimpleName(), clock.instant().plus(wait)).onFailure().recoverWithNull();
                })
                .onFailure(e -> !(e instanceof NeedsReauthException) && !(e instanceof RefreshUnavailableException)
                        && !(e instanceof ApiException))
                .transform(e -> new RefreshUnavailableException("the refresh could not be completed now: "
                        + e.getClass().getSimpleName(), Duration.ofSeconds(5)));
    }

    /**
     * Stores what HubSpot returned. A grant with a new refresh token is never dropped: when the lease was lost it is
     * stored by compare-and-set on the refresh token that was sent, and when the database is away it is kept and
     * written again in the background ({@link PendingRefreshWrites}) while the caller gets its fresh access token.
     * A grant without one (HubSpot's v1 API) is discarded when the lease was lost: what is stored is the truth.
     */
    private Uni<FreshToken> store(OpenedConnection opened, TokenGrant grant) {
        Connection c = opened.connection();
        boolean rotated = grant.refreshToken() != null && !grant.refreshToken().isEmpty()
                && !grant.refreshToken().equals(opened.secret(SecretField.REFRESH_TOKEN).orElse(null));
        Uni<Boolean> write = connections.completeRefresh(opened, owner.id(), grant.accessToken(), grant.refreshToken(),
                grant.expiresIn(), grant.scopes());
        if (rotated) {
            write = write
                    .chain(held -> held ? Uni.createFrom().item(true)
                            : connections.storeRotatedRefresh(opened, owner.id(), grant.accessToken(),
                                    grant.refreshToken(), grant.expiresIn(), grant.scopes()))
                    .onFailure(Outages::isDatabaseUnavailable).recoverWithItem(e -> {
                        pendingWrites.keep(opened, grant, owner, e);
                        return true;
                    });
        }
        return write.chain(held -> {
            if (!held) {
                // the lease was lost meanwhile (erased, re-installed, or taken over after expiry) and this grant
                // brings no new refresh token, or a newer one is stored: what is stored now is the truth
                LOG.infof("refresh of %s/%d finished after its lease was lost; its result is discarded",
                        c.app(), c.portalId());
                return stored(c.app(), c.portalId());
            }
            metrics.refreshed("success");
            changed.fire(new ConnectionChanged(c.app(), c.portalId())); // drop the older token cached here
            if (c.refreshFailures() > 0) {
                LOG.infof("refresh of %s/%d recovered after %d failures", c.app(), c.portalId(),
                        c.refreshFailures());
            }
            audit.record(null, c.app(), c.portalId(), "token.refresh", "success", null);
            return Uni.createFrom().item(new FreshToken(grant.accessToken(),
                    clock.instant().plusSeconds(grant.expiresIn()),
                    grant.scopes() == null || grant.scopes().isEmpty() ? c.scopes() : grant.scopes()));
        });
    }

    private Uni<FreshToken> failed(Connection c, HubSpotException e) {
        if (e.kind() == HubSpotException.Kind.REFRESH_TOKEN_REJECTED) {
            return rejectedRefresh(c, e.getMessage());
        }
        metrics.refreshed("transient");
        if (e.kind() == HubSpotException.Kind.BAD_CLIENT) {
            credentials.rejected(c.app());
        }
        int failures = c.refreshFailures() + 1;
        Duration wait = Backoff.after(failures, e.retryAfter());
        // a call the bulkhead did not send is counted (tokenvault_hubspot_bulkhead_rejections_total), not a WARN each
        LOG.logf(e.kind() == HubSpotException.Kind.BUSY ? Logger.Level.DEBUG : Logger.Level.WARN,
                "refresh of %s/%d failed (%s); attempt %d, next in %s", c.app(), c.portalId(), e.getMessage(),
                failures, wait);
        audit.record(null, c.app(), c.portalId(), "token.refresh", "transient", e.getMessage());
        return connections.recordRefreshFailure(c, owner.id(), e.getMessage(), clock.instant().plus(wait))
                .onFailure().recoverWithItem(false)
                .chain(ignored -> Uni.createFrom().failure(new RefreshUnavailableException(
                        "HubSpot could not refresh the token now: " + e.getMessage(),
                        e.retryAfter() != null ? e.retryAfter() : Duration.ofSeconds(Math.min(60, wait.toSeconds())))));
    }

    private Uni<FreshToken> rejectedRefresh(Connection c, String why) {
        metrics.refreshed("rejected");
        LOG.warnf("HubSpot rejected the refresh token of %s/%d: %s; connection needs re-authorization", c.app(),
                c.portalId(), why);
        audit.record(null, c.app(), c.portalId(), "token.refresh", "rejected", why);
        return connections.markNeedsReauth(c, owner.id(), why)
                .chain(ignored -> Uni.createFrom().failure(new NeedsReauthException(c.app(), c.portalId())));
    }
}
