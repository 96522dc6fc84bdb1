package dev.tokenvault.hubspot;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import jakarta.inject.Inject;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tokenvault.sandbox.HubSpotSimulator;
import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.InstallFlow;
import dev.tokenvault.testing.Jwts;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;

/**
 * Slow portals do not block everyone (issue #15): with 100 portals whose refreshes HubSpot holds, a healthy portal's
 * refresh and a new install are answered while those 100 are still in flight. (Before bulkheads, every HubSpot OAuth
 * call went through one pool of 50 connections: the healthy call queued behind the stalled ones.)
 */
@QuarkusTest
@TestProfile(StalledPortalsTest.LongHubSpotTimeout.class)
class StalledPortalsTest {

    /** HubSpot calls may take 10 s here, so the stalled ones stay in flight long enough to compare with. */
    public static class LongHubSpotTimeout implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tokenvault.hubspot.timeout", "10S");
        }
    }

    static final int STALLED = 100;
    static final long FIRST = 17_000;

    @Inject
    HubSpotOAuthClient client;

    HubSpotSimulator sim() {
        return FakeHubSpotResource.sim();
    }

    @AfterEach
    void clear() {
        sim().clearFaults();
    }

    static String refresh(long portal) {
        return "/v1/apps/default/portals/" + portal + "/token/refresh";
    }

    @Test
    void aHundredStalledRefreshesLeaveAHealthyRefreshAndANewInstallFast() throws Exception {
        for (long p = FIRST; p <= FIRST + STALLED; p++) {
            assertThat(InstallFlow.install("default", p).statusCode()).isEqualTo(200);
        }
        long healthy = FIRST + STALLED;
        // HubSpot holds the next 100 refreshes longer than the client waits (tokenvault.hubspot.timeout=10S here)
        sim().stallNext(STALLED, "refresh", Duration.ofSeconds(12));
        ExecutorService callers = Executors.newFixedThreadPool(STALLED);
        try {
            List<CompletableFuture<Response>> stalled = new ArrayList<>();
            for (long p = FIRST; p < FIRST + STALLED; p++) {
                long portal = p;
                stalled.add(CompletableFuture.supplyAsync(
                        () -> given().auth().oauth2(Jwts.reader("*")).post(refresh(portal)), callers));
            }
            // all 100 are at HubSpot now, held
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> sim().pendingFaults() == 0);
            assertThat(client.refreshesInFlight()).isEqualTo(STALLED);

            Response healthyRefresh = given().auth().oauth2(Jwts.reader("*")).post(refresh(healthy));
            boolean stalledStillInFlight = stalled.stream().noneMatch(CompletableFuture::isDone);
            assertThat(healthyRefresh.statusCode()).as(healthyRefresh.asString()).isEqualTo(200);

            Response install = InstallFlow.install("default", FIRST + STALLED + 1);
            boolean stillInFlightAfterInstall = stalled.stream().noneMatch(CompletableFuture::isDone);
            assertThat(install.statusCode()).isEqualTo(200);

            assertThat(stalledStillInFlight).as("the healthy refresh did not wait for the stalled ones").isTrue();
            assertThat(stillInFlightAfterInstall).as("the install did not wait for the stalled refreshes").isTrue();

            // the stalled ones end as HubSpot timeouts: 503 problem+json with Retry-After, never 500
            for (CompletableFuture<Response> f : stalled) {
                Response r = f.get(30, TimeUnit.SECONDS);
                assertThat(r.statusCode()).as(r.asString()).isEqualTo(503);
                assertThat(r.header("Retry-After")).isNotBlank();
            }
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> client.refreshesInFlight() == 0);
        } finally {
            callers.shutdownNow();
        }
    }
}
