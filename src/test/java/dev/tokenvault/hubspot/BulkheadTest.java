package dev.tokenvault.hubspot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.Cancellable;

/** The bounds on concurrent HubSpot calls of one class: global and per app, FIFO, a quick and clear refusal. */
class BulkheadTest {

    final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    final AtomicInteger rejected = new AtomicInteger();

    @AfterEach
    void stop() {
        timer.shutdownNow();
    }

    Bulkhead bulkhead(int limit, int perApp, Duration maxWait) {
        return new Bulkhead("refreshes", limit, perApp, maxWait, timer, rejected::incrementAndGet);
    }

    /** A call that stays in flight until its future completes. */
    static Uni<String> held(CompletableFuture<String> release) {
        return Uni.createFrom().completionStage(release);
    }

    @Test
    void aFullAppDoesNotHoldBackAnotherAppAndTheBoundIsPerApp() throws Exception {
        Bulkhead b = bulkhead(10, 2, Duration.ofSeconds(5));
        List<CompletableFuture<String>> stalled = new ArrayList<>();
        List<CompletableFuture<String>> results = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            CompletableFuture<String> release = new CompletableFuture<>();
            stalled.add(release);
            results.add(b.run("slow-app", () -> held(release)).subscribeAsCompletionStage());
        }
        assertThat(b.inFlight()).isEqualTo(2);
        // a third call of the full app waits ...
        CompletableFuture<String> third = b.run("slow-app", () -> Uni.createFrom().item("third"))
                .subscribeAsCompletionStage();
        assertThat(b.waiting()).isEqualTo(1);
        assertThat(third).isNotDone();
        // ... while another app's call goes through at once
        assertThat(b.run("healthy-app", () -> Uni.createFrom().item("healthy")).await().atMost(Duration.ofSeconds(1)))
                .isEqualTo("healthy");
        // the waiting call goes when one of its app's calls ends
        stalled.get(0).complete("done");
        assertThat(third.get(1, TimeUnit.SECONDS)).isEqualTo("third");
        stalled.get(1).complete("done");
        assertThat(results.get(1).get(1, TimeUnit.SECONDS)).isEqualTo("done");
        assertThat(b.inFlight()).isZero();
        assertThat(rejected).hasValue(0);
    }

    @Test
    void aCallThatFindsNoRoomWithinTheWaitFailsBusyNamingTheBoundAndNeverRuns() {
        Bulkhead b = bulkhead(3, 3, Duration.ofMillis(200));
        CompletableFuture<String> release = new CompletableFuture<>();
        for (int i = 0; i < 3; i++) {
            b.run("app-" + i, () -> held(release)).subscribeAsCompletionStage();
        }
        AtomicInteger ran = new AtomicInteger();
        assertThatThrownBy(() -> b.run("app-9", () -> {
            ran.incrementAndGet();
            return Uni.createFrom().item("never");
        }).await().atMost(Duration.ofSeconds(5)))
                .isInstanceOfSatisfying(HubSpotException.class, e -> {
                    assertThat(e.kind()).isEqualTo(HubSpotException.Kind.BUSY);
                    assertThat(e.getMessage()).contains("tokenvault.hubspot.bulkhead.refreshes").contains("3");
                    assertThat(e.retryAfter()).isPositive();
                });
        assertThat(ran).hasValue(0);
        assertThat(rejected).hasValue(1);
        assertThat(b.waiting()).isZero();
        release.complete("x");
        assertThat(b.inFlight()).isZero();
    }

    @Test
    void theWholeBoundHoldsAcrossAppsAndWaitersGoFirstComeFirstServed() throws Exception {
        Bulkhead b = bulkhead(2, 2, Duration.ofSeconds(5));
        CompletableFuture<String> first = new CompletableFuture<>();
        CompletableFuture<String> second = new CompletableFuture<>();
        b.run("a", () -> held(first)).subscribeAsCompletionStage();
        b.run("b", () -> held(second)).subscribeAsCompletionStage();
        List<String> order = new java.util.concurrent.CopyOnWriteArrayList<>();
        CompletableFuture<String> c = b.run("c", () -> Uni.createFrom().item("c").invoke(order::add))
                .subscribeAsCompletionStage();
        CompletableFuture<String> d = b.run("d", () -> Uni.createFrom().item("d").invoke(order::add))
                .subscribeAsCompletionStage();
        assertThat(b.waiting()).isEqualTo(2);
        first.complete("a");
        c.get(1, TimeUnit.SECONDS);
        second.complete("b");
        d.get(1, TimeUnit.SECONDS);
        assertThat(order).containsExactly("c", "d");
        assertThat(b.inFlight()).isZero();
    }

    @Test
    void failuresAndCancellationsGiveTheirRoomBack() throws Exception {
        Bulkhead b = bulkhead(1, 1, Duration.ofSeconds(5));
        assertThatThrownBy(() -> b.run("a", () -> Uni.createFrom().<String> failure(new IllegalStateException("boom")))
                .await().atMost(Duration.ofSeconds(1))).hasMessage("boom");
        assertThat(b.inFlight()).isZero();

        CompletableFuture<String> never = new CompletableFuture<>();
        Cancellable inFlight = b.run("a", () -> held(never)).subscribe().with(x -> {
        });
        assertThat(b.inFlight()).isEqualTo(1);
        Cancellable waiting = b.run("a", () -> Uni.createFrom().item("w")).subscribe().with(x -> {
        });
        assertThat(b.waiting()).isEqualTo(1);
        waiting.cancel();
        assertThat(b.waiting()).isZero();
        inFlight.cancel();
        assertThat(b.inFlight()).isZero();
        assertThat(b.run("a", () -> Uni.createFrom().item("ok")).await().atMost(Duration.ofSeconds(1))).isEqualTo("ok");
    }
}
