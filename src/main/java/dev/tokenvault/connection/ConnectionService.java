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

    ConnectionService(ConnectionRepository repository, CryptoService crypto, InstantSource clock,
            TokenVaultConfig config, Notifier notifier) {
        this.notifier = notifier;
        this.repository = repository;
        this.crypto = crypto;
        this.clock = clock;
        this.refreshConfig = config.refresh();
    }

    public Uni<Optional<Connection>> find(String app, long portalId) {
        return repository.find(app, portalId);
    }

    public Uni<List<Connection>> list(String app, Optional<ConnectionStatus> status, long afterPortalId,
            Optional<List<Long>> onlyPortals, int limit) {
        return repository.list(app, status, afterPortalId, onlyPortals, limit);
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

    /**
     * Stores a private-app (static bearer) token for (app, portal). An OAuth connection is not converted: erase it
     * first.
     */
    public Uni<Connection> storePrivateAppToken(String app, long portalId, String token) {
        var now = clock.instant();
        NewConnection n = new NewConnection(app, portalId, AuthType.PRIVATE_APP, List.of(), null, null, null, now,
                null, null, null);
        Map<SecretField, String> secrets = new EnumMap<>(SecretField.class);
        secrets.put(SecretField.PRIVATE_APP_TOKEN, token);
        secrets.put(SecretField.ACCESS_TOKEN, null);
        secrets.put(SecretField.REFRESH_TOKEN, null);
        return store(n, secrets, existing -> {
            if (existing.authType() == AuthType.OAUTH) {
                throw ApiException.conflict("portal " + portalId + " of app " + app
                        + " is connected through OAuth; erase the connection before storing a private-app token");
            }
        }, true);
    }

    /**
     * Creates or replaces a connection and its secrets (a null secret value deletes that field). The data key is
     * created or opened before the transaction; the row is replaced only if nobody changed it meanwhile.
     */
    Uni<Connection> store(NewConnection n, Map<SecretField, String> secrets,
            java.util.function.Consumer<Connection> checkExisting, boolean retryOnRace) {
        return store(n, secrets, checkExisting, existing -> null, retryOnRace);
    }

    /** As above; {@code eventFor} names the event to announce (given the replaced connection, or null). */
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
        return repository.find(n.app(), n.portalId()).map(c -> c.orElseThrow(
                () -> ApiException.conflict("the connection was erased while it was being written")));
    }

    private Map<SecretField, byte[]> seal(DataKey key, NewConnection n, Map<SecretField, String> secrets) {
        Map<SecretField, byte[]> sealed = new EnumMap<>(SecretField.class);
        secrets.forEach((field, value) -> sealed.put(field,
                value == null ? null : crypto.seal(key, n.app(), n.portalId(), field, value)));
        return sealed;
    }
}
