package dev.tokenvault.audit;

import java.time.InstantSource;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import org.jboss.logging.Logger;

import dev.tokenvault.metrics.Metrics;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * The audit trail. {@link #record} only enqueues, so the hot path never waits on the database; a scheduled flusher
 * writes queued events in batches. A failed write keeps the events queued for the next attempt and is counted in
 * {@code tokenvault_audit_write_failures_total}; nothing is dropped silently.
 */
@ApplicationScoped
public class AuditLog {

    private static final Logger LOG = Logger.getLogger(AuditLog.class);
    static final int BATCH = 1000;
    /** Batches written at once (on separate pooled connections) when the queue is long. */
    static final int PARALLEL_BATCHES = 4;
    /** Above this backlog (database down for long), events are still kept, and an error is logged once. */
    static final int BACKLOG_WARNING = 100_000;

    private final Pool pool;
    private final InstantSource clock;
    private final Metrics metrics;
    private final ConcurrentLinkedQueue<AuditEvent> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger size = new AtomicInteger();
    /** The flush in progress, if any: a new flush waits for it, so "flushed" always means written. */
    private final java.util.concurrent.atomic.AtomicReference<java.util.concurrent.CompletableFuture<Void>> inFlight = new java.util.concurrent.atomic.AtomicReference<>();
    private final AtomicBoolean backlogWarned = new AtomicBoolean();

    AuditLog(Pool pool, InstantSource clock, Metrics metrics) {
        this.pool = pool;
        this.clock = clock;
        this.metrics = metrics;
    }

    public void record(String sub, String app, Long portalId, String action, String outcome, String detail) {
        queue.add(new AuditEvent(clock.instant(), sub, app, portalId, action, outcome, detail));
        if (size.incrementAndGet() > BACKLOG_WARNING && backlogWarned.compareAndSet(false, true)) {
            LOG.errorf("audit backlog above %d events: audit writes are not keeping up (database slow or "
                    + "unavailable, or a load above the writer's throughput); events are kept in memory", BACKLOG_WARNING);
        }
    }

    /** Events waiting to be written. */
    public int pending() {
        return size.get();
    }

    @Scheduled(every = "${tokenvault.audit.flush-interval:1s}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> scheduledFlush() {
        return flush();
    }

    /** Writes everything queued so far; completes when written (or failed and re-queued). */
    public Uni<Void> flush() {
        return Uni.createFrom().deferred(() -> {
            java.util.concurrent.CompletableFuture<Void> mine = new java.util.concurrent.CompletableFuture<>();
            java.util.concurrent.CompletableFuture<Void> previous = inFlight.getAndSet(mine);
            Uni<Void> before = previous == null ? Uni.createFrom().voidItem()
                    : Uni.createFrom().completionStage(previous).onFailure().recoverWithNull().replaceWithVoid();
            return before.chain(this::flushBatches).eventually(() -> {
                mine.complete(null);
                inFlight.compareAndSet(mine, null);
            });
        });
    }

    /** Drains the queue, up to {@link #PARALLEL_BATCHES} batches at a time, until it is empty or a write fails. */
    private Uni<Void> flushBatches() {
        List<List<AuditEvent>> batches = new ArrayList<>();
        for (int i = 0; i < PARALLEL_BATCHES; i++) {
            List<AuditEvent> batch = new ArrayList<>(BATCH);
            AuditEvent e;
            while (batch.size() < BATCH && (e = queue.poll()) != null) {
                batch.add(e);
            }
            if (batch.isEmpty()) {
                break;
            }
            batches.add(batch);
        }
        if (batches.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return Uni.join().all(batches.stream().map(this::write).toList()).andCollectFailures()
                .chain(written -> written.stream().allMatch(Boolean::booleanValue) ? flushBatches()
                        : Uni.createFrom().voidItem());
    }

    /** Writes one batch; on failure the events go back to the queue. Never fails: says whether it was written. */
    private Uni<Boolean> write(List<AuditEvent> batch) {
        List<Tuple> rows = new ArrayList<>(batch.size());
        for (AuditEvent ev : batch) {
            rows.add(Tuple.from(new Object[] { ev.at().atOffset(ZoneOffset.UTC), ev.sub(), ev.app(), ev.portalId(),
                    ev.action(), ev.outcome(), ev.detail() }));
        }
        return pool.preparedQuery("insert into audit_log (at, sub, app, portal_id, action, outcome, detail) "
                + "values ($1, $2, $3, $4, $5, $6, $7)")
                .executeBatch(rows)
                .map(ignored -> {
                    size.addAndGet(-batch.size());
                    if (size.get() < BACKLOG_WARNING) {
                        backlogWarned.set(false);
                    }
                    return true;
                })
                .onFailure().recoverWithItem(failure -> {
                    metrics.auditWriteFailed();
                    LOG.warnf("audit write of %d events failed (%s); they stay queued and are retried",
                            batch.size(), failure.getClass().getSimpleName());
                    queue.addAll(batch);
                    return false;
                });
    }

    void onStop(@Observes ShutdownEvent event) {
        if (size.get() > 0) {
            try {
                flush().await().atMost(java.time.Duration.ofSeconds(5));
            } catch (RuntimeException e) {
                LOG.errorf("%d audit events could not be written at shutdown", size.get());
            }
        }
    }
}
