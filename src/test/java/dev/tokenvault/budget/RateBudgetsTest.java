package dev.tokenvault.budget;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.net.ServerSocket;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;

import dev.tokenvault.db.Outages;
import dev.tokenvault.metrics.Metrics;
import dev.tokenvault.testing.Db;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.Cancellable;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.PoolOptions;

/**
 * The budget bean with the test configuration (app {@code default}: 100 per 10 s, search 5 per 1 s), and replicas
 * built by hand for short budgets.
 */
@QuarkusTest
class RateBudgetsTest {

    static final AtomicLong PORTALS = new AtomicLong(800_000);
    static final Duration AWAIT = Duration.ofSeconds(20);

    @Inject
    RateBudgets budgets;

    @Inject
    Pool pool;

    @Inject
    Vertx vertx;

    @Inject
    Metrics metrics;

    @Inject
    MeterRegistry registry;

    @Inject
    InstantSource clock;

    ReplicaBudgets replica(BudgetShape shape) {
        return new ReplicaBudgets(pool, vertx, metrics, InstantSource.system(), (app, kind) -> shape);
    }

    static long portal() {
        return PORTALS.incrementAndGet();
    }

    Grant acquire(long portal, BudgetKind kind, int calls, Duration maxWait) {
        return budgets.acquire("default", portal, kind, calls, maxWait).await().atMost(AWAIT);
    }

    BudgetStatus status(long portal, BudgetKind kind) {
        return budgets.status("default", portal, kind).await().atMost(AWAIT);
    }

    void observe(long portal, OptionalInt max, OptionalInt remaining, OptionalLong interval) {
        budgets.observe("default", portal, BudgetKind.GENERAL, max, remaining, interval).await().atMost(AWAIT);
    }

    @Test
    void theMetersAreRegisteredAtStartUp() {
        assertThat(registry.find("tokenvault_rate_budget_wait_seconds").timer()).isNotNull();
        assertThat(registry.find("tokenvault_rate_budget_exhausted_total").counter()).isNotNull();
        assertThat(registry.find("tokenvault_rate_budget_pauses_total").counter()).isNotNull();
    }

    @Test
    void aNewBudgetIsWholeAndGrantsCountDown() {
        long portal = portal();
        BudgetStatus fresh = status(portal, BudgetKind.GENERAL);
        assertThat(fresh.calls()).isEqualTo(100);
        assertThat(fresh.intervalMs()).isEqualTo(10_000);
        assertThat(fresh.remaining()).isEqualTo(100);
        assertThat(fresh.pausedUntil()).isNull();
        assertThat(fresh.resetAt()).isCloseTo(clock.instant(), within(1, ChronoUnit.SECONDS));

        long waitsBefore = registry.find("tokenvault_rate_budget_wait_seconds").timer().count();
        Grant grant = acquire(portal, BudgetKind.GENERAL, 3, Duration.ofSeconds(1));
        assertThat(grant.granted()).isEqualTo(3);
        assertThat(grant.remaining()).isEqualTo(97);
        assertThat(grant.resetAt()).isCloseTo(clock.instant().plusMillis(10_250), within(1, ChronoUnit.SECONDS));
        assertThat(registry.find("tokenvault_rate_budget_wait_seconds").timer().count()).isEqualTo(waitsBefore + 1);

        BudgetStatus after = status(portal, BudgetKind.GENERAL);
        assertThat(after.remaining()).isEqualTo(97);
        assertThat(after.resetAt()).isCloseTo(grant.resetAt(), within(1, ChronoUnit.SECONDS));
        assertThat(status(portal(), BudgetKind.GENERAL).remaining()).as("another portal").isEqualTo(100);
    }

    @Test
    void theSearchBudgetIsSeparateFromTheGeneralOne() {
        long portal = portal();
        BudgetStatus search = status(portal, BudgetKind.SEARCH);
        assertThat(search.calls()).isEqualTo(5);
        assertThat(search.intervalMs()).isEqualTo(1000);
        assertThat(acquire(portal, BudgetKind.SEARCH, 5, Duration.ZERO).remaining()).isZero();

        double exhaustedBefore = registry.find("tokenvault_rate_budget_exhausted_total").counter().count();
        assertThatThrownBy(() -> acquire(portal, BudgetKind.SEARCH, 1, Duration.ZERO))
                .isInstanceOfSatisfying(BudgetExhaustedException.class,
                        e -> assertThat(e.retryAfter()).isBetween(Duration.ofSeconds(1), Duration.ofSeconds(2)));
        assertThat(registry.find("tokenvault_rate_budget_exhausted_total").counter().count())
                .isEqualTo(exhaustedBefore + 1);

        assertThat(acquire(portal, BudgetKind.GENERAL, 100, Duration.ZERO).remaining()).as("general untouched").isZero();
        assertThat(status(portal, BudgetKind.SEARCH).remaining()).isZero();
        // the search budget frees after its own second (+ margin), waiting for it
        Grant later = acquire(portal, BudgetKind.SEARCH, 1, Duration.ofSeconds(3));
        assertThat(later.remaining()).isEqualTo(4);
    }

    @Test
    void callsAboveTheBudgetOrBelowOneAndUnknownAppsAreRefused() {
        long portal = portal();
        assertThatThrownBy(() -> acquire(portal, BudgetKind.GENERAL, 101, Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("100");
        assertThatThrownBy(() -> acquire(portal, BudgetKind.SEARCH, 6, Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> acquire(portal, BudgetKind.GENERAL, 0, Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> budgets.acquire("nope", portal, BudgetKind.GENERAL, 1, Duration.ZERO).await()
                .atMost(AWAIT)).isInstanceOf(IllegalArgumentException.class);
        assertThat(status(portal, BudgetKind.GENERAL).remaining()).as("nothing spent").isEqualTo(100);
    }

    @Test
    void hubSpotsHeadersRaiseAndLowerTheBudgetAndItsInterval() {
        long portal = portal();
        observe(portal, OptionalInt.of(150), OptionalInt.empty(), OptionalLong.empty());
        assertThat(status(portal, BudgetKind.GENERAL).calls()).isEqualTo(150);
        assertThat(acquire(portal, BudgetKind.GENERAL, 120, Duration.ZERO).remaining()).isEqualTo(30);

        observe(portal, OptionalInt.of(50), OptionalInt.empty(), OptionalLong.of(2_000));
        BudgetStatus lowered = status(portal, BudgetKind.GENERAL);
        assertThat(lowered.calls()).isEqualTo(50);
        assertThat(lowered.intervalMs()).isEqualTo(2_000);
        assertThat(lowered.remaining()).isZero();
        assertThatThrownBy(() -> acquire(portal, BudgetKind.GENERAL, 51, Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(status(portal, BudgetKind.SEARCH).calls()).as("search untouched").isEqualTo(5);
        // values HubSpot cannot mean are ignored
        observe(portal, OptionalInt.of(0), OptionalInt.empty(), OptionalLong.of(-1));
        assertThat(status(portal, BudgetKind.GENERAL).calls()).isEqualTo(50);
    }

    @Test
    void aLowerRemainingThanTheLogImpliesAddsPhantomGrants() {
        long portal = portal();
        acquire(portal, BudgetKind.GENERAL, 10, Duration.ZERO);
        observe(portal, OptionalInt.of(100), OptionalInt.of(40), OptionalLong.of(10_000));
        assertThat(status(portal, BudgetKind.GENERAL).remaining()).isEqualTo(40);
        observe(portal, OptionalInt.empty(), OptionalInt.of(95), OptionalLong.empty());
        assertThat(status(portal, BudgetKind.GENERAL).remaining()).as("a higher remaining changes nothing")
                .isEqualTo(40);
        assertThat(acquire(portal, BudgetKind.GENERAL, 40, Duration.ZERO).remaining()).isZero();
    }

    @Test
    void aPauseIsHonouredByAnotherReplica() throws Exception {
        long portal = portal();
        double pausesBefore = registry.find("tokenvault_rate_budget_pauses_total").counter().count();
        budgets.pause("default", portal, BudgetKind.GENERAL, clock.instant().plusMillis(1_500)).await().atMost(AWAIT);
        assertThat(registry.find("tokenvault_rate_budget_pauses_total").counter().count()).isEqualTo(pausesBefore + 1);

        BudgetStatus paused = status(portal, BudgetKind.GENERAL);
        assertThat(paused.remaining()).isZero();
        assertThat(paused.pausedUntil()).isCloseTo(clock.instant().plusMillis(1_500), within(500, ChronoUnit.MILLIS));
        long pausedUntilMs = Db.count("select floor(extract(epoch from paused_until) * 1000)::bigint from rate_budget "
                + "where app = 'default' and portal_id = ? and kind = 'general'", portal);

        ReplicaBudgets other = replica(new BudgetShape(100, 10_000));
        assertThatThrownBy(() -> other.acquire("default", portal, BudgetKind.GENERAL, 1, Duration.ofMillis(200))
                .await().atMost(AWAIT))
                .isInstanceOfSatisfying(BudgetExhaustedException.class,
                        e -> assertThat(e.retryAfter()).isBetween(Duration.ofSeconds(1), Duration.ofSeconds(2)));
        ReplicaBudgets.Granted granted = other.acquire("default", portal, BudgetKind.GENERAL, 1, Duration.ofSeconds(5))
                .await().atMost(AWAIT);
        assertThat(granted.atMs()).isGreaterThanOrEqualTo(pausedUntilMs);
        assertThat(status(portal, BudgetKind.GENERAL).pausedUntil()).as("over").isNull();
        // a pause in the past changes nothing
        budgets.pause("default", portal, BudgetKind.GENERAL, clock.instant().minusSeconds(1)).await().atMost(AWAIT);
        assertThat(status(portal, BudgetKind.GENERAL).pausedUntil()).isNull();
    }

    @Test
    void waitersAreServedInArrivalOrderWithinAReplica() throws Exception {
        long portal = portal();
        ReplicaBudgets replica = replica(new BudgetShape(2, 300));
        replica.acquire("default", portal, BudgetKind.GENERAL, 2, Duration.ZERO).await().atMost(AWAIT);

        // the head wants both permits: the single-permit waiters behind it do not overtake it
        List<String> order = new CopyOnWriteArrayList<>();
        List<CompletableFuture<ReplicaBudgets.Granted>> futures = new ArrayList<>();
        int[] asks = { 2, 1, 1, 1, 1, 2, 1 };
        for (int i = 0; i < asks.length; i++) {
            String name = "w" + i;
            futures.add(replica.acquire("default", portal, BudgetKind.GENERAL, asks[i], Duration.ofSeconds(10))
                    .invoke(g -> order.add(name)).subscribeAsCompletionStage().toCompletableFuture());
        }
        CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(20, TimeUnit.SECONDS);
        assertThat(order).containsExactly("w0", "w1", "w2", "w3", "w4", "w5", "w6");
        List<Long> at = futures.stream().map(f -> f.join().atMs()).toList();
        assertThat(at).isSorted();
        assertThat(at.get(1)).as("w1 waited for w0's turn").isGreaterThanOrEqualTo(at.get(0) + 325);
    }

    @Test
    void aCancelledWaiterGivesUpItsPlace() throws Exception {
        long portal = portal();
        ReplicaBudgets replica = replica(new BudgetShape(1, 300));
        replica.acquire("default", portal, BudgetKind.GENERAL, 1, Duration.ZERO).await().atMost(AWAIT);
        Cancellable head = replica.acquire("default", portal, BudgetKind.GENERAL, 1, Duration.ofSeconds(10))
                .subscribe().with(g -> {
                    throw new AssertionError("cancelled, yet granted");
                });
        CompletableFuture<ReplicaBudgets.Granted> next = replica
                .acquire("default", portal, BudgetKind.GENERAL, 1, Duration.ofSeconds(10))
                .subscribeAsCompletionStage().toCompletableFuture();
        head.cancel();
        assertThat(next.get(10, TimeUnit.SECONDS).grant().granted()).isEqualTo(1);
    }

    @Test
    void aWaiterBehindTheHeadGivesUpAtItsOwnDeadline() {
        long portal = portal();
        ReplicaBudgets replica = replica(new BudgetShape(1, 2_000));
        replica.acquire("default", portal, BudgetKind.GENERAL, 1, Duration.ZERO).await().atMost(AWAIT);
        CompletableFuture<ReplicaBudgets.Granted> head = replica
                .acquire("default", portal, BudgetKind.GENERAL, 1, Duration.ofSeconds(5))
                .subscribeAsCompletionStage().toCompletableFuture();
        long started = System.nanoTime();
        assertThatThrownBy(() -> replica.acquire("default", portal, BudgetKind.GENERAL, 1, Duration.ofMillis(300))
                .await().atMost(AWAIT)).isInstanceOf(BudgetExhaustedException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofMillis(1_500));
        assertThat(head.join().grant().granted()).isEqualTo(1);
    }

    @Test
    void aDatabaseOutageSurfacesAsAnOutage() throws Exception {
        int closed;
        try (ServerSocket socket = new ServerSocket(0)) {
            closed = socket.getLocalPort();
        }
        io.vertx.sqlclient.Pool dead = PgBuilder.pool()
                .with(new PoolOptions().setMaxSize(1).setConnectionTimeout(0)) // as PoolCreator: no timer that fires twice
                .connectingTo(new PgConnectOptions().setHost("127.0.0.1").setPort(closed).setDatabase("postgres")
                        .setUser("postgres").setConnectTimeout(1000))
                .using(vertx).build();
        try {
            ReplicaBudgets replica = new ReplicaBudgets(Pool.newInstance(dead), vertx, metrics,
                    InstantSource.system(), (app, kind) -> new BudgetShape(10, 1000));
            List<Uni<ReplicaBudgets.Granted>> two = List.of(
                    replica.acquire("default", 1, BudgetKind.GENERAL, 1, Duration.ofSeconds(5)),
                    replica.acquire("default", 1, BudgetKind.GENERAL, 1, Duration.ofSeconds(5)));
            for (Uni<ReplicaBudgets.Granted> uni : two) {
                assertThatThrownBy(() -> uni.await().atMost(AWAIT))
                        .satisfies(e -> assertThat(Outages.isDatabaseUnavailable(e)).as(e.toString()).isTrue());
            }
            assertThatThrownBy(() -> replica.status("default", 1, BudgetKind.GENERAL).await().atMost(AWAIT))
                    .satisfies(e -> assertThat(Outages.isDatabaseUnavailable(e)).isTrue());
        } finally {
            dead.close();
        }
    }

    @Test
    void instantsAreOnTheServiceClock() {
        long portal = portal();
        Instant before = clock.instant();
        Grant grant = acquire(portal, BudgetKind.GENERAL, 1, Duration.ZERO);
        assertThat(grant.resetAt()).isBetween(before.plusMillis(10_000), clock.instant().plusMillis(10_500));
    }
}
