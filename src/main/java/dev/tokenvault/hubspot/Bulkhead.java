package dev.tokenvault.hubspot;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

import io.smallrye.mutiny.Uni;

/**
 * Bounds the calls of one class (installs, refreshes or revocations) that may be in flight at once: at most
 * {@code limit} for all apps together and {@code perApp} for one app (a HubSpot app, named by its client id). A call
 * that finds no room waits, first come first served, but never behind a call of a full app when its own app has room;
 * after {@code maxWait} it fails with {@link HubSpotException.Kind#BUSY}, naming the bound, without reaching HubSpot.
 * Non-blocking: waiting is a pending {@link Uni}, never a thread.
 */
final class Bulkhead {

    private final String name;
    private final int limit;
    private final int perApp;
    private final Duration maxWait;
    private final ScheduledExecutorService timer;
    private final Runnable onBusy;

    // guarded by this
    private int inFlight;
    private final Map<String, Integer> inFlightPerApp = new HashMap<>();
    private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();

    Bulkhead(String name, int limit, int perApp, Duration maxWait, ScheduledExecutorService timer, Runnable onBusy) {
        if (limit < 1 || perApp < 1) {
            throw new IllegalArgumentException("tokenvault.hubspot.bulkhead." + name + " bounds must be at least 1");
        }
        this.name = name;
        this.limit = limit;
        this.perApp = Math.min(perApp, limit);
        this.maxWait = maxWait;
        this.timer = timer;
        this.onBusy = onBusy;
    }

    /** Runs {@code call} once there is room for one more call of {@code app}; the room is given back when it ends. */
    <T> Uni<T> run(String app, Supplier<Uni<T>> call) {
        return Uni.createFrom().deferred(() -> {
            Waiter w = enter(app);
            return Uni.createFrom().completionStage(w.granted)
                    .onCancellation().invoke(() -> abandon(w))
                    .chain(lease -> call.get().onTermination().invoke(lease::release));
        });
    }

    /** Calls in flight now, all apps (for tests and metrics). */
    synchronized int inFlight() {
        return inFlight;
    }

    /** Calls waiting for room now. */
    synchronized int waiting() {
        return waiters.size();
    }

    private Waiter enter(String app) {
        Waiter w = new Waiter(app);
        Lease lease = null;
        synchronized (this) {
            // waiting calls are all held by their own app's bound (the others were admitted on release), so a call
            // that fits now is never ahead of an earlier call of its own app
            if (fits(app)) {
                lease = take(w);
            } else {
                waiters.add(w);
            }
        }
        if (lease != null) {
            w.granted.complete(lease);
        } else {
            timer.schedule(() -> expire(w), Math.max(1, maxWait.toMillis()), TimeUnit.MILLISECONDS);
        }
        return w;
    }

    private boolean fits(String app) {
        return inFlight < limit && inFlightPerApp.getOrDefault(app, 0) < perApp;
    }

    private Lease take(Waiter w) {
        w.state = State.GRANTED;
        inFlight++;
        inFlightPerApp.merge(w.app, 1, Integer::sum);
        w.lease = new Lease(w.app);
        return w.lease;
    }

    private void expire(Waiter w) {
        boolean appFull;
        synchronized (this) {
            if (w.state != State.WAITING) {
                return;
            }
            w.state = State.GONE;
            waiters.remove(w);
            appFull = inFlightPerApp.getOrDefault(w.app, 0) >= perApp;
        }
        onBusy.run();
        w.granted.completeExceptionally(new HubSpotException(HubSpotException.Kind.BUSY, 0, null,
                "too many HubSpot " + name + " at once: " + (appFull ? perApp + " of this app" : limit + " in all")
                        + " in flight and no room within " + maxWait.toMillis() + " ms (tokenvault.hubspot.bulkhead."
                        + (appFull ? name + "-per-app" : name) + "); the call was not sent",
                Duration.ofSeconds(1)));
    }

    /** The caller went away while waiting (or before it saw its grant): its room is given back. */
    private void abandon(Waiter w) {
        Lease granted;
        synchronized (this) {
            if (w.state == State.WAITING) {
                w.state = State.GONE;
                waiters.remove(w);
                return;
            }
            granted = w.state == State.GRANTED ? w.lease : null;
        }
        if (granted != null) {
            granted.release();
        }
    }

    private void release(String app) {
        java.util.List<Waiter> admitted = new java.util.ArrayList<>();
        synchronized (this) {
            inFlight--;
            inFlightPerApp.computeIfPresent(app, (k, n) -> n <= 1 ? null : n - 1);
            for (Iterator<Waiter> it = waiters.iterator(); it.hasNext() && inFlight < limit;) {
                Waiter w = it.next();
                if (fits(w.app)) {
                    it.remove();
                    take(w);
                    admitted.add(w);
                }
            }
        }
        for (Waiter w : admitted) {
            if (!w.granted.complete(w.lease)) {
                w.lease.release(); // its caller was cancelled meanwhile
            }
        }
    }

    private enum State {
        WAITING,
        GRANTED,
        GONE
    }

    private static final class Waiter {
        final String app;
        final CompletableFuture<Lease> granted = new CompletableFuture<>();
        State state = State.WAITING;
        Lease lease;

        Waiter(String app) {
            this.app = app;
        }
    }

    /** Room for one call; released once, however often {@link #release()} is called. */
    final class Lease {
        private final String app;
        private final AtomicBoolean released = new AtomicBoolean();

        Lease(String app) {
            this.app = app;
        }

        void release() {
            if (released.compareAndSet(false, true)) {
                Bulkhead.this.release(app);
            }
        }
    }
}
