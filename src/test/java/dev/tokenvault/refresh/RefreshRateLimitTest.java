package dev.tokenvault.refresh;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;

import org.junit.jupiter.api.Test;

class RefreshRateLimitTest {

    @Test
    void allowsTenPerTenSecondsPerConnection() {
        RefreshRateLimit limit = new RefreshRateLimit();
        Instant t0 = Instant.parse("2026-11-23T10:00:00Z");
        for (int i = 0; i < RefreshRateLimit.PER_REPLICA; i++) {
            assertThat(limit.tryAcquire("default/1", t0.plusMillis(i))).isTrue();
        }
        assertThat(limit.tryAcquire("default/1", t0.plusSeconds(5))).isFalse();
        assertThat(limit.tryAcquire("default/2", t0.plusSeconds(5))).as("another connection").isTrue();
        assertThat(limit.tryAcquire("default/1", t0.plusSeconds(10).plusMillis(1))).isTrue();
        assertThat(RefreshRateLimit.PER_REPLICA * 3).isLessThan(RefreshRateLimit.HUBSPOT_LIMIT);
    }
}
