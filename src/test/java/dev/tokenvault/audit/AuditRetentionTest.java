package dev.tokenvault.audit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;

import dev.tokenvault.testing.Db;
import io.quarkus.test.junit.QuarkusTest;

/** Retention deletes what is older than the cut-off, in chunks, keeps the rest, and audits itself. */
@QuarkusTest
class AuditRetentionTest {

    @Inject
    AuditRetention retention;

    @Inject
    AuditLog audit;

    @Test
    void recordsOlderThanTheCutOffAreDeletedInChunksAndThePurgeIsAudited() throws Exception {
        audit.flush().await().indefinitely();
        Instant now = Instant.now();
        int old = AuditRetention.CHUNK + 5; // more than one chunk
        Db.update("insert into audit_log (at, sub, app, portal_id, action, outcome) "
                + "select now() - interval '400 days', 'old', 'ops', 9601, 'test.retention', 'ok' "
                + "from generate_series(1, " + old + ")");
        // an old first event whose coalesced last event is recent: kept
        Db.update("insert into audit_log (at, last_at, count, sub, app, portal_id, action, outcome) "
                + "values (now() - interval '400 days', now() - interval '1 day', 7, 'recent-last', 'ops', 9601, "
                + "'token.handout', 'cache')");
        Db.update("insert into audit_log (at, sub, app, portal_id, action, outcome) "
                + "values (now() - interval '10 days', 'young', 'ops', 9601, 'test.retention', 'ok')");

        long deleted = retention.purgeOlderThan(now.minus(Duration.ofDays(90))).await().indefinitely();

        assertThat(deleted).isGreaterThanOrEqualTo(old); // and whatever else older tests left behind
        assertThat(Db.count("select count(*) from audit_log where portal_id = 9601 and sub = 'old'")).isZero();
        assertThat(Db.count("select count(*) from audit_log where portal_id = 9601 and sub in ('young', 'recent-last')"))
                .isEqualTo(2);
        audit.flush().await().indefinitely();
        assertThat(Db.count("select count(*) from audit_log where action = 'audit.purge' and detail like ?",
                "deleted " + deleted + " records before %")).isEqualTo(1);

        assertThat(retention.purgeOlderThan(now.minus(Duration.ofDays(90))).await().indefinitely()).isZero();
        audit.flush().await().indefinitely();
        assertThat(Db.count("select count(*) from audit_log where action = 'audit.purge'")).isEqualTo(1); // no-op: silent
        Db.update("delete from audit_log where portal_id = 9601 or action = 'audit.purge'");
    }
}
