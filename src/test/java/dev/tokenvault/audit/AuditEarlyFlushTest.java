package dev.tokenvault.audit;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.hasSize;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;

import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.Jwts;
import dev.tokenvault.testing.TestClock;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;

/**
 * How batches are formed and written, with the scheduled flush set to an hour so that only the test (or the early
 * flush of a full batch) decides what one batch holds: a full batch is written without waiting, a failing database is
 * left to the scheduled retry instead of being hit on every batch, and identical hand-outs of a batch become one
 * record with a count.
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

    @Inject
    TestClock clock;

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

    @Test
    void identicalHandOutsOfABatchAreOneRecordWithACountAndOtherActionsAreNot() throws Exception {
        audit.flush().await().indefinitely();
        for (int i = 0; i < 5; i++) {
            audit.record("svc-a", "ops", 9501L, "token.handout", "cache", null);
        }
        audit.record("svc-b", "ops", 9501L, "token.handout", "cache", null);
        audit.record("svc-a", "ops", 9501L, "token.handout", "store", null);
        audit.record("svc-a", "ops", 9501L, "token.handout", "store", null);
        Thread.sleep(5); // so that "later" is visible at the database's microsecond resolution
        audit.record("svc-a", "ops", 9501L, "token.handout", "cache", null); // later, same as the first five
        audit.record("ops-admin", "ops", 9501L, "private_app_token.put", "ok", null);
        audit.record("ops-admin", "ops", 9501L, "private_app_token.put", "ok", null);
        audit.flush().await().indefinitely();

        assertThat(Db.count("select count(*) from audit_log where portal_id = 9501")).isEqualTo(5);
        assertThat(Db.count("select sum(count) from audit_log where portal_id = 9501")).isEqualTo(11);
        assertThat(Db.count("select count from audit_log where portal_id = 9501 and sub = 'svc-a' "
                + "and outcome = 'cache' and last_at > at")).isEqualTo(6);
        assertThat(Db.count("select count from audit_log where portal_id = 9501 and sub = 'svc-b' "
                + "and last_at is null")).isEqualTo(1);
        assertThat(Db.count("select count(*) from audit_log where portal_id = 9501 "
                + "and action = 'private_app_token.put' and count = 1")).isEqualTo(2); // never coalesced

        Response page = given().auth().oauth2(Jwts.admin()).queryParam("portalId", 9501).get("/v1/admin/audit");
        page.then().statusCode(200).body("items", hasSize(5));
        List<Map<String, Object>> items = page.path("items");
        Map<String, Object> cache = items.stream()
                .filter(i -> "svc-a".equals(i.get("sub")) && "cache".equals(i.get("outcome"))).findFirst().orElseThrow();
        assertThat(cache.get("count")).isEqualTo(6);
        assertThat(Instant.parse((String) cache.get("lastAt"))).isAfter(Instant.parse((String) cache.get("at")));
        Map<String, Object> put = items.stream().filter(i -> "private_app_token.put".equals(i.get("action")))
                .findFirst().orElseThrow();
        assertThat(put.get("count")).isEqualTo(1);
        assertThat(put.get("lastAt")).isEqualTo(put.get("at"));
        // a caller asking "since" the last of the coalesced hand-outs still finds the record
        given().auth().oauth2(Jwts.admin()).queryParam("portalId", 9501).queryParam("since", cache.get("lastAt"))
                .get("/v1/admin/audit").then().statusCode(200)
                .body("items.findAll { it.sub == 'svc-a' && it.outcome == 'cache' }.count", contains(6));
        Db.update("delete from audit_log where portal_id = 9501");
    }

    @Test
    void aCoalescedRecordNeverSpansMoreThanOneSecond() throws Exception {
        audit.flush().await().indefinitely();
        audit.record("svc-c", "ops", 9502L, "token.handout", "cache", null);
        audit.record("svc-c", "ops", 9502L, "token.handout", "cache", null);
        clock.advance(Duration.ofSeconds(2));
        try {
            audit.record("svc-c", "ops", 9502L, "token.handout", "cache", null);
        } finally {
            clock.reset();
        }
        audit.flush().await().indefinitely();
        assertThat(Db.count("select count(*) from audit_log where portal_id = 9502")).isEqualTo(2);
        assertThat(Db.count("select sum(count) from audit_log where portal_id = 9502")).isEqualTo(3);
        assertThat(Db.count("select count(*) from audit_log where portal_id = 9502 "
                + "and coalesce(last_at, at) - at >= interval '1 second'")).isZero();
        Db.update("delete from audit_log where portal_id = 9502");
    }
}
