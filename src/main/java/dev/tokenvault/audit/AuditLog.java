package dev.tokenvault.audit;

import java.time.Instant;
import java.time.InstantSource;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import org.jboss.logging.Logger;

import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.metrics.Metrics;
import dev.tokenvault.web.ApiException;
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
    static final java.time.Duration RETRY_AFTER = java.time.Duration.ofSeconds(5);
    static final java.time.Duration WRITE_TIMEOUT = java.time.Duration.ofSeconds(30);
    /** Batches written at once (on separate pooled connections) when the queue is long. */
    static final int PARALLEL_BATCHES = 4;

    private final Pool pool;
    private final InstantSource clock;
    private final Metrics metrics;
    private final ConcurrentLinkedQueue<AuditEvent> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger size;
    private final int maxBacklog;
    /** The flush in progress, if any: a new flush waits for it, so a completed flush has written or re-queued all. */
    private final java.util.concurrent.atomic.AtomicReference<java.util.concurrent.CompletableFuture<Void>> inFlight = new java.util.concurrent.atomic.AtomicReference<>();
    private final AtomicBoolean backlogWarned = new AtomicBoolean();
    private volatile boolean lastWriteFailed;
    private final java.util.concurrent.atomic.AtomicLong earlyFlushes = new java.util.concurrent.atomic.AtomicLong();
    /** Unauthenticated events of the current second, tallied as they come: one record per key and second. */
    private final java.util.concurrent.ConcurrentHashMap<TallyKey, Tally> tallies = new java.util.concurrent.ConcurrentHashMap<>();
    /** Records of unauthenticated events started in the current second, per app. */
    private final java.util.concurrent.ConcurrentHashMap<String, Window> windows = new java.util.concurrent.ConcurrentHashMap<>();
    private final int anonymousPerSecond;

    AuditLog(Pool pool, InstantSource clock, Metrics metrics, TokenVaultConfig config) {
        this.pool = pool;
        this.clock = clock;
        this.metrics = metrics;
        this.size = metrics.auditPending();
        this.maxBacklog = config.audit().maxBacklog();
        this.anonymousPerSecond = config.audit().anonymousRecordsPerSecond();
    }

    /**
     * Queues an event. Never drops one: callers that can wait check {@link #requireAccepting()} first. Every full batch
     * starts a flush at once (unless one is running, which drains the queue anyway, or the last write failed, which
     * the scheduled flush retries), so under load the queue stays short: fewer events lost in a crash, and fewer
     * objects for the garbage collector to copy.
     */
    public void record(String sub, String app, Long portalId, String action, String outcome, String detail) {
        queue.add(new AuditEvent(clock.instant(), sub, app, portalId, action, outcome, detail));
        if (size.incrementAndGet() % BATCH == 0 && inFlight.get() == null && !lastWriteFailed) {
            earlyFlushes.incrementAndGet();
            flush(false).subscribe().with(ignored -> {
            }, failure -> LOG.debugf("early audit flush: %s", failure.getClass().getSimpleName()));
        }
    }

    /**
     * For events that anyone can cause without being authorised (refused webhooks, failed installs, hand-out requests
     * with bad parameters): queued while the
     * backlog has room; above it they are counted in {@code tokenvault_audit_dropped_total} and not queued, so a flood
     * during a database outage cannot exhaust memory.
     * <p>
     * Events without a caller and portal whose action and outcome are in {@link #TALLIED} (refused webhooks, failed
     * installs: anyone on the internet can cause them) are tallied as they come instead of queued one by one:
     * identical ones (same action, outcome, app and detail, a reason from a fixed set) of the same second become one
     * record with {@code count} and {@code last_at}, and one replica starts at most
     * {@code tokenvault.audit.anonymous-records-per-second} such records per app and second; events that would need
     * another record are counted in {@code tokenvault_audit_anonymous_limited_total}. So a flood of unsigned webhooks
     * writes a few rows a second, not one per request.
     */
    public void recordIfAccepting(String sub, String app, Long portalId, String action, String outcome,
            String detail) {
        if (size.get() >= maxBacklog) {
            metrics.auditDropped();
        } else if (sub == null && portalId == null && tallied(action, outcome)) {
            tally(app, action, outcome, detail);
        } else {
            record(sub, app, portalId, action, outcome, detail);
        }
    }

    /** Unauthenticated outcomes tallied per second (action, space, outcome); every other event is a row of its own. */
    static final java.util.Set<String> TALLIED = java.util.Set.of("webhook.receive refused", "oauth.install failed");

    static boolean tallied(String action, String outcome) {
        return action != null && outcome != null && TALLIED.contains(action + " " + outcome);
    }

    /** Upper bound on the tallies and per-app windows held at once (apps are checked before anything is audited). */
    static final int MAX_TALLIES = 10_000;

    private record TallyKey(String app, String action, String outcome, String detail) {
    }

    /** Identical unauthenticated events of one second; changed only inside {@code tallies.compute}. */
    private static final class Tally {
        final long second;
        final AuditEvent first;
        Instant last;
        int count = 1;

        Tally(long second, AuditEvent first) {
            this.second = second;
            this.first = first;
            this.last = first.at();
        }

        AuditEvent event() {
            return new AuditEvent(first.at(), null, first.app(), null, first.action(), first.outcome(),
                    first.detail(), last, count);
        }
    }

    /** How many records of one app's unauthenticated events were started in {@code second}. */
    private static final class Window {
        long second = Long.MIN_VALUE;
        int used;
    }

    private void tally(String app, String action, String outcome, String detail) {
        Instant now = clock.instant();
        long second = now.getEpochSecond();
        AuditEvent event = new AuditEvent(now, null, app, null, action, outcome, detail); // storable text
        TallyKey key = new TallyKey(event.app(), event.action(), event.outcome(), event.detail());
        Tally[] done = new Tally[1];
        boolean[] limited = new boolean[1];
        tallies.compute(key, (k, t) -> {
            if (t != null && t.second == second) {
                t.count++;
                if (now.isAfter(t.last)) {
                    t.last = now;
                }
                return t;
            }
            done[0] = t; // an earlier second's tally: queued below, outside the map's lock
            if (!startRecord(k.app(), second)) {
                limited[0] = true;
                return null;
            }
            return new Tally(second, event);
        });
        if (done[0] != null) {
            enqueue(done[0].event());
        }
        if (limited[0]) {
            metrics.auditAnonymousLimited();
        }
    }

    /** Whether one more record of the app's unauthenticated events may be started in this second. */
    private boolean startRecord(String app, long second) {
        if (tallies.size() >= MAX_TALLIES || (windows.size() >= MAX_TALLIES && !windows.containsKey(appKey(app)))) {
            return false;
        }
        Window w = windows.computeIfAbsent(appKey(app), a -> new Window());
        synchronized (w) {
            if (w.second != second) {
                w.second = second;
                w.used = 0;
            }
            if (w.used >= anonymousPerSecond) {
                return false;
            }
            w.used++;
            return true;
        }
    }

    private static String appKey(String app) {
        return app == null ? "" : app;
    }

    /** Queues the tallies of past seconds, or all of them (an explicit flush, shutdown). */
    private void emitTallies(boolean all) {
        if (tallies.isEmpty()) {
            return;
        }
        long now = clock.instant().getEpochSecond();
        List<AuditEvent> due = new ArrayList<>();
        for (TallyKey key : tallies.keySet()) {
            tallies.computeIfPresent(key, (k, t) -> {
                if (all || t.second < now) {
                    due.add(t.event());
                    return null;
                }
                return t;
            });
        }
        due.forEach(this::enqueue);
        windows.entrySet().removeIf(e -> {
            synchronized (e.getValue()) {
                return e.getValue().second < now;
            }
        });
    }

    private void enqueue(AuditEvent event) {
        queue.add(event);
        size.incrementAndGet();
    }

    /**
     * Fails closed: while the backlog is at {@code tokenvault.audit.max-backlog} (database unavailable for a while, or
     * a load above what the writer can store), a request that would have to be audited is refused with 503 instead
     * of being served unaudited or growing the queue without bound.
     */
    public void requireAccepting() {
        if (size.get() < maxBacklog) {
            return;
        }
        if (backlogWarned.compareAndSet(false, true)) {
            LOG.errorf("audit backlog reached %d events: audit writes are not keeping up (database slow or "
                    + "unavailable); audited requests are refused with 503 until it drains", maxBacklog);
        }
        throw ApiException.unavailable("the audit trail is not keeping up; audited requests are refused until it "
                + "catches up", RETRY_AFTER, null);
    }

    /** Flushes started by {@link #record} because a batch was full (for tests). */
    long earlyFlushes() {
        return earlyFlushes.get();
    }

    /** Events waiting to be written. */
    public int pending() {
        return size.get();
    }

    @Scheduled(every = "${tokenvault.audit.flush-interval:1s}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> scheduledFlush() {
        return flush(false);
    }

    /**
     * Writes everything queued so far, and the tallies of unauthenticated events of the current second too; completes
     * when written (or failed and re-queued).
     */
    public Uni<Void> flush() {
        return flush(true);
    }

    /** With {@code allTallies} false, tallies of the current second stay open (one record per second, not two). */
    private Uni<Void> flush(boolean allTallies) {
        return Uni.createFrom().deferred(() -> {
            emitTallies(allTallies);
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

    /**
     * Drains the queue with {@link #PARALLEL_BATCHES} writers, each writing one batch after another until the queue is
     * empty or one of its writes fails (no round waits for the slowest batch).
     */
    private Uni<Void> flushBatches() {
        List<Uni<Void>> writers = new ArrayList<>(PARALLEL_BATCHES);
        for (int i = 0; i < PARALLEL_BATCHES; i++) {
            writers.add(drain());
        }
        return Uni.join().all(writers).andCollectFailures().replaceWithVoid();
    }

    private Uni<Void> drain() {
        List<AuditEvent> batch = new ArrayList<>(BATCH);
        AuditEvent e;
        while (batch.size() < BATCH && (e = queue.poll()) != null) {
            batch.add(e);
        }
        if (batch.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return write(batch).chain(written -> written ? drain() : Uni.createFrom().voidItem());
    }

    /**
     * Writes one batch in one statement: the columns travel as arrays and {@code unnest} turns them into rows, which
     * costs the database one bind and one plan per batch rather than per event.
     */
    static final String INSERT = "insert into audit_log (at, last_at, count, sub, app, portal_id, action, outcome, "
            + "detail) select * from unnest($1::timestamptz[], $2::timestamptz[], $3::int[], $4::text[], $5::text[], "
            + "$6::bigint[], $7::text[], $8::text[], $9::text[])";

    /** The actions whose identical events are stored as one record with a count (the hot paths'). */
    static final java.util.Set<String> COALESCED_ACTIONS = java.util.Set.of("token.handout", "hubspot.proxy");

    /** What makes hand-outs identical but for their time, within one second (a record never spans more). */
    private record Same(long second, String action, String sub, String app, Long portalId, String outcome,
            String detail) {
    }

    /** One record to write: an event, or hand-outs identical but for their time. */
    private static final class Row {
        final AuditEvent event;
        Instant first;
        Instant last;
        int count = 1;

        Row(AuditEvent event) {
            this.event = event;
            this.first = event.at();
            this.last = event.lastAt();
            this.count = event.count();
        }
    }

    /**
     * Hand-outs (and tallies of unauthenticated events) of a batch that differ only in their time become one record
     * ({@code at} the first, {@code last_at} the last, {@code count} the sum); every other event stays a record of its
     * own, in queue order.
     */
    private static List<Row> coalesce(List<AuditEvent> batch) {
        List<Row> rows = new ArrayList<>();
        Map<Same, Row> handouts = new HashMap<>();
        for (AuditEvent ev : batch) {
            if (!COALESCED_ACTIONS.contains(ev.action()) && !(ev.sub() == null && tallied(ev.action(), ev.outcome()))) {
                rows.add(new Row(ev));
                continue;
            }
            Same same = new Same(ev.at().getEpochSecond(), ev.action(), ev.sub(), ev.app(), ev.portalId(),
                    ev.outcome(), ev.detail());
            Row row = handouts.get(same);
            if (row == null) {
                row = new Row(ev);
                handouts.put(same, row);
                rows.add(row);
            } else {
                row.count += ev.count(); // a batch retried after a failure is not in time order: keep both ends
                if (ev.lastAt().isAfter(row.last)) {
                    row.last = ev.lastAt();
                }
                if (ev.at().isBefore(row.first)) {
                    row.first = ev.at();
                }
            }
        }
        return rows;
    }

    /** Writes one batch; on failure the events go back to the queue. Never fails: says whether it was written. */
    private Uni<Boolean> write(List<AuditEvent> batch) {
        List<Row> rows = coalesce(batch);
        int n = rows.size();
        OffsetDateTime[] at = new OffsetDateTime[n];
        OffsetDateTime[] last = new OffsetDateTime[n];
        Integer[] count = new Integer[n];
        String[] sub = new String[n];
        String[] app = new String[n];
        Long[] portal = new Long[n];
        String[] action = new String[n];
        String[] outcome = new String[n];
        String[] detail = new String[n];
        for (int i = 0; i < n; i++) {
            Row row = rows.get(i);
            AuditEvent ev = row.event;
            at[i] = row.first.atOffset(ZoneOffset.UTC);
            last[i] = row.count == 1 ? null : row.last.atOffset(ZoneOffset.UTC);
            count[i] = row.count;
            sub[i] = ev.sub();
            app[i] = ev.app();
            portal[i] = ev.portalId();
            action[i] = ev.action();
            outcome[i] = ev.outcome();
            detail[i] = ev.detail();
        }
        return pool.preparedQuery(INSERT)
                .execute(Tuple.from(new Object[] { at, last, count, sub, app, portal, action, outcome, detail }))
                // a write that never answers (half-open connection, fail-over) must not stop the audit trail; if it
                // did commit after all, the retry writes the batch twice: audit writes are at-least-once
                .ifNoItem().after(WRITE_TIMEOUT).fail()
                .map(ignored -> {
                    if (lastWriteFailed) {
                        LOG.infof("audit writes work again; %d events still queued", size.get());
                    }
                    lastWriteFailed = false;
                    if (size.addAndGet(-batch.size()) < maxBacklog / 2 && backlogWarned.compareAndSet(true, false)) {
                        LOG.infof("audit backlog below %d events: audited requests are served again", maxBacklog / 2);
                    }
                    return true;
                })
                .onFailure().recoverWithItem(failure -> {
                    metrics.auditWriteFailed();
                    if (!lastWriteFailed) {
                        // one line per outage; tokenvault_audit_write_failures_total counts every failed write
                        LOG.warnf("audit write of %d events failed (%s); they stay queued and are retried, further "
                                + "failures are logged at DEBUG until a write works", batch.size(),
                                dev.tokenvault.db.Outages.describe(failure));
                    } else {
                        LOG.debugf("audit write of %d events failed again (%s)", batch.size(),
                                dev.tokenvault.db.Outages.describe(failure));
                    }
                    lastWriteFailed = true;
                    queue.addAll(batch);
                    return false;
                });
    }

    void onStop(@Observes ShutdownEvent event) {
        if (size.get() > 0 || !tallies.isEmpty()) {
            try {
                flush().await().atMost(java.time.Duration.ofSeconds(5));
            } catch (RuntimeException e) {
                LOG.errorf("%d audit events could not be written at shutdown", size.get());
            }
        }
    }
}
