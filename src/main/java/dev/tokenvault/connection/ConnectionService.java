package dev.tokenvault.connection;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import jakarta.enterprise.context.ApplicationScoped;

import org.jboss.logging.Logger;

import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.crypto.CryptoException;
import dev.tokenvault.crypto.CryptoService;
import dev.tokenvault.crypto.DataKey;
import dev.tokenvault.crypto.SecretField;
import dev.tokenvault.hubspot.HubSpotException;
import dev.tokenvault.hubspot.HubSpotOAuthClient;
import dev.tokenvault.notify.ConnectionEvent;
import dev.tokenvault.notify.Notifier;
import dev.tokenvault.refresh.RefreshSchedule;
import dev.tokenvault.web.ApiException;
import io.smallrye.mutiny.Uni;

/**
 * Stores and reads connections with their secrets. Secrets are sealed before any transaction starts and the key
 * service is never called inside one: a failure half-way (key service, database) leaves what was stored intact.
 */
@ApplicationScoped
public class ConnectionService {

    private static final Logger LOG = Logger.getLogger(ConnectionService.class);

    private final ConnectionRepository repository;
    private final CryptoService crypto;
    private final InstantSource clock;
    private final TokenVaultConfig.Refresh refreshConfig;
    private final Notifier notifier;
    private final HubSpotOAuthClient hubspot;
    private final TokenVaultConfig.StaticTokens staticConfig;
    private final jakarta.enterprise.event.Event<ConnectionChanged> changed;

    ConnectionService(ConnectionRepository repository, CryptoService crypto, InstantSource clock,
            TokenVaultConfig config, Notifier notifier, HubSpotOAuthClient hubspot,
            jakarta.enterprise.event.Event<ConnectionChanged> changed) {
        this.changed = changed;
        this.notifier = notifier;
        this.hubspot = hubspot;
        this.staticConfig = config.staticTokens();
        this.repository = repository;
        this.crypto = crypto;
        this.clock = clock;
        this.refreshConfig = config.refresh();
    }

    public Uni<Optional<Connection>> find(String app, long portalId) {
        return repository.find(app, portalId);
    }

    public Uni<List<Connection>> list(String app, ConnectionFilter filter, long afterPortalId,
            Optional<List<Long>> onlyPortals, int limit) {
        return repository.list(app, filter, afterPortalId, onlyPortals, limit);
    }

    /** The connection with its secret fields opened. Empty when there is no such connection. */
    public Uni<Optional<OpenedConnection>> open(String app, long portalId) {
        return repository.findStored(repository.pool(), app, portalId).chain(found -> {
            if (found.isEmpty()) {
                return Uni.createFrom().item(Optional.<OpenedConnection> empty());
            }
            StoredConnection stored = found.get();
            if (stored.wrappedKey() == null) {
                if (!stored.sealed().isEmpty()) {
                    throw new CryptoException("the data key of " + app + "/" + portalId
                            + " has been destroyed: its secrets cannot be opened");
                }
                return Uni.createFrom().item(Optional.of(new OpenedConnection(stored.connection(), Map.of(), null)));
            }
            return crypto.openDataKey(stored.wrappedKey()).map(key -> {
                Map<SecretField, String> opened = new EnumMap<>(SecretField.class);
                stored.sealed().forEach((field, ct) -> opened.put(field,
                        crypto.open(key, app, portalId, field, ct)));
                return Optional.of(new OpenedConnection(stored.connection(), opened, key,
                        stored.sealed().get(SecretField.REFRESH_TOKEN)));
            });
        });
    }

    /**
     * Stores what an OAuth install produced: a new connection, or a re-install replacing the tokens of an existing
     * one and setting it back to active.
     */
    public Uni<Connection> storeOAuthInstall(OAuthInstall install) {
        var now = install.at();
        Instant expiresAt = now.plusSeconds(install.expiresIn());
        NewConnection n = new NewConnection(install.app(), install.portalId(), AuthType.OAUTH, install.scopes(),
                install.hubDomain(), install.user(), install.hubspotAppId(), now, expiresAt, now,
                RefreshSchedule.nextRefreshAt(now, expiresAt, refreshConfig.leadTime()));
        Map<SecretField, String> secrets = new EnumMap<>(SecretField.class);
        secrets.put(SecretField.REFRESH_TOKEN, install.refreshToken());
        secrets.put(SecretField.ACCESS_TOKEN, install.accessToken());
        secrets.put(SecretField.PRIVATE_APP_TOKEN, null);
        secrets.put(SecretField.PREVIOUS_STATIC_TOKEN, null);
        return store(n, secrets, existing -> {
        }, existing -> existing != null && existing.status() == ConnectionStatus.NEEDS_REAUTH
                ? ConnectionEvent.RECOVERED
                : ConnectionEvent.INSTALLED, true);
    }

    /** What a completed OAuth install hands over for storage. {@link #toString()} hides the tokens. */
    public record OAuthInstall(String app, long portalId, String accessToken, String refreshToken, long expiresIn,
            List<String> scopes, String hubDomain, String user, Long hubspotAppId, Instant at) {
        @Override
        public String toString() {
            return "OAuthInstall[" + app + "/" + portalId + ", tokens=<redacted>]";
        }
    }

    /** The outcome of storing a static token: the connection, and whether a different token was replaced. */
    public record StaticStored(Connection connection, boolean rotated) {
    }

    /**
     * Stores a static token (a private-app token or a service key) for (app, portal). A private-app token is first
     * shown to HubSpot's token-info endpoint: a token HubSpot refuses, or one of another account, is refused with 400;
     * HubSpot unavailable is 503; in both cases nothing is stored. Its scopes are recorded. HubSpot documents no such
     * endpoint for service keys: they are stored as given, with no scopes. A different token replaces the current one
     * at once (every replica's cache is told); the replaced one is kept sealed, as field
     * {@link SecretField#PREVIOUS_STATIC_TOKEN}, until the grace ends. Storing the token already held rotates
     * nothing. An OAuth connection is not converted: erase it first (409).
     */
    public Uni<StaticStored> storeStaticToken(String app, long portalId, AuthType kind, String token) {
        if (!kind.isStatic()) {
            throw new IllegalArgumentException("not a static kind: " + kind);
        }
        Uni<List<String>> scopes = kind != AuthType.PRIVATE_APP ? Uni.createFrom().item(List.of())
                : hubspot.privateAppTokenInfo(app, token)
                        .onFailure(HubSpotException.class).transform(e -> verificationFailed((HubSpotException) e))
                        .map(info -> {
                            if (info.hubId() != portalId) {
                                throw ApiException.badRequest("HubSpot says this private-app token belongs to "
                                        + "account " + info.hubId() + ", not to portal " + portalId
                                        + "; nothing was stored");
                            }
                            return info.scopes();
                        });
        return scopes.chain(s -> writeStatic(app, portalId, kind, token, s, true));
    }

    private static ApiException verificationFailed(HubSpotException e) {
        return switch (e.kind()) {
            case UNAVAILABLE, TIMEOUT, RATE_LIMITED, BUSY -> ApiException.unavailable(
                    "HubSpot cannot check the private-app token now (" + e.getMessage() + "); nothing was stored",
                    e.retryAfter() == null ? Duration.ofSeconds(5) : e.retryAfter(), null);
            default -> ApiException.badRequest("HubSpot does not accept this private-app token (" + e.getMessage()
                    + "); nothing was stored");
        };
    }

    private Uni<StaticStored> writeStatic(String app, long portalId, AuthType kind, String token,
            List<String> scopes, boolean retryOnRace) {
        Instant now = clock.instant();
        return repository.findStored(repository.pool(), app, portalId).chain(found -> {
            if (found.isEmpty()) {
                NewConnection n = new NewConnection(app, portalId, kind, scopes, null, null, null, now, null, null,
                        null);
                return crypto.newDataKey().chain(dataKey -> {
                    Map<SecretField, byte[]> sealed = new EnumMap<>(SecretField.class);
                    sealed.put(SecretField.PRIVATE_APP_TOKEN,
                            crypto.seal(dataKey, app, portalId, SecretField.PRIVATE_APP_TOKEN, token));
                    return repository.pool().withTransaction(tx -> repository.insert(tx, n).chain(id -> id.isEmpty()
                            ? Uni.createFrom().item(false)
                            : repository.insertDataKey(tx, id.get(), dataKey.wrapped(), now)
                                    .chain(() -> repository.putSecrets(tx, id.get(), sealed, now))
                                    .chain(() -> repository.notifyChanged(tx, app, portalId))
                                    .replaceWith(true)));
                }).invoke(done -> dropCached(done, app, portalId))
                        .chain(done -> done ? findOrFail(n).map(c -> new StaticStored(c, false))
                                : staticRaced(app, portalId, kind, token, scopes, retryOnRace));
            }
            StoredConnection stored = found.get();
            Connection c = stored.connection();
            if (c.authType() == AuthType.OAUTH) {
                throw ApiException.conflict("portal " + portalId + " of app " + app
                        + " is connected through OAuth; erase the connection before storing a static token");
            }
            Uni<DataKey> key = stored.wrappedKey() == null ? crypto.newDataKey()
                    : crypto.openDataKey(stored.wrappedKey());
            return key.chain(dataKey -> {
                byte[] currentCt = stored.wrappedKey() == null ? null
                        : stored.sealed().get(SecretField.PRIVATE_APP_TOKEN);
                String current = currentCt == null ? null
                        : crypto.open(dataKey, app, portalId, SecretField.PRIVATE_APP_TOKEN, currentCt);
                if (token.equals(current) && c.authType() == kind) {
                    // the token already held: nothing rotates, its age stays; HubSpot's scopes are recorded afresh
                    return repository.pool().withTransaction(tx -> repository
                            .updateStaticScopes(tx, c.id(), c.version(), scopes, now)
                            .call(done -> done ? repository.notifyChanged(tx, app, portalId)
                                    : Uni.createFrom().voidItem()))
                            .invoke(done -> dropCached(done, app, portalId))
                            .chain(done -> done ? findOrFail(c).map(x -> new StaticStored(x, false))
                                    : staticRaced(app, portalId, kind, token, scopes, retryOnRace));
                }
                NewConnection.Previous previous = current == null ? null
                        : new NewConnection.Previous(c.authType(), c.scopes(), c.installedAt(),
                                now.plus(staticConfig.grace()));
                NewConnection n = new NewConnection(app, portalId, kind, scopes, null, null, null, now, null, null,
                        null, previous);
                Map<SecretField, byte[]> sealed = new EnumMap<>(SecretField.class);
                sealed.put(SecretField.PRIVATE_APP_TOKEN,
                        crypto.seal(dataKey, app, portalId, SecretField.PRIVATE_APP_TOKEN, token));
                sealed.put(SecretField.PREVIOUS_STATIC_TOKEN, current == null ? null
                        : crypto.seal(dataKey, app, portalId, SecretField.PREVIOUS_STATIC_TOKEN, current));
                sealed.put(SecretField.ACCESS_TOKEN, null);
                sealed.put(SecretField.REFRESH_TOKEN, null);
                return repository.pool().withTransaction(tx -> repository.replace(tx, c.id(), c.version(), n)
                        .chain(updated -> {
                            if (updated == 0) {
                                return Uni.createFrom().item(false);
                            }
                            Uni<Void> keyWrite = stored.wrappedKey() == null
                                    ? repository.insertDataKey(tx, c.id(), dataKey.wrapped(), now)
                                    : Uni.createFrom().voidItem();
                            return keyWrite.chain(() -> repository.putSecrets(tx, c.id(), sealed, now))
                                    .chain(() -> repository.notifyChanged(tx, app, portalId))
                                    .replaceWith(true);
                        }))
                        .invoke(done -> dropCached(done, app, portalId))
                        .chain(done -> done ? findOrFail(n).map(x -> new StaticStored(x, previous != null))
                                : staticRaced(app, portalId, kind, token, scopes, retryOnRace));
            });
        });
    }

    private Uni<StaticStored> staticRaced(String app, long portalId, AuthType kind, String token,
            List<String> scopes, boolean retryOnRace) {
        if (!retryOnRace) {
            return Uni.createFrom().failure(ApiException.conflict(
                    "the connection changed while it was being written; retry"));
        }
        LOG.debugf("connection %s/%d changed concurrently; retrying once", app, portalId);
        return writeStatic(app, portalId, kind, token, scopes, false);
    }

    /**
     * Rollback: the static token replaced by the last rotation becomes the current one again, at once in every
     * replica, while its grace lasts; the token it replaces (the one that was rolled back) is destroyed. 404 without
     * a connection; 409 (type {@code no-previous-token}) when there is no replaced token, or its grace has ended.
     */
    public Uni<Connection> rollbackStaticToken(String app, long portalId) {
        Instant now = clock.instant();
        return repository.findStored(repository.pool(), app, portalId).chain(found -> {
            StoredConnection stored = found.orElseThrow(() -> ConnectionResource.notConnected(app, portalId));
            Connection c = stored.connection();
            byte[] previousCt = stored.sealed().get(SecretField.PREVIOUS_STATIC_TOKEN);
            if (!c.authType().isStatic() || !c.canRollBack(now) || previousCt == null
                    || stored.wrappedKey() == null) {
                throw noPrevious(app, portalId, c, now);
            }
            return crypto.openDataKey(stored.wrappedKey()).chain(dataKey -> {
                String previous = crypto.open(dataKey, app, portalId, SecretField.PREVIOUS_STATIC_TOKEN, previousCt);
                Map<SecretField, byte[]> sealed = new EnumMap<>(SecretField.class);
                sealed.put(SecretField.PRIVATE_APP_TOKEN,
                        crypto.seal(dataKey, app, portalId, SecretField.PRIVATE_APP_TOKEN, previous));
                sealed.put(SecretField.PREVIOUS_STATIC_TOKEN, null);
                return repository.pool().withTransaction(tx -> repository.restorePrevious(tx, c.id(), c.version(), now)
                        .call(done -> done ? repository.putSecrets(tx, c.id(), sealed, now)
                                .chain(() -> repository.notifyChanged(tx, app, portalId))
                                : Uni.createFrom().voidItem()));
            }).invoke(done -> dropCached(done, app, portalId)).chain(done -> {
                if (!done) {
                    return Uni.createFrom().failure(ApiException.conflict(
                            "the connection changed while it was being rolled back; read it and retry"));
                }
                return findOrFail(c);
            });
        });
    }

    /**
     * After a committed change of the token: this replica's cache drops the old one before the caller is answered
     * (the NOTIFY sent in the transaction tells the other replicas, and this one again, a moment later).
     */
    private void dropCached(boolean written, String app, long portalId) {
        if (written) {
            changed.fire(new ConnectionChanged(app, portalId));
        }
    }

    private static ApiException noPrevious(String app, long portalId, Connection c, Instant now) {
        String why;
        if (!c.authType().isStatic()) {
            why = "it is connected through OAuth, which has no static token";
        } else if (c.previousAuthType() != null && c.previousUntil() != null && !c.previousUntil().isAfter(now)) {
            why = "the grace period of the replaced token ended at " + c.previousUntil();
        } else {
            why = "no replaced token is kept (none was rotated within the grace period, or it was rolled back)";
        }
        return new ApiException(409, "no-previous-token", "No token to roll back to",
                "portal " + portalId + " of app " + app + " has no static token to roll back to: " + why, null, null,
                null);
    }

    /**
     * Destroys the replaced static tokens whose grace has ended (their sealed copies deleted, their descriptions
     * cleared). Returns (app, portal id) of each, at most {@code limit}.
     */
    public Uni<List<Map.Entry<String, Long>>> destroyExpiredPreviousTokens(int limit) {
        return repository.destroyExpiredPrevious(clock.instant(), limit);
    }

    /**
     * Creates or replaces a connection and its secrets (a null secret value deletes that field). The data key is
     * created or opened before the transaction; the row is replaced only if nobody changed it meanwhile.
     * {@code eventFor} names the event to announce (given the replaced connection, or null).
     */
    Uni<Connection> store(NewConnection n, Map<SecretField, String> secrets,
            java.util.function.Consumer<Connection> checkExisting,
            java.util.function.Function<Connection, ConnectionEvent> eventFor, boolean retryOnRace) {
        return repository.findStored(repository.pool(), n.app(), n.portalId()).chain(found -> {
            if (found.isPresent()) {
                StoredConnection stored = found.get();
                checkExisting.accept(stored.connection());
                Uni<DataKey> key = stored.wrappedKey() == null ? crypto.newDataKey()
                        : crypto.openDataKey(stored.wrappedKey());
                return key.chain(dataKey -> {
                    Map<SecretField, byte[]> sealed = seal(dataKey, n, secrets);
                    return repository.pool().withTransaction(tx -> repository
                            .replace(tx, stored.connection().id(), stored.connection().version(), n)
                            .chain(updated -> {
                                if (updated == 0) {
                                    return Uni.createFrom().item(false);
                                }
                                Uni<Void> keyWrite = stored.wrappedKey() == null
                                        ? repository.insertDataKey(tx, stored.connection().id(), dataKey.wrapped(),
                                                n.at())
                                        : Uni.createFrom().voidItem();
                                return keyWrite.chain(() -> repository.putSecrets(tx, stored.connection().id(),
                                        sealed, n.at()))
                                        .chain(() -> repository.notifyChanged(tx, n.app(), n.portalId()))
                                        .chain(() -> announce(tx, eventFor.apply(stored.connection()), n))
                                        .replaceWith(true);
                            }));
                }).chain(done -> done ? findOrFail(n) : raced(n, secrets, checkExisting, eventFor, retryOnRace));
            }
            return crypto.newDataKey().chain(dataKey -> {
                Map<SecretField, byte[]> sealed = seal(dataKey, n, secrets);
                return repository.pool().withTransaction(tx -> repository.insert(tx, n).chain(id -> {
                    if (id.isEmpty()) {
                        return Uni.createFrom().item(false);
                    }
                    return repository.insertDataKey(tx, id.get(), dataKey.wrapped(), n.at())
                            .chain(() -> repository.putSecrets(tx, id.get(), sealed, n.at()))
                            .chain(() -> announce(tx, eventFor.apply(null), n))
                            .replaceWith(true);
                }));
            }).chain(done -> done ? findOrFail(n) : raced(n, secrets, checkExisting, eventFor, retryOnRace));
        });
    }

    // ---- refresh ---------------------------------------------------------------------------------------------

    /** Takes the refresh lease of an active OAuth connection; empty when absent, not active, or leased elsewhere. */
    public Uni<Optional<Connection>> claimRefreshLease(String app, long portalId, LeaseOwner owner, Duration lease) {
        Instant now = clock.instant();
        return repository.claimLease(app, portalId, owner, now, now.plus(lease));
    }

    /** Claims due connections for the scheduled refresher. */
    public Uni<List<Connection>> claimDue(LeaseOwner owner, Duration lease, int limit) {
        Instant now = clock.instant();
        return repository.claimDue(owner, now, now.plus(lease), limit);
    }

    /**
     * Opens the data keys of claimed connections ahead, in one call to the key service where it has one (Vault), so
     * that their refreshes find them in memory. Best effort: on any failure each refresh opens its own key.
     */
    public Uni<Void> prefetchDataKeys(List<Connection> claimed) {
        if (claimed.size() < 2) {
            return Uni.createFrom().voidItem();
        }
        return repository.wrappedKeys(claimed.stream().map(Connection::id).toList())
                .chain(crypto::prefetch)
                .onFailure().invoke(e -> LOG.debugf("data keys of %d due connections not opened ahead (%s); each "
                        + "refresh opens its own", claimed.size(), e.getClass().getSimpleName()))
                .onFailure().recoverWithNull().replaceWithVoid();
    }

    public Uni<Boolean> releaseLease(long id, String owner) {
        return repository.releaseLease(id, owner);
    }

    /**
     * Stores a refreshed access token (and a new refresh token if HubSpot sent one) while still holding the lease.
     * Returns false when the lease was lost (another replica took over): nothing was written.
     */
    public Uni<Boolean> completeRefresh(OpenedConnection opened, String owner, String accessToken,
            String newRefreshToken, long expiresIn, List<String> scopes) {
        Connection c = opened.connection();
        Instant now = clock.instant();
        Instant expiresAt = now.plusSeconds(expiresIn);
        Map<SecretField, byte[]> sealed = new EnumMap<>(SecretField.class);
        sealed.put(SecretField.ACCESS_TOKEN,
                crypto.seal(opened.dataKey(), c.app(), c.portalId(), SecretField.ACCESS_TOKEN, accessToken));
        if (newRefreshToken != null && !newRefreshToken.isEmpty()) {
            sealed.put(SecretField.REFRESH_TOKEN, crypto.seal(opened.dataKey(), c.app(), c.portalId(),
                    SecretField.REFRESH_TOKEN, newRefreshToken));
        }
        Instant next = RefreshSchedule.nextRefreshAt(now, expiresAt, refreshConfig.leadTime());
        return repository.pool().withTransaction(tx -> repository
                .completeRefresh(tx, c.id(), owner, now, expiresAt, next, scopes)
                .chain(held -> held
                        ? repository.putSecrets(tx, c.id(), sealed, now).replaceWith(true)
                        : Uni.createFrom().item(false)));
    }

    /**
     * Stores a refresh result that carries a new refresh token, whether or not this replica still holds the lease:
     * guarded by compare-and-set on the stored refresh token (the one that refresh sent), so it never overwrites a
     * newer refresh token (another refresh, a re-install) and never brings back an erased connection. Returns false
     * when the stored refresh token is no longer the one sent (nothing written). The connection becomes active again:
     * its grant is the newest there is.
     */
    public Uni<Boolean> storeRotatedRefresh(OpenedConnection opened, String owner, String accessToken,
            String newRefreshToken, long expiresIn, List<String> scopes) {
        Connection c = opened.connection();
        if (opened.sealedRefreshToken() == null || opened.dataKey() == null) {
            return Uni.createFrom().item(false);
        }
        Instant now = clock.instant();
        Instant expiresAt = now.plusSeconds(expiresIn);
        byte[] refresh = crypto.seal(opened.dataKey(), c.app(), c.portalId(), SecretField.REFRESH_TOKEN,
                newRefreshToken);
        Map<SecretField, byte[]> access = new EnumMap<>(SecretField.class);
        access.put(SecretField.ACCESS_TOKEN,
                crypto.seal(opened.dataKey(), c.app(), c.portalId(), SecretField.ACCESS_TOKEN, accessToken));
        Instant next = RefreshSchedule.nextRefreshAt(now, expiresAt, refreshConfig.leadTime());
        return repository.pool().withTransaction(tx -> repository
                .replaceRefreshToken(tx, c.id(), opened.sealedRefreshToken(), refresh, now)
                .chain(swapped -> !swapped ? Uni.createFrom().item(false)
                        : repository.putSecrets(tx, c.id(), access, now)
                                .chain(() -> repository.completeRotatedRefresh(tx, c.id(), owner, now, expiresAt, next,
                                        scopes))
                                .chain(() -> repository.notifyChanged(tx, c.app(), c.portalId()))
                                .replaceWith(true)));
    }

    /** HubSpot rejected the refresh token: the connection needs a re-install. */
    public Uni<Boolean> markNeedsReauth(Connection c, String owner, String error) {
        return repository.pool().withTransaction(tx -> repository
                .markNeedsReauth(tx, c.id(), owner, clock.instant(), error)
                .call(done -> done ? repository.notifyChanged(tx, c.app(), c.portalId())
                        .chain(() -> notifier.enqueue(tx, ConnectionEvent.NEEDS_REAUTH, c.app(), c.portalId()))
                        : Uni.createFrom().voidItem()));
    }

    /** A transient refresh failure: counted, next attempt scheduled. */
    public Uni<Boolean> recordRefreshFailure(Connection c, String owner, String error, Instant nextAttempt) {
        return repository.recordRefreshFailure(c.id(), owner, clock.instant(), error, nextAttempt);
    }

    private Uni<Void> announce(io.vertx.mutiny.sqlclient.SqlClient tx, ConnectionEvent event, NewConnection n) {
        return event == null ? Uni.createFrom().voidItem() : notifier.enqueue(tx, event, n.app(), n.portalId());
    }

    private Uni<Connection> raced(NewConnection n, Map<SecretField, String> secrets,
            java.util.function.Consumer<Connection> checkExisting,
            java.util.function.Function<Connection, ConnectionEvent> eventFor, boolean retryOnRace) {
        if (!retryOnRace) {
            return Uni.createFrom().failure(ApiException.conflict(
                    "the connection changed while it was being written; retry"));
        }
        LOG.debugf("connection %s/%d changed concurrently; retrying once", n.app(), n.portalId());
        return store(n, secrets, checkExisting, eventFor, false);
    }

    private Uni<Connection> findOrFail(NewConnection n) {
        return findOrFail(n.app(), n.portalId());
    }

    private Uni<Connection> findOrFail(Connection c) {
        return findOrFail(c.app(), c.portalId());
    }

    private Uni<Connection> findOrFail(String app, long portalId) {
        return repository.find(app, portalId).map(c -> c.orElseThrow(
                () -> ApiException.conflict("the connection was erased while it was being written")));
    }

    private Map<SecretField, byte[]> seal(DataKey key, NewConnection n, Map<SecretField, String> secrets) {
        Map<SecretField, byte[]> sealed = new EnumMap<>(SecretField.class);
        secrets.forEach((field, value) -> sealed.put(field,
                value == null ? null : crypto.seal(key, n.app(), n.portalId(), field, value)));
        return sealed;
    }
}
