package dev.tokenvault.proxy;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tokenvault.sandbox.HubSpotSimulator;
import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.InstallFlow;
import dev.tokenvault.testing.Jwts;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;

/**
 * The proxy spends one rate budget per portal: a burst of twice HubSpot's rolling limit, from many callers at
 * once, reaches HubSpot within the limit (HubSpot answers no 429), the callers wait their turn instead of failing,
 * and callers that hold the token share the same budget through {@code rate-budget/acquire}. The app {@code burst}
 * has a budget of 20 calls per rolling 5 s, and the simulator enforces the same window, as HubSpot does.
 */
@QuarkusTest
class ProxyRateBudgetTest {

    static final int CALLS = 20;
    /** Long enough that the budget's margin (2.5 %: 125 ms) covers the grant-to-HubSpot delay of a loaded machine. */
    static final Duration INTERVAL = Duration.ofSeconds(5);

    HubSpotSimulator sim() {
        return FakeHubSpotResource.sim();
    }

    @AfterEach
    void hubSpotsDefaultLimit() {
        sim().rateLimit(100, Duration.ofSeconds(10));
    }

    static String proxy(long portal, String rest) {
        return "/v1/apps/burst/portals/" + portal + "/hubspot" + rest;
    }

    @Test
    void aBurstOfTwiceTheLimitReachesHubSpotWithinItAndNobodyGetsA429() throws Exception {
        long portal = 50_001;
        assertThat(InstallFlow.install("burst", portal).statusCode()).isEqualTo(200);
        sim().rateLimit(CALLS, INTERVAL);
        String jwt = Jwts.token("batch-job", Set.of("hubspot.proxy"), List.of(Long.toString(portal)));
        ExecutorService callers = Executors.newFixedThreadPool(30);
        try {
            List<CompletableFuture<Response>> calls = new ArrayList<>();
            for (int i = 0; i < 2 * CALLS; i++) {
                calls.add(CompletableFuture.supplyAsync(() -> given().header("Authorization", "Bearer " + jwt)
                        .get(proxy(portal, "/crm/v3/objects/contacts?limit=1")), callers));
            }
            for (CompletableFuture<Response> c : calls) {
                Response r = c.get(60, TimeUnit.SECONDS);
                assertThat(r.statusCode()).as(r.asString()).isEqualTo(200);
            }
        } finally {
            callers.shutdownNow();
        }
        assertThat(sim().crmRateLimited(portal)).as("HubSpot's 429s").isZero();
        List<Instant> sent = sim().crmRequestTimes(portal);
        assertThat(sent).hasSize(2 * CALLS);
        for (Instant start : sent) {
            long inWindow = sent.stream().filter(t -> !t.isBefore(start) && t.isBefore(start.plus(INTERVAL))).count();
            assertThat(inWindow).as("calls HubSpot saw in the %s from %s", INTERVAL, start).isLessThanOrEqualTo(CALLS);
        }
        given().auth().oauth2(jwt).get("/v1/apps/burst/portals/" + portal + "/rate-budget").then().statusCode(200)
                .body("calls", equalTo(CALLS)).body("intervalMs", equalTo((int) INTERVAL.toMillis()));
    }

    @Test
    void callersThatHoldTheTokenTakePermitsFromTheSameBudget() {
        long portal = 50_002;
        assertThat(InstallFlow.install("burst", portal).statusCode()).isEqualTo(200);
        String reader = Jwts.reader(Long.toString(portal));
        given().auth().oauth2(reader).post("/v1/apps/burst/portals/" + portal + "/rate-budget/acquire?calls=" + CALLS)
                .then().statusCode(200).body("granted", equalTo(CALLS)).body("remaining", equalTo(0));
        given().auth().oauth2(reader).get("/v1/apps/burst/portals/" + portal + "/rate-budget").then().statusCode(200)
                .body("remaining", equalTo(0));
        given().auth().oauth2(reader).post("/v1/apps/burst/portals/" + portal + "/rate-budget/acquire?calls=" + (CALLS + 1))
                .then().statusCode(400).contentType("application/problem+json");
        given().auth().oauth2(reader).post("/v1/apps/burst/portals/" + portal + "/rate-budget/acquire?calls=0")
                .then().statusCode(400);
        String other = Jwts.reader("1");
        given().auth().oauth2(other).post("/v1/apps/burst/portals/" + portal + "/rate-budget/acquire").then()
                .statusCode(403);
        // the proxy's next call waits for the window those permits fill, then goes (no 429 from HubSpot)
        String jwt = Jwts.token("batch-job", Set.of("hubspot.proxy"), List.of(Long.toString(portal)));
        given().header("Authorization", "Bearer " + jwt).get(proxy(portal, "/crm/v3/objects/contacts?limit=1")).then()
                .statusCode(200);
    }
}
