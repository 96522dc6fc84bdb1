package dev.tokenvault.budget;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowIterator;
import io.vertx.mutiny.sqlclient.SqlClient;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * SQL for {@code rate_budget}. Every time is the database's {@code clock_timestamp()} in epoch milliseconds, so the
 * replicas' clocks never matter.
 */
final class BudgetRepository {

    private static final String NOW_MS = "floor(extract(epoch from clock_timestamp()) * 1000)::bigint as now_ms";
    private static final String COLUMNS = "b.grants, b.calls, b.interval_ms, "
            + "floor(extract(epoch from b.paused_until) * 1000)::bigint as paused_ms";
    private static final String KEY = "b.app = $1 and b.portal_id = $2 and b.kind = $3";

    /** A budget row as read, with the database's time of the read. */
    record Stored(long nowMs, long[] grants, Integer calls, Long intervalMs, Long pausedUntilMs) {

        /** The learned shape, or the configured one where nothing was learned. */
        BudgetShape shape(BudgetShape configured) {
            return new BudgetShape(calls == null ? configured.calls() : calls,
                    intervalMs == null ? configured.intervalMs() : intervalMs);
        }

        boolean pausedAt(long ms) {
            return pausedUntilMs != null && pausedUntilMs > ms;
        }
    }

    private final Pool pool;

    BudgetRepository(Pool pool) {
        this.pool = pool;
    }

    Pool pool() {
        return pool;
    }

    /**
     * Locks the budget's row for the rest of the transaction, creating it first when absent. The time is read after
     * the lock was granted when another transaction held it (PostgreSQL evaluates the row again then); in any case
     * {@link BudgetWindow#grantTime()} never logs a grant before the newest one, which keeps the log ordered.
     */
    Uni<Stored> lock(SqlClient tx, BudgetKey key) {
        return selectForUpdate(tx, key).chain(found -> found != null ? Uni.createFrom().item(found)
                : tx.preparedQuery("insert into rate_budget (app, portal_id, kind) values ($1, $2, $3) "
                        + "on conflict (app, portal_id, kind) do nothing")
                        .execute(tuple(key))
                        .chain(() -> selectForUpdate(tx, key))
                        .map(row -> {
                            if (row == null) {
                                throw new IllegalStateException("rate_budget row vanished after its insert");
                            }
                            return row;
                        }));
    }

    private Uni<Stored> selectForUpdate(SqlClient tx, BudgetKey key) {
        return tx.preparedQuery("select " + COLUMNS + ", " + NOW_MS + " from rate_budget b where " + KEY
                + " for update")
                .execute(tuple(key))
                .map(rows -> {
                    RowIterator<Row> it = rows.iterator();
                    return it.hasNext() ? stored(it.next()) : null;
                });
    }

    /** The budget without a lock (null columns when it has no row yet). */
    Uni<Stored> read(BudgetKey key) {
        return pool.preparedQuery("select " + COLUMNS + ", " + NOW_MS + " from (values (1)) v "
                + "left join rate_budget b on " + KEY)
                .execute(tuple(key))
                .map(rows -> stored(rows.iterator().next()));
    }

    /** Writes the log and the learned shape of a locked row. */
    Uni<Void> write(SqlClient tx, BudgetKey key, long[] grants, Integer calls, Long intervalMs) {
        Long[] boxed = new Long[grants.length];
        for (int i = 0; i < grants.length; i++) {
            boxed[i] = grants[i];
        }
        return tx.preparedQuery("update rate_budget b set grants = $4, calls = $5, interval_ms = $6, "
                + "updated_at = clock_timestamp() where " + KEY)
                .execute(Tuple.from(new Object[] { key.app(), key.portalId(), key.kind().column(), boxed, calls,
                        intervalMs }))
                .replaceWithVoid();
    }

    /**
     * No grant before {@code millis} from now (database clock), or a later pause already stored. One statement, no
     * transaction: creates the row when absent.
     */
    Uni<Void> pause(BudgetKey key, long millis) {
        return pool.preparedQuery("insert into rate_budget as b (app, portal_id, kind, paused_until) "
                + "values ($1, $2, $3, clock_timestamp() + make_interval(secs => $4::bigint / 1000.0)) "
                + "on conflict (app, portal_id, kind) do update set "
                + "paused_until = greatest(b.paused_until, excluded.paused_until), updated_at = clock_timestamp()")
                .execute(Tuple.of(key.app(), key.portalId(), key.kind().column(), millis))
                .replaceWithVoid();
    }

    private static Tuple tuple(BudgetKey key) {
        return Tuple.of(key.app(), key.portalId(), key.kind().column());
    }

    private static Stored stored(Row row) {
        Long[] boxed = row.getArrayOfLongs("grants");
        long[] grants = new long[boxed == null ? 0 : boxed.length];
        for (int i = 0; i < grants.length; i++) {
            grants[i] = boxed[i];
        }
        return new Stored(row.getLong("now_ms"), grants, row.getInteger("calls"), row.getLong("interval_ms"),
                row.getLong("paused_ms"));
    }
}
