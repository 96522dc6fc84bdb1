package dev.tokenvault.connection;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;

import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.InstallFlow;
import dev.tokenvault.testing.Management;
import io.quarkus.test.junit.QuarkusTest;

/** The gauges computed from the database: what operators watch before retiring a key or when refreshes lag. */
@QuarkusTest
class ConnectionGaugesTest {

    static double gauge(String metrics, String name) {
        return metrics.lines().filter(l -> l.startsWith(name + " "))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.indexOf(' ') + 1))).findFirst().orElse(-1);
    }

    @Inject
    ConnectionGauges gauges;

    @Test
    void theDataKeyGaugeCountsPendingRevocationsToo() throws Exception {
        // a version still holding a pending revocation's key must be visible before anyone retires it
        Db.update("insert into pending_revocation (app, portal_id, wrapped_key, key_version, ciphertext, created_at, "
                + "next_attempt_at) values ('ops', 9701, 'local:k-retiring:AAAA', 'k-retiring', '\\x00', now(), "
                + "now() + interval '1 day')");
        try {
            gauges.update().await().indefinitely();
            String metrics = Management.given().get("/q/metrics").then().statusCode(200)
                    .body(containsString("tokenvault_data_keys{key_version=\"k-retiring\"} 1.0")).extract().asString();
            // this one, and any other test's still pending
            assertThat(gauge(metrics, "tokenvault_revocations_pending")).isGreaterThanOrEqualTo(1);
        } finally {
            Db.update("delete from pending_revocation where portal_id = 9701");
            gauges.update().await().indefinitely();
        }
    }

    @Test
    void anActiveConnectionWhoseAccessTokenExpiredIsCounted() throws Exception {
        assertThat(InstallFlow.install("default", 9702).statusCode()).isEqualTo(200);
        try {
            gauges.update().await().indefinitely();
            double before = gauge(Management.given().get("/q/metrics").asString(), "tokenvault_connections_expired");
            Db.update("update connection set access_expires_at = now() - interval '1 minute' where portal_id = 9702");
            gauges.update().await().indefinitely();
            assertThat(gauge(Management.given().get("/q/metrics").asString(), "tokenvault_connections_expired"))
                    .isGreaterThanOrEqualTo(before + 1);
        } finally {
            Db.update("delete from connection where portal_id = 9702");
            gauges.update().await().indefinitely();
        }
    }
}
