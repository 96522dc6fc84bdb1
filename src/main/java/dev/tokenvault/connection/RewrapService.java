package dev.tokenvault.connection;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

import jakarta.enterprise.context.ApplicationScoped;

import org.jboss.logging.Logger;

import dev.tokenvault.connection.ConnectionRepository.DataKeyRow;
import dev.tokenvault.crypto.CryptoService;
import dev.tokenvault.web.Redacted;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * Moves every wrapped data key to the newest key version (after a Transit key rotation, or a new local key file).
 * One run at a time in the whole deployment: the run is a row ({@code rewrap_run}) that one replica claims, so a
 * start on any replica while a run is going returns that run's progress. Each key is still replaced by
 * compare-and-set, so a run taken over from a replica that stopped, installs and erasures running meanwhile are all
 * safe. Data ciphertexts are untouched.
 */
@ApplicationScoped
public class RewrapService {

    private static final Logger LOG = Logger.getLogger(RewrapService.class);
    static final int PAGE = 200;
    static final int CONCURRENCY = 8;
    /** A running run whose heartbeat is older than this is considered stopped and may be taken over. */
    static final Duration STALE = Duration.ofMinutes(2);
    private static final String COLUMNS = "state, owner, target_key_version, total, rewrapped, remaining, started_at, "
            + "heartbeat_at, finished_at, error";

    private final ConnectionRepository repository;
    private final CryptoService crypto;
    private final InstantSource clock;
    private final Pool pool;
    private final String owner = System.getenv().getOrDefault("HOSTNAME", "local") + "-"
            + UUID.randomUUID().toString().substring(0, 8);

    RewrapService(ConnectionRepository repository, CryptoService crypto, InstantSource clock, Pool pool) {
        this.repository = repository;
        this.crypto = crypto;
        this.clock = clock;
        this.pool = pool;
    }

    /** The deployment's current or last run ({@code idle} when there never was one). */
    public Uni<RewrapProgress> progress() {
        return pool.query("select " + COLUMNS + " from rewrap_run where id = 1").execute().map(rows -> {
            if (rows.size() == 0) {
                return RewrapProgress.idle();
            }
            Row r = rows.iterator().next();
            RewrapProgress p = new RewrapProgress(r.getString("state"), r.getString("target_key_version"),
                    r.getLong("total"), r.getLong("rewrapped"), r.getLong("remaining"), instant(r, "started_at"),
                    instant(r, "finished_at"), r.getString("error"));
            if ("running".equals(p.state()) && stale(instant(r, "heartbeat_at"))) {
                return p.failed(null, "the run made no progress for " + STALE.toMinutes()
                        + " minutes: the replica running it stopped; start it again");
            }
            return p;
        });
    }

    /** The background job: starts a run when some data key is not at the newest key version. */
    @io.quarkus.scheduler.Scheduled(every = "${tokenvault.crypto.rewrap-interval:6H}", delayed = "1m", concurrentExecution = io.quarkus.scheduler.Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> background() {
        return progress().chain(p -> {
            if ("running".equals(p.state())) {
                return Uni.createFrom().voidItem();
            }
            return crypto.currentKeyVersion()
                    .chain(repository::countDataKeysNotAt)
                    .chain(behind -> {
                        if (behind == 0) {
                            return Uni.createFrom().voidItem();
                        }
                        LOG.infof("%d data keys are wrapped under an older key version: rewrapping", behind);
                        return start().replaceWithVoid();
                    });
        }).onFailure().recoverWithNull().replaceWithVoid();
    }

    /**
     * Starts a run, or returns the progress of the run already going (on any replica). Completes once the run has
     * started (or failed to).
     */
    public Uni<RewrapProgress> start() {
        Instant now = clock.instant();
        return pool.preparedQuery("insert into rewrap_run (id, state, owner, started_at, heartbeat_at, rewrapped) "
                + "values (1, 'running', $1, $2, $2, 0) on conflict (id) do update set state = 'running', owner = $1, "
                + "started_at = $2, heartbeat_at = $2, rewrapped = 0, target_key_version = null, total = null, "
                + "remaining = null, finished_at = null, error = null "
                + "where rewrap_run.state <> 'running' or rewrap_run.heartbeat_at < $3")
                .execute(Tuple.of(owner, at(now), at(now.minus(STALE))))
                .chain(claimed -> claimed.rowCount() == 0 ? progress() : begin(now));
    }

    private Uni<RewrapProgress> begin(Instant startedAt) {
        return crypto.currentKeyVersion()
                .chain(target -> repository.countDataKeysNotAt(target).chain(total -> pool
                        .preparedQuery("update rewrap_run set target_key_version = $2, total = $3, remaining = $3, "
                                + "heartbeat_at = $4 where id = 1 and owner = $1")
                        .execute(Tuple.of(owner, target, total, at(clock.instant())))
                        .map(ignored -> {
                            run(target, total);
                            return new RewrapProgress("running", target, total, 0L, total, startedAt, null, null);
                        })))
                .onFailure().recoverWithUni(e -> {
                    LOG.errorf("rewrap could not start: %s", Redacted.describe(e));
                    return finish("failed", null, Redacted.describe(e)).chain(this::progress)
                            .onFailure().recoverWithItem(RewrapProgress.idle().failed(clock.instant(),
                                    Redacted.describe(e)));
                });
    }

    /** Runs the rewrap to completion in the background. */
    private void run(String target, long total) {
        AtomicLong done = new AtomicLong();
        page(target, 0L, total, done)
                .chain(() -> repository.countDataKeysNotAt(target))
                .chain(remaining -> finish("done", remaining, null))
                .subscribe().with(
                        ignored -> LOG.infof("rewrap to key version %s done: %d keys rewrapped", target, done.get()),
                        e -> {
                            if (e instanceof LostRun) {
                                LOG.warnf("rewrap to key version %s: another replica took the run over", target);
                                return;
                            }
                            LOG.errorf("rewrap to key version %s failed: %s", target, Redacted.describe(e));
                            finish("failed", null, Redacted.describe(e)).subscribe().with(x -> {
                            }, x -> LOG.warnf("rewrap failure could not be recorded: %s", Redacted.describe(x)));
                        });
    }

    /** This replica's run was taken over (its heartbeat went stale): stop. */
    private static final class LostRun extends RuntimeException {
        LostRun() {
            super("rewrap run taken over by another replica", null, false, false);
        }
    }

    /** Records progress (and that this replica is alive); fails with {@link LostRun} when the run is not ours. */
    private Uni<Void> heartbeat(long total, long done) {
        return pool.preparedQuery("update rewrap_run set rewrapped = $2, remaining = $3, heartbeat_at = $4 "
                + "where id = 1 and owner = $1 and state = 'running'")
                .execute(Tuple.of(owner, done, Math.max(0, total - done), at(clock.instant())))
                .map(rows -> {
                    if (rows.rowCount() == 0) {
                        throw new LostRun();
                    }
                    return null;
                });
    }

    private Uni<Void> finish(String state, Long remaining, String error) {
        return pool.preparedQuery("update rewrap_run set state = $2, remaining = coalesce($3, remaining), "
                + "error = $4, finished_at = $5, heartbeat_at = $5 where id = 1 and owner = $1 and state = 'running'")
                .execute(Tuple.of(owner, state, remaining, error, at(clock.instant()))).replaceWithVoid();
    }

    /** Connections' data keys first, then those of pending revocations. */
    private Uni<Void> page(String target, long afterId, long total, AtomicLong done) {
        return repository.dataKeysNotAt(target, afterId, PAGE).chain(rows -> {
            if (rows.isEmpty()) {
                return pendingPage(target, 0L, total, done);
            }
            long last = rows.get(rows.size() - 1).id();
            return rewrapAll(rows, done, (row, to) -> repository.replaceDataKey(row.id(), row.wrapped(), to,
                    clock.instant()))
                    .chain(() -> heartbeat(total, done.get()))
                    .chain(() -> page(target, last, total, done));
        });
    }

    private Uni<Void> pendingPage(String target, long afterId, long total, AtomicLong done) {
        return repository.pendingKeysNotAt(target, afterId, PAGE).chain(rows -> {
            if (rows.isEmpty()) {
                return Uni.createFrom().voidItem();
            }
            long last = rows.get(rows.size() - 1).id();
            return rewrapAll(rows, done, (row, to) -> repository.replacePendingKey(row.id(), row.wrapped(), to))
                    .chain(() -> heartbeat(total, done.get()))
                    .chain(() -> pendingPage(target, last, total, done));
        });
    }

    private Uni<Void> rewrapAll(List<DataKeyRow> rows, AtomicLong done,
            java.util.function.BiFunction<DataKeyRow, dev.tokenvault.crypto.WrappedKey, Uni<Boolean>> replace) {
        return Multi.createFrom().iterable(rows)
                .onItem().transformToUni(row -> crypto.rewrap(row.wrapped())
                        .chain(to -> replace.apply(row, to)
                                .invoke(replaced -> {
                                    if (replaced) {
                                        crypto.forget(row.wrapped());
                                        done.incrementAndGet();
                                    }
                                })))
                .merge(CONCURRENCY)
                .collect().last().replaceWithVoid();
    }

    private boolean stale(Instant heartbeat) {
        return heartbeat == null || heartbeat.isBefore(clock.instant().minus(STALE));
    }

    private static OffsetDateTime at(Instant instant) {
        return instant.atOffset(ZoneOffset.UTC);
    }

    private static Instant instant(Row r, String column) {
        OffsetDateTime t = r.getOffsetDateTime(column);
        return t == null ? null : t.toInstant();
    }

    /** Progress of the deployment's current or last rewrap run. */
    public record RewrapProgress(String state, String targetKeyVersion, Long total, Long rewrapped, Long remaining,
            Instant startedAt, Instant finishedAt, String error) {

        static RewrapProgress idle() {
            return new RewrapProgress("idle", null, null, null, null, null, null, null);
        }

        RewrapProgress failed(Instant at, String why) {
            return new RewrapProgress("failed", targetKeyVersion, total, rewrapped, remaining, startedAt, at, why);
        }
    }
}
