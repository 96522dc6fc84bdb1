package dev.tokenvault.refresh;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import jakarta.inject.Inject;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tokenvault.connection.ConnectionService;
import dev.tokenvault.crypto.SecretField;
import dev.tokenvault.sandbox.HubSpotSimulator;
import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.InstallFlow;
import dev.tokenvault.testing.Jwts;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;

/**
 * Refresh leases after a restart and refresh tokens HubSpot rotates (issue #15): a replica restarted under its stable
 * name takes back its previous process's leases at once; another replica's lease makes a waiting request give up
 * after {@code tokenvault.refresh.lease-wait} with 503 and Retry-After; a rotated refresh token is stored even when
 * the lease was lost meanwhile, and never over a newer one.
 */
@QuarkusTest
class RefreshLeaseAndRotationTest {

    @Inject
    ConnectionService connections;

    @Inject
    Refresher refresher;

    HubSpotSimulator sim() {
        return FakeHubSpotResource.sim();
    }

    @AfterEach
    void reset() {
        sim().rotateRefreshTokens(false).clearFaults();
    }

    static String path(long portal) {
        return "/v1/apps/default/portals/" + portal + "/token";
    }

    static void install(long portal) {
        assertThat(InstallFlow.install("default", portal).statusCode()).isEqualTo(200);
    }

    /** The owner id a previous process of this replica ({@code tokenvault.replica-name=test-pod}) would have had. */
    static String previousProcess() {
        long thisStart = ManagementFactory.getRuntimeMXBean().getStartTime();
        return "test-pod@" + (thisStart - 60_000) + "#deadbeef";
    }

    static void lease(long portal, String owner) throws Exception {
        assertThat(Db.update("update connection set lease_owner = ?, lease_until = now() + interval '60 seconds' "
                + "where app = 'default' and portal_id = ?", owner, portal)).isEqualTo(1);
    }

    @Test
    void aReplicaRestartedUnderItsNameTakesBackItsPreviousProcesssLeaseAtOnce() throws Exception {
        long portal = 16_001;
        install(portal);
        lease(portal, previousProcess()); // held by this pod before a kill -9, valid for another minute
        int refreshes = sim().count("refresh");

        given().auth().oauth2(Jwts.reader("*")).post(path(portal) + "/refresh").then().statusCode(200)
                .body("accessToken", notNullValue());
        assertThat(sim().count("refresh")).isEqualTo(refreshes + 1);
        assertThat(Db.count("select count(*) from connection where portal_id = ? and lease_owner is null", portal))
                .isEqualTo(1);
    }

    @Test
    void theSweepTakesBackThePreviousProcesssLeasesOfDueConnections() throws Exception {
        long portal = 16_002;
        install(portal);
        lease(portal, previousProcess());
        Db.update("update connection set next_refresh_at = now() - interval '1 minute' where portal_id = ?", portal);
        int refreshes = sim().count("refresh");

        assertThat(refresher.sweep().await().atMost(Duration.ofSeconds(20))).isGreaterThanOrEqualTo(1);
        assertThat(sim().count("refresh")).isGreaterThan(refreshes);
        assertThat(Db.count("select count(*) from connection where portal_id = ? and lease_owner is null "
                + "and next_refresh_at > now()", portal)).isEqualTo(1);
    }

    @Test
    void anotherReplicasLeaseIsWaitedForBrieflyThen503WithRetryAfter() throws Exception {
        long portal = 16_003;
        install(portal);
        // another pod's lease (or one of a process of this pod that started later: never taken back)
        lease(portal, "other-pod@1#cafebabe");
        int refreshes = sim().count("refresh");

        Response r = given().auth().oauth2(Jwts.reader("*")).post(path(portal) + "/refresh");
        assertThat(r.statusCode()).as(r.asString()).isEqualTo(503);
        assertThat(r.contentType()).startsWith("application/problem+json");
        assertThat(Long.parseLong(r.header("Retry-After"))).isBetween(1L, 30L);
        assertThat(r.jsonPath().getString("detail")).contains("another replica holds");
        assertThat(sim().count("refresh")).isEqualTo(refreshes);

        // the same process's later start is not a previous process: never taken back early
        long thisStart = ManagementFactory.getRuntimeMXBean().getStartTime();
        lease(portal, "test-pod@" + (thisStart + 60_000) + "#future00");
        given().auth().oauth2(Jwts.reader("*")).post(path(portal) + "/refresh").then().statusCode(503);
    }

    /**
     * Installs the portal with HubSpot rotating refresh tokens, then starts a forced refresh that HubSpot holds for
     * 1.5 s; returns once the request is at HubSpot.
     */
    CompletableFuture<Response> refreshWhileHubSpotHoldsIt(long portal) {
        sim().rotateRefreshTokens(true);
        install(portal);
        sim().stallNext("refresh", Duration.ofMillis(1500));
        CompletableFuture<Response> refresh = CompletableFuture.supplyAsync(
                () -> given().auth().oauth2(Jwts.reader("*")).post(path(portal) + "/refresh"));
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> sim().pendingFaults() == 0);
        return refresh;
    }

    @Test
    void aRotatedRefreshTokenIsStoredEvenWhenTheLeaseWasLostMeanwhile() throws Exception {
        long portal = 16_010;
        CompletableFuture<Response> refresh = refreshWhileHubSpotHoldsIt(portal);
        // while HubSpot works, the lease is taken over (e.g. it expired during a long stall)
        lease(portal, "other-pod@1#cafebabe");

        Response r = refresh.get(20, TimeUnit.SECONDS);
        assertThat(r.statusCode()).as(r.asString()).isEqualTo(200);
        List<String> active = sim().activeRefreshTokens(portal);
        assertThat(active).hasSize(1);
        assertThat(connections.open("default", portal).await().atMost(Duration.ofSeconds(5)).orElseThrow()
                .secret(SecretField.REFRESH_TOKEN)).contains(active.get(0));
        // the other replica's lease is left alone; its own result will be compared the same way
        assertThat(Db.count("select count(*) from connection where portal_id = ? and lease_owner = ?", portal,
                "other-pod@1#cafebabe")).isEqualTo(1);
        assertThat(Db.count("select count(*) from connection where portal_id = ? and status = 'active'", portal))
                .isEqualTo(1);
    }

    @Test
    void aRotatedRefreshTokenNeverOverwritesANewerOne() throws Exception {
        long portal = 16_011;
        CompletableFuture<Response> refresh = refreshWhileHubSpotHoldsIt(portal);
        // meanwhile the portal is installed again: its grant is newer than the one the stalled refresh will bring
        install(portal);
        String reinstalled = connections.open("default", portal).await().atMost(Duration.ofSeconds(5)).orElseThrow()
                .secret(SecretField.REFRESH_TOKEN).orElseThrow();

        Response r = refresh.get(20, TimeUnit.SECONDS);
        assertThat(r.statusCode()).as(r.asString()).isEqualTo(200);
        assertThat(connections.open("default", portal).await().atMost(Duration.ofSeconds(5)).orElseThrow()
                .secret(SecretField.REFRESH_TOKEN)).contains(reinstalled);
        given().auth().oauth2(Jwts.admin()).get("/v1/apps/default/portals/" + portal).then().statusCode(200)
                .body("status", equalTo("active"));
        given().auth().oauth2(Jwts.reader("*")).post(path(portal) + "/refresh").then().statusCode(200)
                .body("tokenType", endsWith("bearer"));
    }
}
