package dev.tokenvault.connection;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import jakarta.enterprise.context.ApplicationScoped;

import dev.tokenvault.crypto.SecretField;
import dev.tokenvault.crypto.WrappedKey;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.SqlClient;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * SQL for the connection, data_key and secret tables, over the reactive PostgreSQL client. Statements that must be
 * atomic take the {@link SqlClient} of a transaction.
 */
@ApplicationScoped
class ConnectionRepository {

    static final String COLUMNS = "c.id, c.app, c.portal_id, c.auth_type, c.status, c.scopes, c.hub_domain, "
            + "c.installed_by, c.hubspot_app_id, c.installed_at, c.updated_at, c.access_expires_at, "
            + "c.last_refresh_at, c.next_refresh_at, c.refresh_failures, c.last_error, c.version, "
            + "c.previous_auth_type, c.previous_until";

    private static final String STORED = "select " + COLUMNS + ", d.wrapped, d.key_version, "
            + "(select s.ciphertext from secret s where s.connection_id = c.id and s.field = 'refresh_token') as refresh_ct, "
            + "(select s.ciphertext from secret s where s.connection_id = c.id and s.field = 'access_token') as access_ct, "
            + "(select s.ciphertext from secret s where s.connection_id = c.id and s.field = 'private_app_token') as private_ct, "
            + "(select s.ciphertext from secret s where s.connection_id = c.id and s.field = 'previous_static_token') as previous_ct "
            + "from connection c left join data_key d on d.connection_id = c.id ";

    private final Pool pool;

    ConnectionRepository(Pool pool) {
        this.pool = pool;
    }

    Pool pool() {
        return pool;
    }

    Uni<Optional<Connection>> find(String app, long portalId) {
        return pool.preparedQuery("select " + COLUMNS + " from connection c where c.app = $1 and c.portal_id = $2")
                .execute(Tuple.of(app, portalId))
                .map(rows -> first(rows).map(ConnectionRepository::connection));
    }

    Uni<Optional<StoredConnection>> findStored(SqlClient client, String app, long portalId) {
        return client.preparedQuery(STORED + "where c.app = $1 and c.portal_id = $2")
                .execute(Tuple.of(app, portalId))
                .map(rows -> first(rows).map(ConnectionRepository::stored));
    }

    /** Inserts a connection, or returns empty when (app, portal) already exists. */
    Uni<Optional<Long>> insert(SqlClient tx, NewConnection n) {
        return tx.preparedQuery("insert into connection (app, portal_id, auth_type, status, scopes, hub_domain, "
                + "installed_by, hubspot_app_id, installed_at, updated_at, access_expires_at, last_refresh_at, "
                + "next_refresh_at, previous_auth_type, previous_scopes, previous_stored_at, previous_until) "
                + "values ($1, $2, $3, 'active', $4, $5, $6, $7, $8, $8, $9, $10, $11, $12, $13, $14, $15) "
                + "on conflict (app, portal_id) do nothing returning id")
                .execute(Tuple.from(withPrevious(new Object[] { n.app(), n.portalId(), n.authType().value(),
                        n.scopes().toArray(String[]::new), n.hubDomain(), n.installedBy(), n.hubspotAppId(),
                        ts(n.at()), ts(n.accessExpiresAt()), ts(n.lastRefreshAt()), ts(n.nextRefreshAt()) }, n)))
                .map(rows -> first(rows).map(r -> r.getLong("id")));
    }

    /**
     * Replaces the descriptive fields of an existing connection (re-install, new private-app token) and sets it back
     * to active, guarded by its version. Returns the number of rows updated (0: someone else changed it).
     */
    Uni<Integer> replace(SqlClient tx, long id, long expectedVersion, NewConnection n) {
        return tx.preparedQuery("update connection set auth_type = $3, status = 'active', scopes = $4, "
                + "hub_domain = $5, installed_by = $6, hubspot_app_id = $7, installed_at = $8, updated_at = $8, "
                + "access_expires_at = $9, last_refresh_at = $10, next_refresh_at = $11, lease_owner = null, "
                + "lease_until = null, refresh_failures = 0, last_error = null, previous_auth_type = $12, "
                + "previous_scopes = $13, previous_stored_at = $14, previous_until = $15, version = version + 1 "
                + "where id = $1 and version = $2")
                .execute(Tuple.from(withPrevious(new Object[] { id, expectedVersion, n.authType().value(),
                        n.scopes().toArray(String[]::new), n.hubDomain(), n.installedBy(), n.hubspotAppId(),
                        ts(n.at()), ts(n.accessExpiresAt()), ts(n.lastRefreshAt()), ts(n.nextRefreshAt()) }, n)))
                .map(RowSet::rowCount);
    }

    /** The eleven values of a new connection followed by the four of its previous static token (nulls when none). */
    private static Object[] withPrevious(Object[] values, NewConnection n) {
        Object[] out = java.util.Arrays.copyOf(values, values.length + 4);
        NewConnection.Previous p = n.previous();
        if (p != null) {
            out[values.length] = p.authType().value();
            out[values.length + 1] = p.scopes().toArray(String[]::new);
            out[values.length + 2] = ts(p.storedAt());
            out[values.length + 3] = ts(p.until());
        }
        return out;
    }

    /**
     * Rollback: the previous static token's description becomes the current one and the previous is cleared, guarded
     * by the version and by the grace (a previous token whose grace ended is never restored). Returns whether it was
     * written.
     */
    Uni<Boolean> restorePrevious(SqlClient tx, long id, long expectedVersion, Instant now) {
        return tx.preparedQuery("update connection set auth_type = previous_auth_type, scopes = previous_scopes, "
                + "installed_at = previous_stored_at, updated_at = $3, previous_auth_type = null, "
                + "previous_scopes = null, previous_stored_at = null, previous_until = null, version = version + 1 "
                + "where id = $1 and version = $2 and previous_until > $3 and previous_auth_type is not null")
                .execute(Tuple.of(id, expectedVersion, ts(now)))
                .map(rows -> rows.rowCount() == 1);
    }

    /**
     * Destroys the previous static tokens whose grace ended before {@code now}: their sealed copies are deleted and
     * their descriptions cleared, in one statement. Returns (app, portal id) of each.
     */
    Uni<List<Map.Entry<String, Long>>> destroyExpiredPrevious(Instant now, int limit) {
        return pool.withTransaction(tx -> tx.preparedQuery("with expired as (update connection set "
                + "previous_auth_type = null, previous_scopes = null, previous_stored_at = null, previous_until = null "
                + "where id in (select id from connection where previous_until <= $1 order by previous_until "
                + "limit $2 for update skip locked) returning id, app, portal_id), "
                + "gone as (delete from secret where field = 'previous_static_token' "
                + "and connection_id in (select id from expired)) select app, portal_id from expired")
                .execute(Tuple.of(ts(now), limit))
                .map(rows -> {
                    List<Map.Entry<String, Long>> out = new ArrayList<>();
                    rows.forEach(r -> out.add(Map.entry(r.getString("app"), r.getLong("portal_id"))));
                    return out;
                }));
    }

    /** Age of the oldest static token (seconds at {@code now}; 0 when none) and how many are older than the limit. */
    Uni<long[]> staticTokenAges(Instant now, Instant rotateBefore) {
        return pool.preparedQuery("select coalesce(max(extract(epoch from ($1 - installed_at)))::bigint, 0), "
                + "count(*) filter (where installed_at < $2) from connection "
                + "where auth_type in ('private_app', 'service_key')")
                .execute(Tuple.of(ts(now), ts(rotateBefore)))
                .map(rows -> {
                    Row r = rows.iterator().next();
                    return new long[] { Math.max(0, r.getLong(0)), r.getLong(1) };
                });
    }

    /** The scopes of a static credential, guarded by its version; returns whether it was written. */
    Uni<Boolean> updateStaticScopes(SqlClient tx, long id, long expectedVersion, List<String> scopes, Instant now) {
        return tx.preparedQuery("update connection set scopes = $3, updated_at = $4, version = version + 1 "
                + "where id = $1 and version = $2")
                .execute(Tuple.of(id, expectedVersion, scopes.toArray(String[]::new), ts(now)))
                .map(rows -> rows.rowCount() == 1);
    }

    Uni<Void> insertDataKey(SqlClient tx, long connectionId, WrappedKey wrapped, Instant at) {
        return tx.preparedQuery("insert into data_key (connection_id, wrapped, key_version, created_at) "
                + "values ($1, $2, $3, $4)")
                .execute(Tuple.of(connectionId, wrapped.ciphertext(), wrapped.keyVersion(), ts(at)))
                .replaceWithVoid();
    }

    /** Writes (or replaces) sealed fields; a field mapped to null is deleted. */
    Uni<Void> putSecrets(SqlClient tx, long connectionId, Map<SecretField, byte[]> sealed, Instant at) {
        Uni<Void> chain = Uni.createFrom().voidItem();
        for (Map.Entry<SecretField, byte[]> e : sealed.entrySet()) {
            if (e.getValue() == null) {
                chain = chain.chain(() -> tx.preparedQuery("delete from secret where connection_id = $1 and field = $2")
                        .execute(Tuple.of(connectionId, e.getKey().column())).replaceWithVoid());
            } else {
                chain = chain.chain(() -> tx.preparedQuery("insert into secret (connection_id, field, ciphertext, "
                        + "updated_at) values ($1, $2, $3, $4) on conflict (connection_id, field) do update set "
                        + "ciphertext = excluded.ciphertext, updated_at = excluded.updated_at")
                        .execute(Tuple.of(connectionId, e.getKey().column(), io.vertx.core.buffer.Buffer.buffer(e.getValue()),
                                ts(at)))
                        .replaceWithVoid());
            }
        }
        return chain;
    }

    /** One page of connections of an app, ordered by portal id, after the cursor portal id. */
    Uni<List<Connection>> list(String app, ConnectionFilter filter, long afterPortalId,
            Optional<List<Long>> onlyPortals, int limit) {
        StringBuilder sql = new StringBuilder("select " + COLUMNS + " from connection c where c.app = $1 "
                + "and c.portal_id > $2");
        List<Object> params = new ArrayList<>(List.of(app, afterPortalId));
        filter.status().ifPresent(s -> {
            params.add(s.value());
            sql.append(" and c.status = $").append(params.size());
        });
        filter.authType().ifPresent(t -> {
            params.add(t.value());
            sql.append(" and c.auth_type = $").append(params.size());
        });
        filter.storedBefore().ifPresent(before -> {
            // tokenAge exists for static credentials only
            params.add(ts(before));
            sql.append(" and c.auth_type in ('private_app', 'service_key') and c.installed_at < $")
                    .append(params.size());
        });
        onlyPortals.ifPresent(p -> {
            params.add(p.toArray(Long[]::new));
            sql.append(" and c.portal_id = any($").append(params.size()).append(")");
        });
        params.add(limit);
        sql.append(" order by c.portal_id limit $").append(params.size());
        return pool.preparedQuery(sql.toString()).execute(Tuple.from(params))
                .map(rows -> {
                    List<Connection> out = new ArrayList<>();
                    rows.forEach(r -> out.add(connection(r)));
                    return out;
                });
    }

    // ---- refresh leases ---------------------------------------------------------------------------------------

    /**
     * Takes the refresh lease of an active OAuth connection unless another owner holds an unexpired one. Returns the
     * connection when claimed.
     */
    Uni<Optional<Connection>> claimLease(String app, long portalId, LeaseOwner owner, Instant now, Instant until) {
        return pool.preparedQuery("update connection c set lease_owner = $3, lease_until = $5 "
                + "where c.app = $1 and c.portal_id = $2 and c.auth_type = 'oauth' and c.status = 'active' "
                + "and (c.lease_until is null or c.lease_until < $4 or c.lease_owner = $3 or "
                + LeaseOwner.previousProcessOf("c.lease_owner", 6, 7) + ") returning " + COLUMNS)
                .execute(Tuple.from(new Object[] { app, portalId, owner.id(), ts(now), ts(until), owner.reclaimPrefix(),
                        owner.startedAtMillis() }))
                .map(rows -> first(rows).map(ConnectionRepository::connection));
    }

    /** Claims up to {@code limit} due connections (FOR UPDATE SKIP LOCKED: replicas never claim the same row). */
    Uni<List<Connection>> claimDue(LeaseOwner owner, Instant now, Instant until, int limit) {
        return pool.preparedQuery("update connection c set lease_owner = $1, lease_until = $3 "
                + "where c.id in (select id from connection where status = 'active' and auth_type = 'oauth' "
                + "and next_refresh_at <= $2 and (lease_until is null or lease_until < $2 or "
                + LeaseOwner.previousProcessOf("lease_owner", 5, 6) + ") "
                + "order by next_refresh_at limit $4 for update skip locked) returning " + COLUMNS)
                .execute(Tuple.from(new Object[] { owner.id(), ts(now), ts(until), limit, owner.reclaimPrefix(),
                        owner.startedAtMillis() }))
                .map(rows -> {
                    List<Connection> out = new ArrayList<>();
                    rows.forEach(r -> out.add(connection(r)));
                    return out;
                });
    }

    /** The wrapped data keys of these connections (those that have one). */
    Uni<List<WrappedKey>> wrappedKeys(List<Long> connectionIds) {
        return pool.preparedQuery("select wrapped, key_version from data_key where connection_id = any($1)")
                .execute(Tuple.of(connectionIds.toArray(Long[]::new)))
                .map(rows -> {
                    List<WrappedKey> out = new ArrayList<>();
                    rows.forEach(r -> out.add(new WrappedKey(r.getString("wrapped"), r.getString("key_version"))));
                    return out;
                });
    }

    Uni<Boolean> releaseLease(long id, String owner) {
        return pool.preparedQuery("update connection set lease_owner = null, lease_until = null "
                + "where id = $1 and lease_owner = $2")
                .execute(Tuple.of(id, owner)).map(rows -> rows.rowCount() == 1);
    }

    /** Stores a refresh result, only while still holding the lease. */
    Uni<Boolean> completeRefresh(SqlClient tx, long id, String owner, Instant now, Instant expiresAt,
            Instant nextRefreshAt, List<String> scopes) {
        return tx.preparedQuery("update connection set access_expires_at = $3, last_refresh_at = $4, "
                + "next_refresh_at = $5, scopes = coalesce($6, scopes), refresh_failures = 0, last_error = null, "
                + "lease_owner = null, lease_until = null, updated_at = $4, version = version + 1 "
                + "where id = $1 and lease_owner = $2")
                .execute(Tuple.from(new Object[] { id, owner, ts(expiresAt), ts(now), ts(nextRefreshAt),
                        scopes == null || scopes.isEmpty() ? null : scopes.toArray(String[]::new) }))
                .map(rows -> rows.rowCount() == 1);
    }

    /** Replaces the refresh token only while the stored one is {@code expected} (compare-and-set on the ciphertext). */
    Uni<Boolean> replaceRefreshToken(SqlClient tx, long id, byte[] expected, byte[] replacement, Instant now) {
        return tx.preparedQuery("update secret set ciphertext = $3, updated_at = $4 where connection_id = $1 "
                + "and field = 'refresh_token' and ciphertext = $2")
                .execute(Tuple.of(id, io.vertx.core.buffer.Buffer.buffer(expected),
                        io.vertx.core.buffer.Buffer.buffer(replacement), ts(now)))
                .map(rows -> rows.rowCount() == 1);
    }

    /**
     * The connection side of {@link #replaceRefreshToken}: active, fresh expiry, failures cleared, and the lease let
     * go if it is still {@code owner}'s (another owner's lease stays: its result will be discarded or compared).
     */
    Uni<Void> completeRotatedRefresh(SqlClient tx, long id, String owner, Instant now, Instant expiresAt,
            Instant nextRefreshAt, List<String> scopes) {
        return tx.preparedQuery("update connection set status = 'active', access_expires_at = $3, last_refresh_at = $4, "
                + "next_refresh_at = $5, scopes = coalesce($6, scopes), refresh_failures = 0, last_error = null, "
                + "lease_owner = case when lease_owner = $2 then null else lease_owner end, "
                + "lease_until = case when lease_owner = $2 then null else lease_until end, "
                + "updated_at = $4, version = version + 1 where id = $1")
                .execute(Tuple.from(new Object[] { id, owner, ts(expiresAt), ts(now), ts(nextRefreshAt),
                        scopes == null || scopes.isEmpty() ? null : scopes.toArray(String[]::new) }))
                .replaceWithVoid();
    }

    /** HubSpot rejected the refresh token: needs_reauth, no more scheduled refreshes. */
    Uni<Boolean> markNeedsReauth(SqlClient tx, long id, String owner, Instant now, String error) {
        return tx.preparedQuery("update connection set status = 'needs_reauth', next_refresh_at = null, "
                + "refresh_failures = refresh_failures + 1, last_error = $3, lease_owner = null, lease_until = null, "
                + "updated_at = $4, version = version + 1 where id = $1 and lease_owner = $2")
                .execute(Tuple.of(id, owner, error, ts(now))).map(rows -> rows.rowCount() == 1);
    }

    /** A transient failure: counted, retried at {@code nextAttempt}. */
    Uni<Boolean> recordRefreshFailure(long id, String owner, Instant now, String error, Instant nextAttempt) {
        return pool.preparedQuery("update connection set refresh_failures = refresh_failures + 1, last_error = $3, "
                + "next_refresh_at = $5, lease_owner = null, lease_until = null, updated_at = $4 "
                + "where id = $1 and lease_owner = $2")
                .execute(Tuple.of(id, owner, error, ts(now), ts(nextAttempt))).map(rows -> rows.rowCount() == 1);
    }

    Uni<Void> notifyChanged(SqlClient client, String app, long portalId) {
        return client.preparedQuery("select pg_notify('" + CHANNEL + "', $1)")
                .execute(Tuple.of(app + "/" + portalId)).replaceWithVoid();
    }

    static final String CHANNEL = "tokenvault_connection_changed";

    // ---- erasure -----------------------------------------------------------------------------------------------

    /** Crypto-shreds first (the wrapped data key), then removes the row with its secrets (cascade). */
    Uni<Boolean> erase(SqlClient tx, long id) {
        return tx.preparedQuery("delete from data_key where connection_id = $1").execute(Tuple.of(id))
                .chain(() -> tx.preparedQuery("delete from connection where id = $1").execute(Tuple.of(id)))
                .map(rows -> rows.rowCount() == 1);
    }

    /**
     * Locks the connection's row for the rest of the transaction (a concurrent re-install waits) and returns when it
     * was installed, or empty when it is gone.
     */
    Uni<Optional<Instant>> lockInstalledAt(SqlClient tx, long id) {
        return tx.preparedQuery("select installed_at from connection where id = $1 for update").execute(Tuple.of(id))
                .map(rows -> first(rows).map(r -> instant(r, "installed_at")));
    }

    Uni<Long> insertPendingRevocation(SqlClient tx, String app, long portalId, WrappedKey key, byte[] sealed,
            Instant now) {
        return tx.preparedQuery("insert into pending_revocation (app, portal_id, wrapped_key, key_version, ciphertext, "
                + "created_at, next_attempt_at) values ($1, $2, $3, $4, $5, $6, $6) returning id")
                .execute(Tuple.of(app, portalId, key.ciphertext(), key.keyVersion(),
                        io.vertx.core.buffer.Buffer.buffer(sealed), ts(now)))
                .map(rows -> rows.iterator().next().getLong("id"));
    }

    record PendingRevocation(long id, String app, long portalId, WrappedKey key, byte[] sealed, int attempts,
            Instant createdAt) {
    }

    /** Claims due pending revocations by pushing their next attempt out (a lease without a held lock). */
    Uni<List<PendingRevocation>> claimPendingRevocations(Instant now, Instant leaseUntil, int limit,
            Optional<Long> onlyId) {
        return pool.preparedQuery("update pending_revocation set next_attempt_at = $2, attempts = attempts + 1 "
                + "where id in (select id from pending_revocation where next_attempt_at <= $1 "
                + "and ($4::bigint is null or id = $4) order by next_attempt_at limit $3 for update skip locked) "
                + "returning id, app, portal_id, wrapped_key, key_version, ciphertext, attempts, created_at")
                .execute(Tuple.of(ts(now), ts(leaseUntil), limit, onlyId.orElse(null)))
                .map(rows -> {
                    List<PendingRevocation> out = new ArrayList<>();
                    rows.forEach(r -> out.add(new PendingRevocation(r.getLong("id"), r.getString("app"),
                            r.getLong("portal_id"), new WrappedKey(r.getString("wrapped_key"),
                                    r.getString("key_version")),
                            r.getBuffer("ciphertext").getBytes(), r.getInteger("attempts"),
                            instant(r, "created_at"))));
                    return out;
                });
    }

    Uni<Void> deletePendingRevocation(long id) {
        return pool.preparedQuery("delete from pending_revocation where id = $1").execute(Tuple.of(id))
                .replaceWithVoid();
    }

    Uni<Void> postponePendingRevocation(long id, Instant next, String error) {
        return pool.preparedQuery("update pending_revocation set next_attempt_at = $2, last_error = $3 where id = $1")
                .execute(Tuple.of(id, ts(next), error)).replaceWithVoid();
    }

    // ---- data keys (rewrap) --------------------------------------------------------------------------------

    /** A wrapped data key and the id of its row: a connection id, or a pending revocation id. */
    record DataKeyRow(long id, WrappedKey wrapped) {
    }

    Uni<List<DataKeyRow>> dataKeysNotAt(String keyVersion, long afterConnectionId, int limit) {
        return pool.preparedQuery("select connection_id, wrapped, key_version from data_key "
                + "where key_version <> $1 and connection_id > $2 order by connection_id limit $3")
                .execute(Tuple.of(keyVersion, afterConnectionId, limit))
                .map(rows -> {
                    List<DataKeyRow> out = new ArrayList<>();
                    rows.forEach(r -> out.add(new DataKeyRow(r.getLong("connection_id"),
                            new WrappedKey(r.getString("wrapped"), r.getString("key_version")))));
                    return out;
                });
    }

    /** Data keys (of connections and of pending revocations) not wrapped under {@code keyVersion}. */
    Uni<Long> countDataKeysNotAt(String keyVersion) {
        return pool.preparedQuery("select (select count(*) from data_key where key_version <> $1) "
                + "+ (select count(*) from pending_revocation where key_version <> $1)")
                .execute(Tuple.of(keyVersion)).map(rows -> rows.iterator().next().getLong(0));
    }

    /** Pending revocations whose data key is not wrapped under {@code keyVersion}. */
    Uni<List<DataKeyRow>> pendingKeysNotAt(String keyVersion, long afterId, int limit) {
        return pool.preparedQuery("select id, wrapped_key, key_version from pending_revocation "
                + "where key_version <> $1 and id > $2 order by id limit $3")
                .execute(Tuple.of(keyVersion, afterId, limit))
                .map(rows -> {
                    List<DataKeyRow> out = new ArrayList<>();
                    rows.forEach(r -> out.add(new DataKeyRow(r.getLong("id"),
                            new WrappedKey(r.getString("wrapped_key"), r.getString("key_version")))));
                    return out;
                });
    }

    /** Compare-and-set on a pending revocation's wrapped key. */
    Uni<Boolean> replacePendingKey(long id, WrappedKey from, WrappedKey to) {
        return pool.preparedQuery("update pending_revocation set wrapped_key = $3, key_version = $4 "
                + "where id = $1 and wrapped_key = $2")
                .execute(Tuple.of(id, from.ciphertext(), to.ciphertext(), to.keyVersion()))
                .map(rows -> rows.rowCount() == 1);
    }

    Uni<Map<String, Long>> countDataKeysByVersion() {
        // pending revocations hold wrapped data keys too: a version still used by one must not be retired
        return pool.query("select key_version, count(*) from (select key_version from data_key "
                + "union all select key_version from pending_revocation) k group by key_version").execute()
                .map(rows -> {
                    Map<String, Long> out = new java.util.TreeMap<>();
                    rows.forEach(r -> out.put(r.getString(0), r.getLong(1)));
                    return out;
                });
    }

    /** Compare-and-set: replaces a wrapped key only if it is still the one that was rewrapped. */
    Uni<Boolean> replaceDataKey(long connectionId, WrappedKey from, WrappedKey to, Instant at) {
        return pool.preparedQuery("update data_key set wrapped = $3, key_version = $4, rewrapped_at = $5 "
                + "where connection_id = $1 and wrapped = $2")
                .execute(Tuple.of(connectionId, from.ciphertext(), to.ciphertext(), to.keyVersion(), ts(at)))
                .map(rows -> rows.rowCount() == 1);
    }

    // ---- mapping ---------------------------------------------------------------------------------------------

    static Optional<Row> first(RowSet<Row> rows) {
        var it = rows.iterator();
        return it.hasNext() ? Optional.of(it.next()) : Optional.empty();
    }

    static Connection connection(Row r) {
        String[] scopes = r.getArrayOfStrings("scopes");
        return new Connection(r.getLong("id"), r.getString("app"), r.getLong("portal_id"),
                AuthType.of(r.getString("auth_type")), ConnectionStatus.of(r.getString("status")),
                scopes == null ? List.of() : List.of(scopes), r.getString("hub_domain"), r.getString("installed_by"),
                r.getLong("hubspot_app_id"), instant(r, "installed_at"), instant(r, "updated_at"),
                instant(r, "access_expires_at"), instant(r, "last_refresh_at"), instant(r, "next_refresh_at"),
                r.getInteger("refresh_failures"), r.getString("last_error"), r.getLong("version"),
                r.getString("previous_auth_type") == null ? null : AuthType.of(r.getString("previous_auth_type")),
                instant(r, "previous_until"));
    }

    private static StoredConnection stored(Row r) {
        Map<SecretField, byte[]> sealed = new EnumMap<>(SecretField.class);
        putIfPresent(sealed, SecretField.REFRESH_TOKEN, r, "refresh_ct");
        putIfPresent(sealed, SecretField.ACCESS_TOKEN, r, "access_ct");
        putIfPresent(sealed, SecretField.PRIVATE_APP_TOKEN, r, "private_ct");
        putIfPresent(sealed, SecretField.PREVIOUS_STATIC_TOKEN, r, "previous_ct");
        String wrapped = r.getString("wrapped");
        return new StoredConnection(connection(r),
                wrapped == null ? null : new WrappedKey(wrapped, r.getString("key_version")), sealed);
    }

    private static void putIfPresent(Map<SecretField, byte[]> map, SecretField field, Row r, String column) {
        Buffer b = r.getBuffer(column);
        if (b != null) {
            map.put(field, b.getBytes());
        }
    }

    static Instant instant(Row r, String column) {
        OffsetDateTime t = r.getOffsetDateTime(column);
        return t == null ? null : t.toInstant();
    }

    static OffsetDateTime ts(Instant i) {
        return i == null ? null : i.atOffset(ZoneOffset.UTC);
    }
}
