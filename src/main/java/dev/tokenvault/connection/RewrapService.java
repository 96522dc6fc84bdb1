package dev.tokenvault.connection;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import org.jboss.logging.Logger;

import dev.tokenvault.connection.ConnectionRepository.DataKeyRow;
import dev.tokenvault.crypto.CryptoService;
import dev.tokenvault.web.Redacted;
import io.quarkus.runtime.ShutdownEvent;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
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
    /** A running run whose heartbeat (database time) is older than this is considered stopped and may be taken over. */
    static final Duration STALE = Duration.ofMinutes(2);
    static final String STALE_SQL = "interval '2 minutes'";
    /** How often a running run records its progress; well below {@link #STALE}. */
    static final Duration HEARTBEAT = Duration.ofSeconds(20);
    private static final String COLUMNS = "state, owner, target_key_version, total, rewrapped, remaining, started_at, "
            + "heartbeat_at, finished_at, error";

    private final ConnectionRepository repository;
    private final CryptoService crypto;
    private final InstantSource clock;
    private final Pool pool;
    private final Vertx vertx;
    private final String replica = System.getenv().getOrDefault("HOSTNAME", "local") + "-"
            + UUID.randomUUID().toString().substring(0, 8);
    /** The run this replica is going through, if any. */
    private final AtomicReference<String> current = new AtomicReference<>();

    private final dev.tokenvault.db.ScheduledJobs jobs;

    /** Attempts per key: a timed-out or unavailable key service is retried with backoff before the run fails. */
    private final int attempts;

    RewrapService(ConnectionRepository repository, CryptoService crypto, InstantSource clock, Pool pool, Vertx vertx,
            dev.tokenvault.config.TokenVaultConfig config, dev.tokenvault.db.ScheduledJobs jobs) {
        this.jobs = jobs;
        this.attempts = Math.max(1, config.crypto().rewrapAttempts());
        this.repository = repository;
        this.crypto = crypto;
        this.clock = clock;
        this.pool = pool;
        this.vertx = vertx;
    }

    /** The deployment's current or last run ({@code idle} when there never was one). */
    public Uni<RewrapProgress> progress() {
        return pool.query("select " + COLUMNS + ", heartbeat_at < now() - " + STALE_SQL + " as stale "
                + "from rewrap_run where id = 1").execute().map(rows -> {
                    if (rows.size() == 0) {
                        return RewrapProgress.idle();
                    }
                    Row r = rows.iterator().next();
                    RewrapProgress p = new RewrapProgress(r.getString("state"), r.getString("target_key_version"),
                            r.getLong("total"), r.getLong("rewrapped"), r.getLong("remaining"),
                            instant(r, "started_at"), instant(r, "finished_at"), r.getString("error"));
                    if ("running".equals(p.state()) && Boolean.TRUE.equals(r.getBoolean("stale"))) {
                        return p.failed(null, "the run made no progress for " + STALE.toMinutes()
                                + " minutes: the replica running it stopped; start it again");
                    }
                    return p;
                });
    }

    /** The background job: starts a run when some data key is not at the newest key version. */
    @io.quarkus.scheduler.Scheduled(every = "${tokenvault.crypto.rewrap-interval:6H}", delayed = "1m", concurrentExecution = io.quarkus.scheduler.Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> background() {
        return jobs.run("background rewrap check", () -> progress().chain(p -> {
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
        }));
    }

    /**
     * Starts a run, or returns the progress of the run already going (on any replica). Completes once the run has
     * started (or failed to).
     */
    public Uni<RewrapProgress> start() {
        String run = replica + "/" + UUID.randomUUID().toString().substring(0, 8); // one id per claim, not per replica
        return pool.preparedQuery("insert into rewrap_run (id, state, owner, started_at, heartbeat_at, rewrapped) "
                + "values (1, 'running', $1, now(), now(), 0) on conflict (id) do update set state = 'running', "
                + "owner = $1, started_at = now(), heartbeat_at = now(), rewrapped = 0, target_key_version = null, "
                + "total = null, remaining = null, finished_at = null, error = null "
                + "where rewrap_run.state <> 'running' or rewrap_run.heartbeat_at < now() - " + STALE_SQL)
                .execute(Tuple.of(run))
                .chain(claimed -> claimed.rowCount() == 0 ? progress() : begin(run));
    }

    private Uni<RewrapProgress> begin(String run) {
        return crypto.currentKeyVersion()
                .chain(target -> repository.countDataKeysNotAt(target).chain(total -> pool
                        .preparedQuery("update rewrap_run set target_key_version = $2, total = $3, remaining = $3, "
                                + "heartbeat_at = now() where id = 1 and owner = $1 and state = 'running'")
                        .execute(Tuple.of(run, target, total))
                        .chain(updated -> {
                            if (updated.rowCount() == 1) {
                                current.set(run);
                                run(run, target, total);
                            }
                            return progress();
                        })))
                .onFailure().recoverWithUni(e -> {
                    LOG.errorf("rewrap could not start: %s", Redacted.describe(e));
                    return finish(run, "failed", null, null, Redacted.describe(e), null).chain(ignored -> progress())
                            .onFailure().recoverWithItem(new RewrapProgress("failed", null, null, 0L, null,
                                    clock.instant(), clock.instant(), Redacted.describe(e)));
                });
    }

    /**
     * Runs the rewrap to completion in the background. A timer moves the heartbeat every {@link #HEARTBEAT} with the
     * count so far, so that a slow key service does not make a live run look stopped; when the row is no longer this
     * run's, the timer sees it and the run stops after the page in progress.
     */
    private void run(String run, String target, long total) {
        AtomicLong done = new AtomicLong();
        AtomicBoolean lost = new AtomicBoolean();
        long timer = vertx.setPeriodic(HEARTBEAT.toMillis(), id -> heartbeat(run, total, done.get())
                .subscribe().with(ours -> {
                    if (!ours) {
                        lost.set(true);
                    }
                }, e -> LOG.debugf("rewrap heartbeat failed: %s", Redacted.describe(e))));
        pages(target, done, lost, false)
                .chain(() -> pages(target, done, lost, true))
                .chain(() -> lost.get() ? Uni.createFrom().item(0L) : repository.countDataKeysNotAt(target))
                // total = rewrapped + remaining at every moment: keys erased during the run leave the total
                .chain(remaining -> lost.get() ? Uni.createFrom().item(false)
                        : finish(run, "done", done.get() + remaining, remaining, null, done.get()))
                .eventually(() -> {
                    vertx.cancelTimer(timer);
                    current.compareAndSet(run, null);
                })
                .subscribe().with(
                        finished -> {
                            if (finished) {
                                LOG.infof("rewrap to key version %s done: %d keys rewrapped", target, done.get());
                            } else {
                                LOG.warnf("rewrap to key version %s stopped after %d keys: the run is no longer "
                                        + "this replica's", target, done.get());
                            }
                        },
                        e -> {
                            LOG.errorf("rewrap to key version %s failed after %d keys: %s", target, done.get(),
                                    Redacted.describe(e));
                            finish(run, "failed", null, Math.max(0, total - done.get()), Redacted.describe(e),
                                    done.get()).subscribe().with(x -> {
                                    }, x -> LOG.warnf("rewrap failure could not be recorded: %s", Redacted.describe(x)));
                        });
    }

    /** Records progress; false when the row is no longer this run's. */
    private Uni<Boolean> heartbeat(String run, long total, long done) {
        return pool.preparedQuery("update rewrap_run set rewrapped = $2, remaining = $3, heartbeat_at = now() "
                + "where id = 1 and owner = $1 and state = 'running'")
                .execute(Tuple.of(run, done, Math.max(0, total - done)))
                .map(rows -> rows.rowCount() == 1);
    }

    /** Ends the run with this state, if it is still this run's; says whether it was. */
    private Uni<Boolean> finish(String run, String state, Long total, Long remaining, String error, Long rewrapped) {
        return pool.preparedQuery("update rewrap_run set state = $2, remaining = coalesce($3, remaining), "
                + "rewrapped = coalesce($5, rewrapped), total = coalesce($6, total), error = $4, finished_at = now(), "
                + "heartbeat_at = now() where id = 1 and owner = $1 and state = 'running'")
                .execute(Tuple.from(new Object[] { run, state, remaining, error, rewrapped, total }))
                .map(rows -> rows.rowCount() == 1);
    }

    /**
     * A run this replica is going through when it shuts down is marked failed at once, so that the next replica's
     * check (a minute after its start) takes it up instead of waiting for the heartbeat to go stale.
     */
    void onStop(@Observes ShutdownEvent event) {
        String run = current.get();
        if (run != null) {
            try {
                finish(run, "failed", null, null, "the replica running it shut down", null)
                        .await().atMost(Duration.ofSeconds(3));
            } catch (RuntimeException e) {
                LOG.warnf("could not record the interrupted rewrap run: %s", Redacted.describe(e));
            }
        }
    }

    /**
     * Every page of keys behind the target, connections' data keys first ({@code pending}: those of pending
     * revocations), one page after another without recursion, until none is left or the run was lost.
     */
    private Uni<Void> pages(String target, AtomicLong done, AtomicBoolean lost, boolean pending) {
        AtomicLong after = new AtomicLong();
        return Multi.createBy().repeating()
                .uni(() -> lost.get() ? Uni.createFrom().item(0)
                        : (pending ? repository.pendingKeysNotAt(target, after.get(), PAGE)
                                : repository.dataKeysNotAt(target, after.get(), PAGE))
                                .chain(rows -> {
                                    if (rows.isEmpty()) {
                                        return Uni.createFrom().item(0);
                                    }
                                    after.set(rows.get(rows.size() - 1).id());
                                    return rewrapAll(rows, done, pending
                                            ? (row, to) -> repository.replacePendingKey(row.id(), row.wrapped(), to)
                                            : (row, to) -> repository.replaceDataKey(row.id(), row.wrapped(), to,
                                                    clock.instant()))
                                            .replaceWith(rows.size());
                                }))
                .until(n -> n == 0)
                .collect().last().replaceWithVoid();
    }

    private Uni<Void> rewrapAll(List<DataKeyRow> rows, AtomicLong done,
            java.util.function.BiFunction<DataKeyRow, dev.tokenvault.crypto.WrappedKey, Uni<Boolean>> replace) {
        return Multi.createFrom().iterable(rows)
                .onItem().transformToUni(row -> rewrapWithRetries(row)
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

    /**
     * One key, retried with backoff (1 s, doubling, jittered) while the key service times out or is unavailable, at
     * most {@code tokenvault.crypto.rewrap-attempts} times in all. A key the key service refuses (a
     * {@link dev.tokenvault.crypto.CryptoException}) is not retried.
     */
    private Uni<dev.tokenvault.crypto.WrappedKey> rewrapWithRetries(DataKeyRow row) {
        Uni<dev.tokenvault.crypto.WrappedKey> once = Uni.createFrom().deferred(() -> crypto.rewrap(row.wrapped()))
                .onFailure(e -> !(e instanceof dev.tokenvault.crypto.CryptoException))
                .invoke(e -> LOG.debugf("rewrap of data key %d failed (%s); retrying", row.id(), Redacted.describe(e)));
        return attempts <= 1 ? once
                : once.onFailure(e -> !(e instanceof dev.tokenvault.crypto.CryptoException)).retry()
                        .withBackOff(Duration.ofSeconds(1), Duration.ofSeconds(30)).withJitter(0.2)
                        .atMost(attempts - 1);
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
