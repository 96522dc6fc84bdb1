package dev.tokenvault.audit;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;

import java.util.List;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;

import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.Jwts;
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
            given().auth().oauth2(admin).get(path + "/token?minValidity=bad").then().statusCode(503);
            given().auth().oauth2(admin).get("/v1/whoami").then().statusCode(200); // not audited, still served
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

    double gauge() {
        return registry.get("tokenvault_audit_pending").gauge().value();
    }

    @Test
    void metricsAreExposedFromStartUp() {
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("tokenvault_audit_write_failures_total"))
                .body(containsString("tokenvault_audit_pending"))
                .body(containsString("tokenvault_refresh_total{outcome=\"success\"}"))
                .body(containsString("tokenvault_refresh_total{outcome=\"rejected\"}"))
                .body(containsString("tokenvault_refresh_total{outcome=\"transient\"}"))
                .body(containsString("tokenvault_refresh_seconds"))
                .body(containsString("tokenvault_handouts_total{outcome=\"cache\"}"))
                .body(containsString("tokenvault_notify_failures_total"))
                .body(containsString("tokenvault_connections{status=\"active\"}"))
                .body(containsString("tokenvault_connections{status=\"needs_reauth\"}"))
                .body(containsString("tokenvault_connections_due"))
                .body(containsString("tokenvault_data_keys{key_version=\"k"));
    }

    @Test
    void openApiDescribesEveryEndpoint() {
        String doc = given().get("/q/openapi").then().statusCode(200).extract().asString();
        for (String path : new String[] { "/v1/apps/{app}/portals/{portalId}/token", "/v1/apps/{app}/portals",
                "/v1/apps/{app}/portals/{portalId}/token/refresh", "/v1/apps/{app}/portals/{portalId}",
                "/v1/apps/{app}/portals/{portalId}/private-app-token", "/v1/admin/rewrap", "/v1/admin/audit",
                "/v1/whoami" }) {
            assertThat(doc).contains(path + ":");
        }
        assertThat(doc).contains("TokenResponse").contains("Connection").contains("needs_reauth");
    }
}
