package dev.tokenvault.connection;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Optional;

import jakarta.enterprise.context.ApplicationScoped;

import org.jboss.logging.Logger;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.connection.ConnectionRepository.PendingRevocation;
import dev.tokenvault.crypto.CryptoException;
import dev.tokenvault.crypto.CryptoService;
import dev.tokenvault.crypto.DataKey;
import dev.tokenvault.crypto.SecretField;
import dev.tokenvault.hubspot.AppCredentials;
import dev.tokenvault.hubspot.HubSpotException;
import dev.tokenvault.hubspot.HubSpotOAuthClient;
import dev.tokenvault.notify.ConnectionEvent;
import dev.tokenvault.notify.Notifier;
import dev.tokenvault.refresh.Backoff;
import dev.tokenvault.web.Redacted;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;

/**
 * Erases a connection (admin DELETE, HubSpot app uninstall): the refresh token is set aside sealed under a fresh data
 * key for revocation, the connection's data key is deleted first (crypto-shredding its ciphertexts; copies in backups
 * become unreadable once the key versions that wrapped that data key are retired), then its row, secrets and personal
 * data; an audit tombstone without personal data remains. The
 * revocation at HubSpot is attempted at once and retried until it succeeds; a failure never blocks the erase.
 */
@ApplicationScoped
public class ErasureService {

    private static final Logger LOG = Logger.getLogger(ErasureService.class);
    static final Duration GIVE_UP_AFTER = Duration.ofDays(30);
    static final Duration CLAIM = Duration.ofMinutes(5);

    private final ConnectionRepository repository;
    private final ConnectionService connections;
    private final CryptoService crypto;
    private final HubSpotOAuthClient hubspot;
    private final AppCredentials credentials;
    private final Notifier notifier;
    private final AuditLog audit;
    private final InstantSource clock;

    private final dev.tokenvault.db.ScheduledJobs jobs;

    ErasureService(ConnectionRepository repository, ConnectionService connections, CryptoService crypto,
            HubSpotOAuthClient hubspot, AppCredentials credentials, Notifier notifier, AuditLog audit,
            InstantSource clock, dev.tokenvault.db.ScheduledJobs jobs) {
        this.jobs = jobs;
        this.repository = repository;
        this.connections = connections;
        this.crypto = crypto;
        this.hubspot = hubspot;
        this.credentials = credentials;
        this.notifier = notifier;
        this.audit = audit;
        this.clock = clock;
    }

    /** How an erase ended. */
    public enum Outcome {
        ERASED,
        /** Nothing to erase (never installed, or already erased: harmless). */
        ABSENT,
        /** Not erased: the connection was installed after the uninstall occurred. */
        STALE
    }

    /**
     * Erases (app, portal). Returns false when there was nothing to erase (already gone: harmless). Fails only when
     * the key service or database is unavailable, before anything changed.
     */
    public Uni<Boolean> erase(String app, long portalId, String sub, String reason) {
        return erase(app, portalId, sub, reason, null).map(outcome -> outcome == Outcome.ERASED);
    }

    /**
     * Erases (app, portal) for an app uninstall that occurred at {@code occurredAt}, unless the connection was
     * installed after that (a delayed or replayed uninstall never erases a newer install): then nothing changes and
     * {@code connection.erase stale} is audited. The installation time is checked again under the row's lock, in the
     * erasing transaction, so a re-install racing with the uninstall is either erased as a whole or kept as a whole.
     * An installation in the same millisecond as the uninstall counts as before it.
     */
    public Uni<Outcome> eraseUninstalled(String app, long portalId, Instant occurredAt) {
        return erase(app, portalId, null, "app.uninstall", java.util.Objects.requireNonNull(occurredAt));
    }

    private static boolean installedAfter(Instant installedAt, Instant occurredAt) {
        return occurredAt != null && installedAt != null
                && installedAt.truncatedTo(java.time.temporal.ChronoUnit.MILLIS).isAfter(occurredAt);
    }

    private Uni<Outcome> erase(String app, long portalId, String sub, String reason, Instant occurredAt) {
        return connections.open(app, portalId)
                .onFailure(CryptoException.class).recoverWithUni(e -> {
                    // the secrets are unreadable already: erase what is there, there is nothing to revoke with
                    LOG.warnf("erasing %s/%d whose secrets cannot be opened (%s); its refresh token is not revoked",
                            app, portalId, e.getMessage());
                    return connections.find(app, portalId).map(c -> c.map(conn -> new OpenedConnection(conn,
                            java.util.Map.of(), null)));
                })
                .chain(found -> {
                    if (found.isEmpty()) {
                        audit.record(sub, app, portalId, "connection.erase", "absent", reason);
                        return Uni.createFrom().item(Outcome.ABSENT);
                    }
                    OpenedConnection opened = found.get();
                    if (installedAfter(opened.connection().installedAt(), occurredAt)) {
                        return Uni.createFrom().item(stale(app, portalId, reason, opened));
                    }
                    Optional<String> refreshToken = opened.secret(SecretField.REFRESH_TOKEN);
                    Uni<Optional<DataKey>> pendingKey = refreshToken.isPresent()
                            ? crypto.newDataKey().map(Optional::of)
                            : Uni.createFrom().item(Optional.empty());
                    return pendingKey.chain(key -> {
                        Instant now = clock.instant();
                        Connection c = opened.connection();
                        return repository.pool().withTransaction(tx -> (occurredAt == null
                                ? Uni.createFrom().item(Outcome.ERASED)
                                : repository.lockInstalledAt(tx, c.id()).map(installedAt -> installedAt.isEmpty()
                                        ? Outcome.ABSENT
                                        : installedAfter(installedAt.get(), occurredAt) ? Outcome.STALE
                                                : Outcome.ERASED))
                                .chain(verdict -> verdict != Outcome.ERASED ? Uni.createFrom().item(new Erased(verdict, -1))
                                        : repository.erase(tx, c.id()).chain(erased -> {
                                            if (!erased) {
                                                return Uni.createFrom().item(new Erased(Outcome.ABSENT, -1));
                                            }
                                            Uni<Long> pending = key.isEmpty() ? Uni.createFrom().item(-1L)
                                                    : repository.insertPendingRevocation(tx, app, portalId,
                                                            key.get().wrapped(),
                                                            crypto.seal(key.get(), app, portalId,
                                                                    SecretField.REFRESH_TOKEN, refreshToken.get()),
                                                            now);
                                            return pending.call(() -> repository.notifyChanged(tx, app, portalId))
                                                    .call(() -> notifier.enqueue(tx, ConnectionEvent.REVOKED, app,
                                                            portalId))
                                                    .map(id -> new Erased(Outcome.ERASED, id));
                                        })))
                                .chain(result -> {
                                    if (result.outcome() == Outcome.STALE) {
                                        // the re-install raced with the uninstall and won: its new data key stays
                                        return Uni.createFrom().item(stale(app, portalId, reason, opened));
                                    }
                                    if (opened.dataKey() != null) {
                                        crypto.forget(opened.dataKey().wrapped());
                                    }
                                    if (result.outcome() == Outcome.ABSENT) {
                                        audit.record(sub, app, portalId, "connection.erase", "absent", reason);
                                        return Uni.createFrom().item(Outcome.ABSENT);
                                    }
                                    audit.record(sub, app, portalId, "connection.erase", "erased", reason);
                                    LOG.infof("erased connection %s/%d (%s)", app, portalId, reason);
                                    return result.pendingId() < 0 ? Uni.createFrom().item(Outcome.ERASED)
                                            : retry(Optional.of(result.pendingId())).replaceWith(Outcome.ERASED);
                                });
                    });
                });
    }

    private record Erased(Outcome outcome, long pendingId) {
    }

    private Outcome stale(String app, long portalId, String reason, OpenedConnection opened) {
        audit.record(null, app, portalId, "connection.erase", "stale", reason);
        LOG.infof("not erasing %s/%d: installed at %s, after the uninstall (%s) occurred", app, portalId,
                opened.connection().installedAt(), reason);
        return Outcome.STALE;
    }

    @Scheduled(every = "60s", delayed = "30s", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> retryDue() {
        return jobs.run("revocation retry", () -> retry(Optional.empty()));
    }

    /** Attempts due revocations (or one of them); returns how many succeeded. */
    public Uni<Integer> retry(Optional<Long> onlyId) {
        Instant now = clock.instant();
        return repository.claimPendingRevocations(now, now.plus(CLAIM), 20, onlyId)
                .chain(claimed -> Multi.createFrom().iterable(claimed)
                        .onItem().transformToUni(this::revoke).merge(4)
                        .collect().asList()
                        .map(results -> (int) results.stream().filter(Boolean::booleanValue).count()));
    }

    private Uni<Boolean> revoke(PendingRevocation p) {
        return crypto.openDataKey(p.key())
                .map(key -> crypto.open(key, p.app(), p.portalId(), SecretField.REFRESH_TOKEN, p.sealed()))
                .chain(token -> credentials.require(p.app()).chain(client -> hubspot.revokeRefreshToken(client, token)))
                .chain(() -> {
                    crypto.forget(p.key());
                    audit.record(null, p.app(), p.portalId(), "refresh_token.revoke", "revoked", null);
                    return repository.deletePendingRevocation(p.id()).replaceWith(true);
                })
                .onFailure().recoverWithUni(e -> {
                    if (e instanceof HubSpotException h && h.kind() == HubSpotException.Kind.BAD_CLIENT) {
                        credentials.rejected(p.app());
                    }
                    String why = Redacted.describe(e);
                    if (p.createdAt() != null && p.createdAt().plus(GIVE_UP_AFTER).isBefore(clock.instant())) {
                        LOG.errorf("giving up revoking the refresh token of erased %s/%d after %d attempts: %s",
                                p.app(), p.portalId(), p.attempts(), why);
                        audit.record(null, p.app(), p.portalId(), "refresh_token.revoke", "abandoned", why);
                        return repository.deletePendingRevocation(p.id()).replaceWith(false);
                    }
                    Duration wait = Backoff.after(p.attempts(), e instanceof HubSpotException h ? h.retryAfter() : null);
                    LOG.warnf("revoking the refresh token of erased %s/%d failed (%s); retry in %s", p.app(),
                            p.portalId(), why, wait);
                    return repository.postponePendingRevocation(p.id(), clock.instant().plus(wait), why)
                            .replaceWith(false);
                });
    }
}
