package dev.tokenvault.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.Map;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;

import dev.tokenvault.testing.Db;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;

/**
 * A full batch is written without waiting for the scheduled flush (set to an hour here, so only the early flush can
 * write), and a failing database is left to the scheduled retry instead of being hit on every batch.
 */
@QuarkusTest
@TestProfile(AuditEarlyFlushTest.NoScheduledFlush.class)
class AuditEarlyFlushTest {

    public static class NoScheduledFlush implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tokenvault.audit.flush-interval", "1h");
        }
    }

    @Inject
    AuditLog audit;

    @Inject
    MeterRegistry registry;

    double failures() {
        return registry.get("tokenvault_audit_write_failures_total").counter().count();
    }

    void record(int n, String action) {
        for (int i = 0; i < n; i++) {
            audit.record("early", "ops", 9401L, action, "ok", null);
        }
    }

    @Test
    void aFullBatchIsWrittenAtOnceAndAFailingDatabaseIsNotHammered() throws Exception {
        audit.flush().await().indefinitely();
        int start = audit.pending();
        assertThat(start).isZero();

        long early = audit.earlyFlushes();
        record(AuditLog.BATCH - 1, "test.early");
        assertThat(audit.pending()).isEqualTo(AuditLog.BATCH - 1); // nothing started a flush
        assertThat(audit.earlyFlushes()).isEqualTo(early);
        record(1, "test.early");
        assertThat(audit.earlyFlushes()).isEqualTo(early + 1);
        await().atMost(Duration.ofSeconds(30)).until(() -> audit.pending() == 0);
        assertThat(Db.count("select count(*) from audit_log where action = 'test.early'")).isEqualTo(AuditLog.BATCH);

        Db.update("alter table audit_log rename to audit_log_offline");
        try {
            double before = failures();
            record(AuditLog.BATCH, "test.early.failing");
            await().atMost(Duration.ofSeconds(30)).until(() -> failures() > before);
            audit.flush().await().indefinitely(); // waits for the early one, fails as well
            long earlyWhileFailing = audit.earlyFlushes();
            record(3 * AuditLog.BATCH, "test.early.failing");
            assertThat(audit.earlyFlushes()).isEqualTo(earlyWhileFailing); // left to the scheduled retry
            assertThat(audit.pending()).isEqualTo(4 * AuditLog.BATCH);
        } finally {
            Db.update("alter table audit_log_offline rename to audit_log");
        }
        audit.flush().await().indefinitely(); // what the scheduled flush does
        assertThat(audit.pending()).isZero();
        assertThat(Db.count("select count(*) from audit_log where action = 'test.early.failing'"))
                .isEqualTo(4 * AuditLog.BATCH);
        record(AuditLog.BATCH, "test.early.again"); // writes succeed again: early flushes are back
        await().atMost(Duration.ofSeconds(30)).until(() -> audit.pending() == 0);
        Db.update("delete from audit_log where action like 'test.early%'");
    }
}
