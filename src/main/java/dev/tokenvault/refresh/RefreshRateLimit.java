package dev.tokenvault.refresh;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;

import com.github.benmanes.caffeine.cache.Cache;

import dev.tokenvault.config.Caches;

/**
 * Caps on-demand refreshes of one connection per replica: at most {@link #PER_REPLICA} in any
 * {@link #WINDOW}, well inside HubSpot's limit of {@value #HUBSPOT_LIMIT} OAuth calls per 10 seconds per portal and
 * app even with several replicas, so a caller looping on forced refreshes cannot get the app rate-limited.
 */
final class RefreshRateLimit {

    static final int HUBSPOT_LIMIT = 100;
    static final int PER_REPLICA = 10;
    static final Duration WINDOW = Duration.ofSeconds(10);

    private final Cache<String, Deque<Instant>> recent = Caches.expireAfterAccess(100_000, WINDOW.multipliedBy(2));

    /** Records a refresh of {@code key} at {@code now} if the cap allows it. */
    boolean tryAcquire(String key, Instant now) {
        Deque<Instant> calls = recent.get(key, k -> new ArrayDeque<>());
        synchronized (calls) {
            while (!calls.isEmpty() && !calls.peekFirst().isAfter(now.minus(WINDOW))) {
                calls.pollFirst();
            }
            if (calls.size() >= PER_REPLICA) {
                return false;
            }
            calls.addLast(now);
            return true;
        }
    }
}
