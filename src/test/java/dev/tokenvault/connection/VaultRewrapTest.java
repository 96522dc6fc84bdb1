package dev.tokenvault.connection;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

import jakarta.inject.Inject;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tokenvault.crypto.SecretField;
import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.FakeVault;
import dev.tokenvault.testing.FakeVaultResource;
import dev.tokenvault.testing.Jwts;
import dev.tokenvault.testing.Management;
import dev.tokenvault.testing.VaultProviderProfile;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;

/** The Vault Transit provider against FakeVault: key rotation + rewrap, and Vault outages. */
@QuarkusTest
@TestProfile(VaultProviderProfile.class)
class VaultRewrapTest {

    @Inject
    ConnectionService connections;

    FakeVault vault() {
        return FakeVaultResource.vault();
    }

    @AfterEach
    void vaultUp() {
        vault().setDown(false);
    }

    static void put(long portalId, String token, int status) {
        dev.tokenvault.testing.FakeHubSpotResource.sim().registerPrivateAppToken(portalId, token);
        given().auth().oauth2(Jwts.admin()).contentType(ContentType.JSON).body("{\"token\":\"" + token + "\"}")
                .put("/v1/apps/ops/portals/" + portalId + "/private-app-token").then().statusCode(status);
    }

    @Test
    void rotationThenRewrapMovesEveryDataKeyInsideVault() throws Exception {
        Map<Long, String> tokens = new LinkedHashMap<>();
        for (long p = 2001; p <= 2005; p++) {
            tokens.put(p, "pat-na1-" + UUID.randomUUID());
            put(p, tokens.get(p), 200);
        }
        int before = vault().latestVersion(FakeVaultResource.MOUNT, FakeVaultResource.KEY);
        assertThat(Db.count("select count(*) from data_key where wrapped like 'vault:v" + before + ":%' "
                + "and key_version = 'v" + before + "'")).isGreaterThanOrEqualTo(5);

        int after = vault().rotate(FakeVaultResource.MOUNT, FakeVaultResource.KEY);
        vault().clearRequests();

        given().auth().oauth2(Jwts.admin()).post("/v1/admin/rewrap").then().statusCode(202)
                .body("targetKeyVersion", equalTo("v" + after)).body("startedAt", notNullValue());
        Awaitility.await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> given().auth().oauth2(Jwts.admin())
                .get("/v1/admin/rewrap").then().statusCode(200).body("state", equalTo("done"))
                .body("remaining", equalTo(0)));

        assertThat(Db.count("select count(*) from data_key where key_version <> 'v" + after + "'")).isZero();
        assertThat(Db.count("select count(*) from data_key where wrapped not like 'vault:v" + after + ":%'")).isZero();
        // data keys never left Vault in clear: rewrap only, no decrypt
        assertThat(vault().requestCount("transit/rewrap")).isPositive();
        assertThat(vault().requestCount("transit/decrypt")).isZero();

        // old versions can now be retired; every secret still opens
        vault().setMinDecryptionVersion(FakeVaultResource.MOUNT, FakeVaultResource.KEY, after);
        for (var e : tokens.entrySet()) {
            assertThat(connections.open("ops", e.getKey()).await().indefinitely().orElseThrow()
                    .secret(SecretField.PRIVATE_APP_TOKEN)).contains(e.getValue());
        }
        // a second run has nothing to do
        given().auth().oauth2(Jwts.admin()).post("/v1/admin/rewrap").then().statusCode(202);
        Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> given().auth().oauth2(Jwts.admin())
                .get("/v1/admin/rewrap").then().body("state", equalTo("done")).body("total", equalTo(0)));
    }

    @Inject
    RewrapService rewrap;

    @Test
    void theBackgroundJobRewrapsWhatIsBehindAndNothingElse() throws Exception {
        put(2301, "pat-na1-" + UUID.randomUUID(), 200);
        // an erased connection whose revocation at HubSpot is still pending holds a wrapped data key too
        assertThat(dev.tokenvault.testing.InstallFlow.install("default", 2302).statusCode()).isEqualTo(200);
        dev.tokenvault.testing.FakeHubSpotResource.sim().failNext(5, "revoke", 503, null, null);
        given().auth().oauth2(Jwts.admin()).delete("/v1/apps/default/portals/2302").then().statusCode(204);
        dev.tokenvault.testing.FakeHubSpotResource.sim().clearFaults();
        assertThat(Db.count("select count(*) from pending_revocation where portal_id = 2302")).isEqualTo(1);
        Awaitility.await().atMost(Duration.ofSeconds(20))
                .until(() -> !"running".equals(rewrap.progress().await().indefinitely().state()));
        int version = vault().rotate(FakeVaultResource.MOUNT, FakeVaultResource.KEY);
        rewrap.background().await().indefinitely();
        Awaitility.await().atMost(Duration.ofSeconds(20))
                .until(() -> Db.count("select count(*) from data_key where key_version <> 'v" + version + "'") == 0
                        && Db.count("select count(*) from pending_revocation where key_version <> 'v" + version + "'") == 0);
        vault().clearRequests();
        rewrap.background().await().indefinitely();
        assertThat(vault().requestCount("transit/rewrap")).isZero();
    }

    @Test
    void vaultDownAnswers503AndLosesNothing() throws Exception {
        String kept = "pat-na1-" + UUID.randomUUID();
        put(2101, kept, 200);

        vault().setDown(true);
        dev.tokenvault.testing.FakeHubSpotResource.sim().registerPrivateAppToken(2102, "pat-na1-new-portal-token");
        given().auth().oauth2(Jwts.admin()).contentType(ContentType.JSON).body("{\"token\":\"pat-na1-new-portal-token\"}")
                .put("/v1/apps/ops/portals/2102/private-app-token")
                .then().statusCode(503).contentType("application/problem+json").header("Retry-After", notNullValue())
                .body("status", equalTo(503));
        put(2101, "pat-na1-replacement-token", 503);
        Management.given().get("/q/health/ready").then().statusCode(503);

        assertThat(Db.count("select count(*) from connection where portal_id = 2102")).isZero();

        vault().setDown(false);
        Management.given().get("/q/health/ready").then().statusCode(200);
        assertThat(connections.open("ops", 2101).await().indefinitely().orElseThrow()
                .secret(SecretField.PRIVATE_APP_TOKEN)).contains(kept);
        put(2102, "pat-na1-" + UUID.randomUUID(), 200);
    }

    /**
     * One Transit call stalled longer than the Vault client's read timeout (2 s here) used to fail the whole run
     * after 26 of 27 keys, and leave "rewrapped 26, remaining 27": now it is retried, and the counts add up.
     */
    @Test
    void aStalledVaultCallIsRetriedAndTheCountsAlwaysAddUp() throws Exception {
        for (long p = 2401; p <= 2427; p++) {
            put(p, "pat-na1-" + UUID.randomUUID(), 200);
        }
        Awaitility.await().atMost(Duration.ofSeconds(20))
                .until(() -> !"running".equals(rewrap.progress().await().indefinitely().state()));
        int after = vault().rotate(FakeVaultResource.MOUNT, FakeVaultResource.KEY);
        long behind = Db.count("select count(*) from data_key where key_version <> 'v" + after + "'")
                + Db.count("select count(*) from pending_revocation where key_version <> 'v" + after + "'");
        assertThat(behind).isGreaterThanOrEqualTo(27);
        vault().stallNext(1, FakeVaultResource.MOUNT + "/rewrap", Duration.ofSeconds(3));

        given().auth().oauth2(Jwts.admin()).post("/v1/admin/rewrap").then().statusCode(202);
        java.util.List<String> seen = new java.util.ArrayList<>();
        Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(() -> {
            var p = given().auth().oauth2(Jwts.admin()).get("/v1/admin/rewrap").then().statusCode(200).extract()
                    .jsonPath();
            Long total = p.getObject("total", Long.class);
            Long rewrapped = p.getObject("rewrapped", Long.class);
            Long remaining = p.getObject("remaining", Long.class);
            if (total != null && rewrapped != null && remaining != null) {
                seen.add(p.getString("state") + " " + rewrapped + "+" + remaining + "=" + total);
                assertThat(rewrapped + remaining).as("rewrapped + remaining = total, seen: %s", seen).isEqualTo(total);
            }
            return !"running".equals(p.getString("state"));
        });
        given().auth().oauth2(Jwts.admin()).get("/v1/admin/rewrap").then().body("state", equalTo("done"))
                .body("remaining", equalTo(0)).body("rewrapped", equalTo((int) behind))
                .body("total", equalTo((int) behind)).body("error", org.hamcrest.Matchers.nullValue());
        assertThat(vault().pendingStalls()).isZero();
        assertThat(Db.count("select count(*) from data_key where key_version <> 'v" + after + "'")).isZero();
    }

    @Test
    void rewrapWithVaultDownFailsVisiblyAndChangesNothing() throws Exception {
        put(2201, "pat-na1-" + UUID.randomUUID(), 200);
        vault().setDown(true);
        dev.tokenvault.testing.FakeHubSpotResource.sim().registerPrivateAppToken(2102, "pat-na1-new-portal-token");
        given().auth().oauth2(Jwts.admin()).post("/v1/admin/rewrap").then().statusCode(202)
                .body("state", equalTo("failed")).body("error", notNullValue());
        vault().setDown(false);
    }
}
