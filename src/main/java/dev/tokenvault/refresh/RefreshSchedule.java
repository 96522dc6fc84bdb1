package dev.tokenvault.refresh;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ThreadLocalRandom;

/**
 * When a connection is next due for refresh. A token is due at expiry − lead time, minus a jitter of up to a tenth of
 * the lead time so that tokens issued together are not refreshed together. A token that lives less than twice the
 * lead time is due at half its remaining life instead, so short-lived tokens are never refreshed in a loop.
 */
public final class RefreshSchedule {

    private RefreshSchedule() {
    }

    public static Instant nextRefreshAt(Instant now, Instant expiresAt, Duration leadTime) {
        return nextRefreshAt(now, expiresAt, leadTime, ThreadLocalRandom.current().nextDouble());
    }

    /** @param random in [0, 1): the jitter draw, given for tests */
    public static Instant nextRefreshAt(Instant now, Instant expiresAt, Duration leadTime, double random) {
        Duration life = Duration.between(now, expiresAt);
        if (life.isNegative() || life.isZero()) {
            return now;
        }
        if (life.compareTo(leadTime.multipliedBy(2)) < 0) {
            Duration half = life.dividedBy(2);
            // jitter within the last tenth before half-life, never earlier than 40% of the life
            return now.plus(half).minus(Duration.ofMillis((long) (half.toMillis() * 0.1 * random)));
        }
        Duration jitter = Duration.ofMillis((long) (leadTime.toMillis() * 0.1 * random));
        return expiresAt.minus(leadTime).minus(jitter);
    }
}
