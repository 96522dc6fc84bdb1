package dev.tokenvault.budget;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;

import dev.tokenvault.config.TokenVaultConfig;

/** The sliding log's arithmetic, the margin, Retry-After rounding and the start-up checks: no Quarkus, no database. */
class RateBudgetWindowTest {

    static final BudgetShape TEN_PER_SECOND = new BudgetShape(10, 1000);

    @Test
    void theMarginIsTwoAndAHalfPercentWithinBounds() {
        assertThat(new BudgetShape(100, 10_000).marginMs()).isEqualTo(250);
        assertThat(new BudgetShape(5, 1000).marginMs()).isEqualTo(25);
        assertThat(new BudgetShape(5, 100).marginMs()).as("at least 25 ms").isEqualTo(25);
        assertThat(new BudgetShape(5, 60_000).marginMs()).as("at most 250 ms").isEqualTo(250);
        assertThat(new BudgetShape(100, 10_000).spanMs()).isEqualTo(10_250);
        // the margin costs at most 2.5 % of the budget under sustained overload
        for (long interval : new long[] { 1000, 10_000 }) {
            BudgetShape shape = new BudgetShape(100, interval);
            assertThat((double) interval / shape.spanMs()).isGreaterThanOrEqualTo(0.975);
        }
    }

    @Test
    void grantsOlderThanTheSpanStopCounting() {
        BudgetWindow w = BudgetWindow.of(TEN_PER_SECOND, 10_000, new long[] { 8_974, 8_975, 8_976, 9_500 });
        // span 1025 ms: a grant at 8975 stops counting at 10000
        assertThat(w.grants()).containsExactly(8_976, 9_500);
        assertThat(w.used()).isEqualTo(2);
        assertThat(w.remaining()).isEqualTo(8);
        assertThat(w.fullAt()).isEqualTo(9_500 + 1025);
    }

    @Test
    void aFullLogFreesWhenItsOldestGrantsStopCounting() {
        long[] grants = new long[10];
        for (int i = 0; i < 10; i++) {
            grants[i] = 1_000 + i * 10;
        }
        BudgetWindow w = BudgetWindow.of(TEN_PER_SECOND, 1_500, grants);
        assertThat(w.fits(1)).isFalse();
        assertThat(w.remaining()).isZero();
        assertThat(w.freeAt(1)).isEqualTo(1_000 + 1025);
        assertThat(w.freeAt(3)).isEqualTo(1_020 + 1025);
        assertThat(w.freeAt(10)).isEqualTo(1_090 + 1025);
        // at that instant they fit
        assertThat(BudgetWindow.of(TEN_PER_SECOND, w.freeAt(3), grants).fits(3)).isTrue();
        assertThat(BudgetWindow.of(TEN_PER_SECOND, w.freeAt(3) - 1, grants).fits(3)).isFalse();
    }

    @Test
    void anEmptyLogGrantsAtNow() {
        BudgetWindow w = BudgetWindow.of(TEN_PER_SECOND, 5_000, new long[0]);
        assertThat(w.fits(10)).isTrue();
        assertThat(w.fits(11)).isFalse();
        assertThat(w.freeAt(4)).isEqualTo(5_000);
        assertThat(w.fullAt()).isEqualTo(5_000);
        BudgetWindow after = w.grant(4);
        assertThat(after.grants()).containsExactly(5_000, 5_000, 5_000, 5_000);
        assertThat(after.remaining()).isEqualTo(6);
        assertThat(after.fullAt()).isEqualTo(6_025);
    }

    @Test
    void aClockBehindTheNewestGrantNeverReordersTheLog() {
        BudgetWindow w = BudgetWindow.of(TEN_PER_SECOND, 1_000, new long[] { 1_200 });
        assertThat(w.grantTime()).isEqualTo(1_200);
        assertThat(w.grant(1).grants()).containsExactly(1_200, 1_200);
    }

    @Test
    void aLoweredBudgetLeavesNoRoomUntilEnoughStopCounting() {
        long[] grants = { 100, 200, 300, 400, 500 };
        BudgetWindow w = BudgetWindow.of(new BudgetShape(3, 1000), 600, grants);
        assertThat(w.remaining()).isZero();
        assertThat(w.fits(1)).isFalse();
        assertThat(w.freeAt(1)).isEqualTo(300 + 1025); // 3 of 5 must go for one more to fit
        assertThat(w.reshaped(new BudgetShape(10, 1000)).remaining()).isEqualTo(5);
    }

    @Test
    void unsortedStoredGrantsAreSortedFirst() {
        BudgetWindow w = BudgetWindow.of(TEN_PER_SECOND, 1_000, new long[] { 900, 100, 500 });
        assertThat(w.grants()).containsExactly(100, 500, 900);
    }

    /**
     * Random arrivals and sizes against the log, with a clock that sometimes steps back: no window of the span ever
     * holds more than {@code calls}, and a waiter that waits until {@code freeAt} always fits then.
     */
    @Test
    void noWindowEverHoldsMoreThanTheBudget() {
        Random random = new Random(42);
        for (int run = 0; run < 200; run++) {
            BudgetShape shape = new BudgetShape(1 + random.nextInt(20), 50 + random.nextInt(2000));
            long now = 1_000_000;
            long[] log = new long[0];
            List<Long> all = new ArrayList<>();
            for (int step = 0; step < 300; step++) {
                now += random.nextInt(10) == 0 ? -random.nextInt(20) : random.nextInt((int) shape.intervalMs() / 5 + 1);
                int calls = 1 + random.nextInt(Math.min(3, shape.calls()));
                BudgetWindow w = BudgetWindow.of(shape, now, log);
                if (!w.fits(calls)) {
                    long freeAt = w.freeAt(calls);
                    assertThat(freeAt).isGreaterThan(now);
                    assertThat(BudgetWindow.of(shape, freeAt, log).fits(calls)).isTrue();
                    continue;
                }
                long at = w.grantTime();
                w = w.grant(calls);
                for (int i = 0; i < calls; i++) {
                    all.add(at);
                }
                log = w.grants();
            }
            long[] times = all.stream().mapToLong(Long::longValue).sorted().toArray();
            assertThat(maxInWindow(times, shape.spanMs())).as("run %d, %s", run, shape)
                    .isLessThanOrEqualTo(shape.calls());
        }
    }

    /** The most grants in any half-open window {@code [s, s + width)}. */
    static int maxInWindow(long[] sorted, long width) {
        int max = 0;
        int first = 0;
        for (int last = 0; last < sorted.length; last++) {
            while (sorted[last] - sorted[first] >= width) {
                first++;
            }
            max = Math.max(max, last - first + 1);
        }
        return max;
    }

    @Test
    void maxInWindowCountsHalfOpenWindows() {
        assertThat(maxInWindow(new long[] { 0, 999, 1000, 1999 }, 1000)).isEqualTo(2);
        assertThat(maxInWindow(new long[] { 0, 0, 0 }, 1)).isEqualTo(3);
        assertThat(maxInWindow(new long[0], 1000)).isZero();
    }

    @Test
    void retryAfterIsWholeSecondsAndAtLeastOne() {
        assertThat(BudgetExhaustedException.after(0).retryAfter()).isEqualTo(Duration.ofSeconds(1));
        assertThat(BudgetExhaustedException.after(1).retryAfter()).isEqualTo(Duration.ofSeconds(1));
        assertThat(BudgetExhaustedException.after(1000).retryAfter()).isEqualTo(Duration.ofSeconds(1));
        assertThat(BudgetExhaustedException.after(1001).retryAfter()).isEqualTo(Duration.ofSeconds(2));
        assertThat(BudgetExhaustedException.after(-5).retryAfter()).isEqualTo(Duration.ofSeconds(1));
    }

    @Test
    void aShapeOutsideItsBoundsIsRefused() {
        assertThatThrownBy(() -> new BudgetShape(0, 1000)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new BudgetShape(BudgetShape.MAX_CALLS + 1, 1000))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new BudgetShape(1, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    record Limit(int calls, Duration interval, int searchCalls, Duration searchInterval)
            implements
                TokenVaultConfig.App.RateLimit {
    }

    @Test
    void startUpRefusesABudgetThatCannotBeHonouredNamingTheKey() {
        Limit ok = new Limit(100, Duration.ofSeconds(10), 5, Duration.ofSeconds(1));
        RateBudgets.validate(Map.of("default", ok));
        assertThatThrownBy(() -> RateBudgets.validate(Map.of("crm", new Limit(0, ok.interval(), 5, ok.searchInterval()))))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("tokenvault.apps.crm.rate-limit.calls");
        assertThatThrownBy(() -> RateBudgets.validate(Map.of("crm", new Limit(100, Duration.ZERO, 5, ok.searchInterval()))))
                .hasMessageContaining("tokenvault.apps.crm.rate-limit.interval");
        assertThatThrownBy(() -> RateBudgets.validate(Map.of("crm", new Limit(100, ok.interval(), 0, ok.searchInterval()))))
                .hasMessageContaining("tokenvault.apps.crm.rate-limit.search-calls");
        assertThatThrownBy(() -> RateBudgets.validate(Map.of("crm",
                new Limit(100, ok.interval(), 5, Duration.ofMillis(-1)))))
                .hasMessageContaining("tokenvault.apps.crm.rate-limit.search-interval");
    }
}
