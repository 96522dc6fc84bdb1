package dev.tokenvault.refresh;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Exponential backoff with jitter for transient refresh failures: 30 s, 1 min, 2 min, ... capped at 1 h, each drawn
 * in [50 %, 100 %] of its step, and never sooner than HubSpot's {@code Retry-After}.
 */
public final class Backoff {

    static final Duration BASE = Duration.ofSeconds(30);
    static final Duration CAP = Duration.ofHours(1);

    private Backoff() {
    }

    public static Duration after(int failures, Duration retryAfter) {
        return after(failures, retryAfter, ThreadLocalRandom.current().nextDouble());
    }

    /** @param random in [0, 1): the jitter draw, given for tests */
    public static Duration after(int failures, Duration retryAfter, double random) {
        int exponent = Math.max(0, Math.min(failures - 1, 20));
        long step = Math.min(CAP.toMillis(), BASE.toMillis() << exponent);
        Duration delay = Duration.ofMillis((long) (step * (0.5 + 0.5 * random)));
        if (retryAfter != null && retryAfter.compareTo(delay) > 0) {
            delay = retryAfter.compareTo(CAP) > 0 ? CAP : retryAfter;
        }
        return delay;
    }
}
