package dev.tokenvault.budget;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;

import dev.tokenvault.metrics.Metrics;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.UniEmitter;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;

/**
 * One replica's side of the shared rate budgets: an in-process FIFO per budget in front of the budget's row in
 * PostgreSQL. Each replica builds one (through {@link RateBudgets}); tests build several on one pool to play replicas.
 * <p>
 * Per budget, at most one database attempt of this replica is in flight. An attempt locks the row, grants permits to
 * the longest prefix of the queue that fits (never one behind a waiter that does not fit: first come, first served),
 * logs them and commits. When the head does not fit, the attempt tells when it would (the oldest grants' expiry, or
 * the end of a pause), and the queue sleeps on a Vert.x timer until then: no polling, no blocked thread. A head whose
 * wait would end after its deadline gets {@link BudgetExhaustedException} at once; any other waiter at its deadline.
 */
final class ReplicaBudgets {

    /** At most this many waiters are served by one attempt (one transaction). */
    static final int BATCH = 32;

    /** Longest wait honoured (a larger {@code maxWait} is cut to it). */
    static final Duration MAX_WAIT = Duration.ofHours(1);

    /** Longest pause stored (a daily reset is at most a day away). */
    static final Duration MAX_PAUSE = Duration.ofHours(25);

    /** One acquire's permits and the database time they were logged at (epoch ms). */
    record Granted(Grant grant, long atMs) {
    }

    private enum Outcome {
        GRANTED,
        TOO_BIG,
        WAIT
    }

    /**
     * What one attempt did. {@code outcomes[i]} is for the i-th waiter of the batch (null: not reached, waits);
     * {@code blocked} is the first waiter that did not fit (-1: none), and {@code freeAtMs} when it would.
     */
    private record Attempt(BudgetShape shape, long nowMs, long atMs, Outcome[] outcomes, int[] remaining,
            long fullAtMs, int blocked, long freeAtMs) {
    }

    private static final class Waiter {
        final int calls;
        final UniEmitter<? super Granted> emitter;
        final long since;
        final long deadline;
        KeyQueue queue;
        long timer = -1;
        boolean inFlight;
        boolean done;

        Waiter(int calls, UniEmitter<? super Granted> emitter, long since, long deadline) {
            this.calls = calls;
            this.emitter = emitter;
            this.since = since;
            this.deadline = deadline;
        }
    }

    /** The waiters of one budget in this replica; guarded by itself. */
    private static final class KeyQueue {
        final BudgetShape configured;
        final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
        boolean attempting;
        long timer = -1;
        /** {@link System#nanoTime()} at which the head's permits free, as last seen; 0 when unknown. */
        long nextFree;

        KeyQueue(BudgetShape configured) {
            this.configured = configured;
        }

        boolean idle() {
            return waiters.isEmpty() && !attempting && timer == -1;
        }
    }

    private final BudgetRepository repository;
    private final Vertx vertx;
    private final Metrics metrics;
    private final InstantSource clock;
    private final BiFunction<String, BudgetKind, BudgetShape> shapes;
    private final ConcurrentHashMap<BudgetKey, KeyQueue> queues = new ConcurrentHashMap<>();

    /**
     * @param shapes the configured shape of an app's budget of a kind; throws {@link IllegalArgumentException} for an
     *        unknown app
     */
    ReplicaBudgets(Pool pool, Vertx vertx, Metrics metrics, InstantSource clock,
            BiFunction<String, BudgetKind, BudgetShape> shapes) {
        this.repository = new BudgetRepository(pool);
        this.vertx = vertx;
        this.metrics = metrics;
        this.clock = clock;
        this.shapes = shapes;
    }

    // ---- acquire -------------------------------------------------------------------------------------------------

    Uni<Granted> acquire(String app, long portalId, BudgetKind kind, int calls, Duration maxWait) {
        return Uni.createFrom().deferred(() -> {
            BudgetKey key = key(app, portalId, kind);
            if (maxWait == null) {
                throw new IllegalArgumentException("maxWait is required");
            }
            if (calls < 1) {
                throw new IllegalArgumentException("calls must be at least 1, was " + calls);
            }
            BudgetShape configured = shapes.apply(app, kind);
            Duration wait = maxWait.isNegative() ? Duration.ZERO
                    : maxWait.compareTo(MAX_WAIT) > 0 ? MAX_WAIT : maxWait;
            return Uni.createFrom().<Granted> emitter(emitter -> {
                long since = System.nanoTime();
                Waiter waiter = new Waiter(calls, emitter, since, since + wait.toNanos());
                emitter.onTermination(() -> abandon(key, waiter));
                enqueue(key, configured, waiter, wait);
            });
        });
    }

    private void enqueue(BudgetKey key, BudgetShape configured, Waiter waiter, Duration wait) {
        KeyQueue queue = queues.compute(key, (k, q) -> {
            KeyQueue into = q != null ? q : new KeyQueue(configured);
            synchronized (into) {
                into.waiters.addLast(waiter);
                waiter.queue = into;
            }
            return into;
        });
        pump(key, queue);
        // the deadline's timer only once the first attempt is under way: a short wait (even zero) must not expire the
        // waiter before that attempt, which may grant at once, has even started
        synchronized (queue) {
            if (!waiter.done) {
                waiter.timer = vertx.setTimer(Math.max(1, wait.toMillis()), id -> expire(key, waiter));
            }
        }
    }

    /** Starts an attempt for the head of the queue unless one is in flight or the queue sleeps until a permit frees. */
    private void pump(BudgetKey key, KeyQueue queue) {
        List<Waiter> batch = new ArrayList<>();
        synchronized (queue) {
            if (queue.attempting || queue.timer != -1) {
                return;
            }
            for (Waiter w : queue.waiters) {
                if (batch.size() == BATCH) {
                    break;
                }
                w.inFlight = true;
                batch.add(w);
            }
            queue.attempting = !batch.isEmpty();
        }
        if (batch.isEmpty()) {
            removeIfIdle(key, queue);
            return;
        }
        int[] calls = batch.stream().mapToInt(w -> w.calls).toArray();
        attempt(key, queue.configured, calls).subscribe().with(
                attempt -> settle(key, queue, batch, attempt),
                failure -> failAll(key, queue, failure));
    }

    /** One transaction: lock the row, grant to the longest prefix of {@code calls} that fits, log, commit. */
    private Uni<Attempt> attempt(BudgetKey key, BudgetShape configured, int[] calls) {
        return repository.pool().withTransaction(tx -> repository.lock(tx, key).chain(stored -> {
            BudgetShape shape = stored.shape(configured);
            long now = stored.nowMs();
            BudgetWindow window = BudgetWindow.of(shape, now, stored.grants());
            boolean paused = stored.pausedAt(now);
            Outcome[] outcomes = new Outcome[calls.length];
            int[] remaining = new int[calls.length];
            int blocked = -1;
            long freeAt = now;
            boolean granted = false;
            for (int i = 0; i < calls.length; i++) {
                if (calls[i] > shape.calls()) {
                    outcomes[i] = Outcome.TOO_BIG; // can never be served: does not hold up the queue
                    continue;
                }
                if (paused || !window.fits(calls[i])) {
                    blocked = i;
                    freeAt = Math.max(window.freeAt(calls[i]), paused ? stored.pausedUntilMs() : now);
                    break;
                }
                window = window.grant(calls[i]);
                outcomes[i] = Outcome.GRANTED;
                remaining[i] = window.remaining();
                granted = true;
            }
            Attempt attempt = new Attempt(shape, now, window.grantTime(), outcomes, remaining, window.fullAt(),
                    blocked, freeAt);
            return granted
                    ? repository.write(tx, key, window.grants(), stored.calls(), stored.intervalMs()).replaceWith(attempt)
                    : Uni.createFrom().item(attempt);
        }));
    }

    private void settle(BudgetKey key, KeyQueue queue, List<Waiter> batch, Attempt attempt) {
        List<Runnable> after = new ArrayList<>();
        boolean again;
        long nanos = System.nanoTime();
        Instant localNow = clock.instant();
        synchronized (queue) {
            queue.attempting = false;
            long waitMs = attempt.blocked() >= 0 ? Math.max(0, attempt.freeAtMs() - attempt.nowMs()) : 0;
            if (attempt.blocked() >= 0) {
                queue.nextFree = nanos + waitMs * 1_000_000;
            }
            for (int i = 0; i < batch.size(); i++) {
                Waiter w = batch.get(i);
                w.inFlight = false;
                if (w.done) {
                    continue; // cancelled meanwhile
                }
                Outcome outcome = attempt.outcomes()[i];
                if (outcome == Outcome.GRANTED) {
                    finish(w);
                    Granted granted = new Granted(new Grant(w.calls, attempt.remaining()[i],
                            local(attempt.fullAtMs(), attempt.nowMs(), localNow)), attempt.atMs());
                    after.add(() -> granted(w, granted));
                } else if (outcome == Outcome.TOO_BIG) {
                    finish(w);
                    after.add(() -> w.emitter.fail(new IllegalArgumentException("calls (" + w.calls
                            + ") exceeds the budget's size (" + attempt.shape().calls() + " per "
                            + attempt.shape().intervalMs() + " ms)")));
                } else if (w.deadline - nanos <= 0) {
                    finish(w); // its deadline passed while the attempt was in flight
                    long retry = attempt.blocked() >= 0 ? waitMs : 1000;
                    after.add(() -> exhausted(w, retry));
                }
            }
            Waiter head = queue.waiters.peekFirst();
            if (head == null) {
                again = false;
            } else if (attempt.blocked() >= 0 && head == batch.get(attempt.blocked())) {
                if (head.deadline - nanos < waitMs * 1_000_000) {
                    finish(head); // its permits cannot free before its deadline: answer now
                    after.add(() -> exhausted(head, waitMs));
                    again = true;
                } else {
                    queue.timer = vertx.setTimer(Math.max(1, waitMs), id -> wake(key, queue));
                    again = false;
                }
            } else {
                again = true; // the batch was served (or its head left): the next ones get their own attempt
            }
        }
        after.forEach(Runnable::run);
        if (again) {
            pump(key, queue);
        } else {
            removeIfIdle(key, queue);
        }
    }

    /** A failed attempt (the database is away, or a bug): every waiter of the budget in this replica gets it. */
    private void failAll(BudgetKey key, KeyQueue queue, Throwable failure) {
        List<Waiter> all;
        synchronized (queue) {
            queue.attempting = false;
            all = new ArrayList<>(queue.waiters);
            all.forEach(this::finish);
        }
        all.forEach(w -> w.emitter.fail(failure));
        removeIfIdle(key, queue);
    }

    private void wake(BudgetKey key, KeyQueue queue) {
        synchronized (queue) {
            queue.timer = -1;
        }
        pump(key, queue);
    }

    /** A waiter's deadline passed while it was queued (not while an attempt for it is in flight: that one decides). */
    private void expire(BudgetKey key, Waiter waiter) {
        KeyQueue queue = waiter.queue;
        long retry;
        boolean wasHead;
        synchronized (queue) {
            waiter.timer = -1;
            if (waiter.done || waiter.inFlight) {
                return;
            }
            wasHead = queue.waiters.peekFirst() == waiter;
            finish(waiter);
            retry = queue.nextFree == 0 ? 1000 : Math.max(0, (queue.nextFree - System.nanoTime()) / 1_000_000);
            if (wasHead) {
                stopSleeping(queue);
            }
        }
        exhausted(waiter, retry);
        pump(key, queue);
    }

    /** The caller went away (cancelled): its place is given up. Also runs after a normal outcome (then a no-op). */
    private void abandon(BudgetKey key, Waiter waiter) {
        KeyQueue queue = waiter.queue;
        if (queue == null) {
            return;
        }
        boolean wasHead;
        synchronized (queue) {
            if (waiter.done) {
                return;
            }
            wasHead = queue.waiters.peekFirst() == waiter;
            finish(waiter);
            if (wasHead) {
                stopSleeping(queue);
            }
        }
        pump(key, queue);
    }

    /** Removes a waiter from its queue for good (called holding the queue's lock). */
    private void finish(Waiter waiter) {
        waiter.done = true;
        waiter.queue.waiters.remove(waiter);
        if (waiter.timer != -1) {
            vertx.cancelTimer(waiter.timer);
            waiter.timer = -1;
        }
    }

    /** The head changed or the budget did: the next attempt runs now, not at the old wake-up time. */
    private void stopSleeping(KeyQueue queue) {
        if (queue.timer != -1) {
            vertx.cancelTimer(queue.timer);
            queue.timer = -1;
        }
    }

    private void removeIfIdle(BudgetKey key, KeyQueue queue) {
        queues.computeIfPresent(key, (k, q) -> {
            if (q != queue) {
                return q;
            }
            synchronized (q) {
                return q.idle() ? null : q;
            }
        });
    }

    /** Wakes the budget's queue in this replica (after its row changed here). */
    private void kick(BudgetKey key) {
        KeyQueue queue = queues.get(key);
        if (queue != null) {
            synchronized (queue) {
                stopSleeping(queue);
            }
            pump(key, queue);
        }
    }

    private void granted(Waiter waiter, Granted granted) {
        metrics.budgetWaited(Duration.ofNanos(System.nanoTime() - waiter.since));
        waiter.emitter.complete(granted);
    }

    private void exhausted(Waiter waiter, long retryMs) {
        metrics.budgetExhausted();
        waiter.emitter.fail(BudgetExhaustedException.after(retryMs));
    }

    // ---- status, observe, pause ------------------------------------------------------------------------------------

    Uni<BudgetStatus> status(String app, long portalId, BudgetKind kind) {
        return Uni.createFrom().deferred(() -> {
            BudgetKey key = key(app, portalId, kind);
            BudgetShape configured = shapes.apply(app, kind);
            return repository.read(key).map(stored -> {
                Instant localNow = clock.instant();
                long now = stored.nowMs();
                BudgetShape shape = stored.shape(configured);
                BudgetWindow window = BudgetWindow.of(shape, now, stored.grants());
                boolean paused = stored.pausedAt(now);
                long reset = Math.max(window.fullAt(), paused ? stored.pausedUntilMs() : now);
                return new BudgetStatus(shape.calls(), shape.intervalMs(), paused ? 0 : window.remaining(),
                        local(reset, now, localNow), paused ? local(stored.pausedUntilMs(), now, localNow) : null);
            });
        });
    }

    /**
     * HubSpot's rate-limit headers correct the budget: a different {@code max} or {@code intervalMs} is stored (values
     * outside 1..{@value BudgetShape#MAX_CALLS} calls or 1 ms..1 day are ignored); a {@code remaining} lower than the
     * log implies (calls outside the vault) adds grants at now until they agree.
     */
    Uni<Void> observe(String app, long portalId, BudgetKind kind, OptionalInt max, OptionalInt remaining,
            OptionalLong intervalMs) {
        return Uni.createFrom().deferred(() -> {
            BudgetKey key = key(app, portalId, kind);
            BudgetShape configured = shapes.apply(app, kind);
            Integer seenCalls = max != null && max.isPresent() && max.getAsInt() >= 1
                    && max.getAsInt() <= BudgetShape.MAX_CALLS ? max.getAsInt() : null;
            Long seenInterval = intervalMs != null && intervalMs.isPresent() && intervalMs.getAsLong() >= 1
                    && intervalMs.getAsLong() <= BudgetShape.MAX_INTERVAL_MS ? intervalMs.getAsLong() : null;
            Integer seenRemaining = remaining != null && remaining.isPresent() ? Math.max(0, remaining.getAsInt())
                    : null;
            if (seenCalls == null && seenInterval == null && seenRemaining == null) {
                return Uni.createFrom().voidItem();
            }
            return repository.pool().withTransaction(tx -> repository.lock(tx, key).chain(stored -> {
                BudgetShape before = stored.shape(configured);
                Integer calls = stored.calls();
                Long interval = stored.intervalMs();
                boolean changed = false;
                if (seenCalls != null && seenCalls != before.calls()) {
                    calls = seenCalls;
                    changed = true;
                }
                if (seenInterval != null && seenInterval != before.intervalMs()) {
                    interval = seenInterval;
                    changed = true;
                }
                BudgetShape shape = new BudgetShape(calls == null ? configured.calls() : calls,
                        interval == null ? configured.intervalMs() : interval);
                BudgetWindow window = BudgetWindow.of(shape, stored.nowMs(), stored.grants());
                if (seenRemaining != null && seenRemaining < window.remaining()) {
                    window = window.grant(window.remaining() - seenRemaining); // phantom grants: traffic we did not see
                    changed = true;
                }
                return changed ? repository.write(tx, key, window.grants(), calls, interval)
                        : Uni.createFrom().voidItem();
            })).invoke(() -> kick(key));
        });
    }

    /** No permit until {@code until} (service clock), in every replica: stored as a time of the database clock. */
    Uni<Void> pause(String app, long portalId, BudgetKind kind, Instant until) {
        return Uni.createFrom().deferred(() -> {
            BudgetKey key = key(app, portalId, kind);
            shapes.apply(app, kind);
            if (until == null) {
                throw new IllegalArgumentException("until is required");
            }
            long millis = Math.min(Duration.between(clock.instant(), until).toMillis(), MAX_PAUSE.toMillis());
            if (millis <= 0) {
                return Uni.createFrom().voidItem();
            }
            return repository.pause(key, millis).invoke(() -> {
                metrics.budgetPaused();
                kick(key);
            });
        });
    }

    private static BudgetKey key(String app, long portalId, BudgetKind kind) {
        if (app == null || kind == null) {
            throw new IllegalArgumentException("app and kind are required");
        }
        return new BudgetKey(app, portalId, kind);
    }

    /** A database time as an instant of the service clock: the same distance from now. */
    private static Instant local(long dbMs, long dbNowMs, Instant localNow) {
        return localNow.plusMillis(dbMs - dbNowMs);
    }
}
