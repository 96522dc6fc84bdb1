package dev.tokenvault.refresh;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;

import org.junit.jupiter.api.Test;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

class BackoffAndScheduleTest {

    private static final Instant NOW = Instant.parse("2026-11-23T10:00:00Z");
    private static final Duration LEAD = Duration.ofMinutes(10);

    @Test
    void aNormalTokenIsDueLeadTimeBeforeExpiryWithAtMostATenthOfJitter() {
        Instant expiry = NOW.plus(Duration.ofMinutes(30));
        assertThat(RefreshSchedule.nextRefreshAt(NOW, expiry, LEAD, 0.0)).isEqualTo(expiry.minus(LEAD));
        assertThat(RefreshSchedule.nextRefreshAt(NOW, expiry, LEAD, 0.999))
                .isAfter(expiry.minus(LEAD).minus(Duration.ofMinutes(1)).minusSeconds(1))
                .isBefore(expiry.minus(LEAD));
    }

    @Test
    void aShortLivedTokenIsDueAtHalfLifeNotImmediately() {
        Instant expiry = NOW.plus(Duration.ofMinutes(5)); // shorter than twice the lead time
        Instant due = RefreshSchedule.nextRefreshAt(NOW, expiry, LEAD, 0.0);
        assertThat(due).isEqualTo(NOW.plus(Duration.ofSeconds(150)));
        assertThat(RefreshSchedule.nextRefreshAt(NOW, expiry, LEAD, 0.999)).isAfter(NOW.plus(Duration.ofSeconds(134)));
        assertThat(RefreshSchedule.nextRefreshAt(NOW, NOW.minusSeconds(1), LEAD, 0.5)).isEqualTo(NOW);
    }

    @Property
    void dueIsNeverAfterExpiryNorInThePast(@ForAll @LongRange(min = 1, max = 86_400) long lifeSeconds,
            @ForAll @LongRange(min = 1, max = 7200) long leadSeconds, @ForAll @DoubleRange(min = 0, max = 0.99) double r) {
        Instant expiry = NOW.plusSeconds(lifeSeconds);
        Instant due = RefreshSchedule.nextRefreshAt(NOW, expiry, Duration.ofSeconds(leadSeconds), r);
        assertThat(due).isAfterOrEqualTo(NOW).isBeforeOrEqualTo(expiry);
        // never a hot loop: at least 40 % of the remaining life passes before the next refresh, or lead time fits
        assertThat(Duration.between(NOW, due).toMillis())
                .isGreaterThanOrEqualTo(
                        Math.min((long) (lifeSeconds * 1000 * 0.4), lifeSeconds * 1000 - leadSeconds * 1000 * 11 / 10));
    }

    @Test
    void backoffGrowsIsCappedAndRespectsRetryAfter() {
        assertThat(Backoff.after(1, null, 0.0)).isEqualTo(Duration.ofSeconds(15));
        assertThat(Backoff.after(1, null, 0.999)).isLessThanOrEqualTo(Duration.ofSeconds(30));
        assertThat(Backoff.after(2, null, 0.0)).isEqualTo(Duration.ofSeconds(30));
        assertThat(Backoff.after(3, null, 0.0)).isEqualTo(Duration.ofSeconds(60));
        assertThat(Backoff.after(30, null, 0.999)).isLessThanOrEqualTo(Duration.ofHours(1));
        assertThat(Backoff.after(1, Duration.ofMinutes(5), 0.5)).isEqualTo(Duration.ofMinutes(5));
        assertThat(Backoff.after(10, Duration.ofSeconds(1), 0.0)).isGreaterThan(Duration.ofSeconds(1));
        assertThat(Backoff.after(1, Duration.ofDays(2), 0.0)).isEqualTo(Duration.ofHours(1));
    }

    @Property
    void backoffNeverShrinksAsFailuresGrow(@ForAll @IntRange(min = 1, max = 40) int failures) {
        assertThat(Backoff.after(failures + 1, null, 0.0)).isGreaterThanOrEqualTo(Backoff.after(failures, null, 0.0));
    }
}
