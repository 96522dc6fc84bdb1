package dev.tokenvault.budget;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;

import dev.tokenvault.metrics.Metrics;
import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;

/**
 * Three "replicas" (independent {@link ReplicaBudgets}, each with its own in-process queues, on the one database) and
 * 60 callers asking for ten times the budget: no rolling interval ever holds more than the budget, and the budget is
 * used.
 */
@QuarkusTest
class RateBudgetReplicasTest {

    static final AtomicLong PORTALS = new AtomicLong(700_000);
    static final int CALLS = 20;
    static final long INTERVAL_MS = 1000;
    static final BudgetShape SHAPE = new BudgetShape(CALLS, INTERVAL_MS);

    @Inject
    Pool pool;

    @Inject
    Vertx vertx;

    @Inject
    Metrics metrics;

    ReplicaBudgets replica() {
        return new ReplicaBudgets(pool, vertx, metrics, InstantSource.system(), (app, kind) -> SHAPE);
    }

    @Test
    void threeReplicasNeverGrantMoreThanTheBudgetInAnyRollingIntervalAndUseAtLeast95Percent() throws Exception {
        long portal = PORTALS.incrementAndGet();
        List<ReplicaBudgets> replicas = List.of(replica(), replica(), replica());
        int callers = 60;
        long cadenceMs = callers * INTERVAL_MS / (10 * CALLS); // 60 callers, one ask each 300 ms: 10 x the budget
        Duration maxWait = Duration.ofMillis(700);
        long start = System.currentTimeMillis();
        long end = start + 5_000;
        Queue<Long> grants = new ConcurrentLinkedQueue<>();
        Queue<Duration> retryAfters = new ConcurrentLinkedQueue<>();
        Queue<Throwable> unexpected = new ConcurrentLinkedQueue<>();

        List<CompletableFuture<Void>> done = new ArrayList<>();
        for (int c = 0; c < callers; c++) {
            ReplicaBudgets replica = replicas.get(c % replicas.size());
            long phase = c * cadenceMs / callers;
            CompletableFuture<Void> finished = new CompletableFuture<>();
            done.add(finished);
            loop(replica, portal, start + phase, cadenceMs, end, maxWait, grants, retryAfters, unexpected, finished);
        }
        CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);

        assertThat(unexpected).isEmpty();
        long[] times = grants.stream().mapToLong(Long::longValue).sorted().toArray();
        assertThat(times.length).isGreaterThan(3 * CALLS);

        // the guarantee: no half-open window of the interval holds more than CALLS grants (nor one of interval + margin)
        assertThat(RateBudgetWindowTest.maxInWindow(times, INTERVAL_MS)).isLessThanOrEqualTo(CALLS);
        assertThat(RateBudgetWindowTest.maxInWindow(times, SHAPE.spanMs())).isLessThanOrEqualTo(CALLS);

        // budget use while saturated: each of the CALLS places of the window is reused as soon as it frees, so
        // times[i + CALLS] - times[i] is how long a place took to come round (the interval at best); use is the
        // interval over its mean, for every place reused while the demand lasted (the database runs on this machine:
        // its clock is this JVM's)
        double cycle = java.util.stream.IntStream.range(0, times.length - CALLS)
                .filter(i -> times[i + CALLS] < end)
                .mapToLong(i -> times[i + CALLS] - times[i]).average().orElseThrow();
        double use = INTERVAL_MS / cycle;
        System.out.printf("rate budget: %d grants, %d exhausted, a place comes round in %.1f ms: use %.3f%n",
                times.length, retryAfters.size(), cycle, use);
        assertThat(use).isGreaterThanOrEqualTo(0.95);

        // waits that could not end within maxWait: 429 with a positive Retry-After
        assertThat(retryAfters).isNotEmpty();
        assertThat(retryAfters).allSatisfy(r -> assertThat(r).isGreaterThanOrEqualTo(Duration.ofSeconds(1)));
    }

    /** One caller: asks for a permit every {@code cadenceMs} (or at once when the last answer came later). */
    void loop(ReplicaBudgets replica, long portal, long next, long cadenceMs, long end, Duration maxWait,
            Queue<Long> grants, Queue<Duration> retryAfters, Queue<Throwable> unexpected,
            CompletableFuture<Void> finished) {
        long now = System.currentTimeMillis();
        if (now >= end) {
            finished.complete(null);
            return;
        }
        long delay = Math.max(0, next - now);
        Uni<Void> pause = delay == 0 ? Uni.createFrom().voidItem()
                : Uni.createFrom().voidItem().onItem().delayIt().by(Duration.ofMillis(delay));
        pause.chain(() -> replica.acquire("default", portal, BudgetKind.GENERAL, 1, maxWait))
                .subscribe().with(granted -> {
                    grants.add(granted.atMs());
                    loop(replica, portal, next + cadenceMs, cadenceMs, end, maxWait, grants, retryAfters, unexpected,
                            finished);
                }, failure -> {
                    if (failure instanceof BudgetExhaustedException e) {
                        retryAfters.add(e.retryAfter());
                    } else {
                        unexpected.add(failure);
                    }
                    loop(replica, portal, next + cadenceMs, cadenceMs, end, maxWait, grants, retryAfters, unexpected,
                            finished);
                });
    }
}
