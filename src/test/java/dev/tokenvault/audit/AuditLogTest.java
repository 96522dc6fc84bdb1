package dev.tokenvault.audit;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;

import java.time.Duration;
import java.util.List;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;

import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.Jwts;
import dev.tokenvault.testing.LogCapture;
import dev.tokenvault.testing.Management;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.junit.QuarkusTest;

/** The audit trail survives a database that refuses writes: events stay queued, failures are counted. */
@QuarkusTest
class AuditLogTest {

    @Inject
    AuditLog audit;

    @Inject
    MeterRegistry registry;

    double failures() {
        return registry.get("tokenvault_audit_write_failures_total").counter().count();
    }

    @Test
    void aFailedWriteIsCountedKeptAndRetried() throws Exception {
        audit.flush().await().indefinitely();
        double before = failures();
        Db.update("alter table audit_log rename to audit_log_offline");
        try {
            audit.record("auditor", "ops", 9301L, "test.action", "ok", "first");
            audit.record("auditor", "ops", 9301L, "test.action", "ok", "second");
            audit.flush().await().indefinitely();
            assertThat(failures()).isEqualTo(before + 1);
            assertThat(audit.pending()).isGreaterThanOrEqualTo(2);
        } finally {
            Db.update("alter table audit_log_offline rename to audit_log");
        }
        audit.flush().await().indefinitely();
        assertThat(audit.pending()).isZero();
        assertThat(Db.count("select count(*) from audit_log where portal_id = 9301 and action = 'test.action'"))
                .isEqualTo(2);
    }

    @Test
    void aFullBacklogRefusesAuditedRequestsUntilItDrains() throws Exception {
        audit.flush().await().indefinitely();
        String admin = Jwts.admin();
        String path = "/v1/apps/ops/portals/9302";
        given().auth().oauth2(admin).get(path + "/token").then().statusCode(404); // nothing stored: audited
        audit.flush().await().indefinitely();
        long auditedBefore = Db.count("select count(*) from audit_log where portal_id = 9302");
        Db.update("alter table audit_log rename to audit_log_offline");
        try {
            for (int i = 0; i < 100_000; i++) { // tokenvault.audit.max-backlog
                audit.record("filler", "ops", 9303L, "test.filler", "ok", null);
            }
            audit.flush().await().indefinitely(); // fails: everything stays queued
            assertThat(audit.pending()).isGreaterThanOrEqualTo(100_000);
            assertThat(gauge()).isGreaterThanOrEqualTo(100_000);
            for (String p : List.of(path, path + "/token", "/v1/admin/audit", "/v1/apps/ops/portals")) {
                given().auth().oauth2(admin).get(p).then().statusCode(503)
                        .contentType("application/problem+json").header("Retry-After", "5")
                        .body("detail", containsString("audit trail"));
            }
            double droppedBefore = registry.get("tokenvault_audit_dropped_total").counter().count();
            int pendingBefore = audit.pending();
            // bad input is answered (nothing is handed out) and its audit event counted instead of queued
            given().auth().oauth2(admin).get(path + "/token?minValidity=bad").then().statusCode(400);
            assertThat(audit.pending()).isEqualTo(pendingBefore);
            assertThat(registry.get("tokenvault_audit_dropped_total").counter().count()).isEqualTo(droppedBefore + 1);
            given().auth().oauth2(admin).get("/v1/whoami").then().statusCode(200); // not audited, still served
            double dropped = registry.get("tokenvault_audit_dropped_total").counter().count();
            int pending = audit.pending();
            audit.recordIfAccepting(null, "ops", null, "webhook.receive", "refused", "BAD_SIGNATURE");
            assertThat(audit.pending()).isEqualTo(pending); // unauthenticated noise is counted, not queued
            assertThat(registry.get("tokenvault_audit_dropped_total").counter().count()).isEqualTo(dropped + 1);
        } finally {
            Db.update("alter table audit_log_offline rename to audit_log");
        }
        audit.flush().await().indefinitely();
        assertThat(audit.pending()).isZero();
        assertThat(Db.count("select count(*) from audit_log where action = 'test.filler'")).isEqualTo(100_000);
        assertThat(Db.count("select count(*) from audit_log where portal_id = 9302")).isEqualTo(auditedBefore);
        given().auth().oauth2(admin).get(path + "/token").then().statusCode(404);
        audit.flush().await().indefinitely();
        assertThat(Db.count("select count(*) from audit_log where portal_id = 9302")).isEqualTo(auditedBefore + 1);
        Db.update("delete from audit_log where action = 'test.filler'");
    }

    @Test
    void anEventThatPostgresCouldNotStoreDoesNotBlockTheTrail() throws Exception {
        audit.flush().await().indefinitely();
        double before = failures();
        String reader = Jwts.token("svc-nul", java.util.Set.of("tokens.read"), List.of("9304"));
        // a NUL in the app path parameter reaches the audit record of the 400 answer
        given().auth().oauth2(reader).urlEncodingEnabled(false).get("/v1/apps/op%00s/portals/9304/token")
                .then().statusCode(400);
        try (LogCapture logs = LogCapture.install()) { // nor can a path forge log lines
            given().auth().oauth2(reader).urlEncodingEnabled(false)
                    .get("/v1/apps/op%0d%0a2026-01-01%20ERROR%20FAKE/portals/9304/token").then().statusCode(400);
            assertThat(logs.lines()).filteredOn(l -> l.contains("FAKE")).isNotEmpty()
                    .allSatisfy(l -> assertThat(l).doesNotContain("\n", "\r", "\u0000"));
        }
        audit.record("x".repeat(5000), "ops", 9304L, "test.long", "ok", "y\u0000z");
        audit.flush().await().indefinitely();
        assertThat(failures()).isEqualTo(before);
        assertThat(audit.pending()).isZero();
        assertThat(Db.count("select count(*) from audit_log where sub = 'svc-nul' and app = 'op\ufffds'"))
                .isEqualTo(1);
        assertThat(Db.count("select count(*) from audit_log where action = 'test.long' and length(sub) = 512 "
                + "and detail = 'y\ufffdz'")).isEqualTo(1);
    }

    double gauge() {
        return registry.get("tokenvault_audit_pending").gauge().value();
    }

    @Test
    void metricsAreExposedFromStartUp() {
        Management.given().get("/q/metrics").then().statusCode(200)
                .body(containsString("tokenvault_audit_write_failures_total"))
                .body(containsString("tokenvault_audit_pending"))
                .body(containsString("tokenvault_audit_dropped_total"))
                .body(containsString("tokenvault_refresh_total{outcome=\"success\"}"))
                .body(containsString("tokenvault_refresh_total{outcome=\"rejected\"}"))
                .body(containsString("tokenvault_refresh_total{outcome=\"transient\"}"))
                .body(containsString("tokenvault_refresh_seconds"))
                .body(containsString("tokenvault_handouts_total{outcome=\"cache\"}"))
                .body(containsString("tokenvault_notify_failures_total"))
                .body(containsString("tokenvault_connections{status=\"active\"}"))
                .body(containsString("tokenvault_connections{status=\"needs_reauth\"}"))
                .body(containsString("tokenvault_connections_due"))
                .body(containsString("tokenvault_notifications_pending"))
                .body(containsString("tokenvault_revocations_pending"))
                .body(containsString("tokenvault_static_token_age_seconds"))
                .body(containsString("tokenvault_static_tokens_rotation_due"));
        // the data-key gauge is computed by a query that starts with the application: it appears once that answers
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> Management.given().get("/q/metrics").then().statusCode(200)
                .body(containsString("tokenvault_data_keys{key_version=\"k")));
    }

    @Test
    void openApiDescribesEveryEndpoint() {
        String doc = given().get("/q/openapi").then().statusCode(200).extract().asString();
        for (String path : new String[] { "/v1/apps/{app}/portals/{portalId}/token", "/v1/apps/{app}/portals",
                "/v1/apps/{app}/portals/{portalId}/token/refresh", "/v1/apps/{app}/portals/{portalId}",
                "/v1/apps/{app}/portals/{portalId}/private-app-token", "/v1/apps/{app}/portals/{portalId}/static-token",
                "/v1/apps/{app}/portals/{portalId}/static-token/rollback", "/v1/admin/rewrap", "/v1/admin/audit",
                "/v1/whoami", "/v1/apps/{app}/portals/{portalId}/hubspot/{path}",
                "/v1/apps/{app}/portals/{portalId}/rate-budget", "/v1/apps/{app}/portals/{portalId}/rate-budget/acquire" }) {
            assertThat(doc).contains(path + ":");
        }
        assertThat(doc).contains("TokenResponse").contains("Connection").contains("needs_reauth")
                .contains("rate-budget-exhausted");
    }
}
