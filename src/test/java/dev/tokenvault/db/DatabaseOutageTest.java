package dev.tokenvault.db;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;

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
import dev.tokenvault.testing.DatabaseProxyProfile;
import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.InstallFlow;
import dev.tokenvault.testing.Jwts;
import dev.tokenvault.testing.LogCapture;
import dev.tokenvault.testing.Management;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.config.HttpClientConfig;
import io.restassured.config.RestAssuredConfig;
import io.restassured.response.Response;
import io.vertx.mutiny.sqlclient.Pool;

/**
 * Database outages as an operator sees them (issue #15): PostgreSQL refusing connections, resetting them, restarting,
 * or silent (connections open, no answers). Requests that need it answer 503 problem+json with Retry-After, promptly;
 * cached hand-outs go on; readiness goes down and comes back by itself; nothing is logged as a stack trace; and a
 * refresh token HubSpot has just rotated is not lost when the write fails.
 */
@QuarkusTest
@TestProfile(DatabaseProxyProfile.class)
class DatabaseOutageTest {

    /** No request may hang: a silent database must be answered by the service's own deadline, well before this. */
    static final RestAssuredConfig BOUNDED = RestAssuredConfig.config().httpClient(HttpClientConfig.httpClientConfig()
            .setParam("http.socket.timeout", 15_000).setParam("http.connection.timeout", 5_000));

    @Inject
    Pool pool;

    @Inject
    ScheduledJobs jobs;

    @Inject
    ConnectionService connections;

    static DatabaseProxyProfile.Proxy proxy() {
        return DatabaseProxyProfile.proxy();
    }

    @AfterEach
    void databaseBack() {
        proxy().forward();
        FakeHubSpotResource.sim().rotateRefreshTokens(false).clearFaults();
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                .until(() -> Management.given().get("/q/health/ready").statusCode() == 200);
    }

    static String path(long portal) {
        return "/v1/apps/default/portals/" + portal;
    }

    static void installAndCache(long portal) {
        assertThat(InstallFlow.install("default", portal).statusCode()).isEqualTo(200);
        given().auth().oauth2(Jwts.reader("*")).get(path(portal) + "/token").then().statusCode(200);
    }

    static void assertUnavailable(Response r) {
        assertThat(r.statusCode()).as(r.asString()).isEqualTo(503);
        assertThat(r.contentType()).startsWith("application/problem+json");
        assertThat(r.header("Retry-After")).isNotBlank();
        assertThat(r.jsonPath().getString("type")).endsWith("/service-unavailable");
        assertThat(r.jsonPath().getString("detail")).contains("database");
        assertThat(r.asString()).doesNotContain("Exception").doesNotContain("\tat ");
    }

    static void assertNoStackTraceNorError(LogCapture log) {
        assertThat(log.lines()).noneMatch(l -> l.contains(" SEVERE ") || l.contains(" ERROR "));
        assertThat(log.all()).doesNotContain("\tat ").doesNotContain("Result is already complete");
    }

    @Test
    void theReactivePoolReachesTheDatabaseThroughTheProxy() {
        long before = proxy().acceptedTotal();
        proxy().reset(); // every pooled connection dies: the next request must open a new one, through the proxy
        given().auth().oauth2(Jwts.admin()).get("/v1/apps/default/portals").then().statusCode(200);
        assertThat(proxy().acceptedTotal()).isGreaterThan(before);
    }

    @Test
    void aDatabaseThatRefusesConnectionsIs503WithRetryAfterCachedHandOutsGoOnAndItRecoversByItself() {
        long portal = 15_001;
        installAndCache(portal);
        try (LogCapture log = LogCapture.install()) {
            proxy().refuse();
            proxy().reset();

            // the hand-out hot path needs no database while the token is cached
            given().auth().oauth2(Jwts.reader("*")).get(path(portal) + "/token").then().statusCode(200)
                    .body("accessToken", notNullValue());
            // everything that needs it: 503, never 500
            assertUnavailable(given().config(BOUNDED).auth().oauth2(Jwts.admin()).get(path(portal)));
            assertUnavailable(given().config(BOUNDED).auth().oauth2(Jwts.admin()).get("/v1/apps/default/portals"));
            assertUnavailable(given().config(BOUNDED).auth().oauth2(Jwts.admin()).get("/v1/admin/audit"));
            assertUnavailable(given().config(BOUNDED).auth().oauth2(Jwts.reader("*"))
                    .post(path(portal) + "/token/refresh"));
            Management.given().config(BOUNDED).get("/q/health/ready").then().statusCode(503)
                    .body("checks.find { it.name == 'database' }.status", equalTo("DOWN"));

            proxy().forward();
            Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200))
                    .until(() -> Management.given().get("/q/health/ready").statusCode() == 200);
            given().auth().oauth2(Jwts.admin()).get(path(portal)).then().statusCode(200)
                    .body("status", equalTo("active"));
            assertNoStackTraceNorError(log);
        }
    }

    @Test
    void aSilentDatabaseIsAPrompt503AndTakesThePodOutOfRotationUntilItAnswersAgain() {
        long portal = 15_002;
        installAndCache(portal);
        try (LogCapture log = LogCapture.install()) {
            proxy().silent();
            assertUnavailable(given().config(BOUNDED).auth().oauth2(Jwts.admin()).get(path(portal)));
            assertUnavailable(given().config(BOUNDED).auth().oauth2(Jwts.admin()).get("/v1/apps/default/portals"));
            Management.given().config(BOUNDED).get("/q/health/ready").then().statusCode(503)
                    .body("checks.find { it.name == 'database' }.data.error", containsString("did not answer"));
            // still served from memory
            given().auth().oauth2(Jwts.reader("*")).get(path(portal) + "/token").then().statusCode(200);

            proxy().forward();
            Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200))
                    .until(() -> Management.given().get("/q/health/ready").statusCode() == 200);
            given().auth().oauth2(Jwts.admin()).get(path(portal)).then().statusCode(200);
            assertNoStackTraceNorError(log);
        }
    }

    @Test
    void aConnectionResetWhileAStatementIsInFlightIs503NotAnInternalError() throws Exception {
        long portal = 15_003;
        installAndCache(portal);
        try (LogCapture log = LogCapture.install()) {
            proxy().silent();
            CompletableFuture<Response> inFlight = CompletableFuture.supplyAsync(
                    () -> given().config(BOUNDED).auth().oauth2(Jwts.admin()).get(path(portal)));
            Thread.sleep(300);
            proxy().refuse();
            proxy().reset();
            assertUnavailable(inFlight.get(20, TimeUnit.SECONDS));
            assertNoStackTraceNorError(log);
        }
    }

    @Test
    void aScheduledJobLogsOneLinePerOutageNotOnePerRun() {
        try (LogCapture log = LogCapture.install()) {
            proxy().refuse();
            proxy().reset();
            for (int i = 0; i < 3; i++) {
                jobs.run("outage test job", () -> pool.query("select 1").execute()).await().atMost(Duration.ofSeconds(10));
            }
            assertThat(jobs.isFailing("outage test job")).isTrue();
            List<String> lines = log.lines().stream().filter(l -> l.contains("outage test job")).toList();
            assertThat(lines.stream().filter(l -> l.contains("cannot run now"))).as("%s", lines).hasSize(1)
                    .allMatch(l -> l.contains(" WARN"));
            assertThat(lines.stream().filter(l -> l.contains("still cannot run"))).as("%s", lines).hasSize(2)
                    .allMatch(l -> l.contains(" DEBUG"));
            assertNoStackTraceNorError(log);

            proxy().forward();
            Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200)).until(() -> {
                jobs.run("outage test job", () -> pool.query("select 1").execute()).await().atMost(Duration.ofSeconds(10));
                return !jobs.isFailing("outage test job");
            });
            assertThat(log.lines()).anyMatch(l -> l.contains("outage test job: working again") && l.contains(" INFO"));
        }
    }

    /**
     * HubSpot answers a refresh with a new refresh token (and revokes the one that was sent) while the database is
     * away: the caller still gets its token, the new refresh token is kept and written once the database is back,
     * and the connection never needs a re-install.
     */
    @Test
    void aRefreshTokenHubSpotJustRotatedIsStoredOnceTheDatabaseIsBack() throws Exception {
        long portal = 15_010;
        var sim = FakeHubSpotResource.sim();
        sim.rotateRefreshTokens(true);
        installAndCache(portal);
        String before = sim.activeRefreshTokens(portal).get(0);

        sim.stallNext("refresh", Duration.ofMillis(1500));
        CompletableFuture<Response> refresh = CompletableFuture.supplyAsync(
                () -> given().config(BOUNDED).auth().oauth2(Jwts.reader("*")).post(path(portal) + "/token/refresh"));
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> sim.pendingFaults() == 0); // at HubSpot now
        proxy().refuse();
        proxy().reset();

        Response r = refresh.get(20, TimeUnit.SECONDS);
        assertThat(r.statusCode()).as(r.asString()).isEqualTo(200);
        List<String> active = sim.activeRefreshTokens(portal);
        assertThat(active).hasSize(1).doesNotContain(before); // HubSpot rotated: the old one is revoked
        Management.given().get("/q/metrics").then().body(containsString("tokenvault_refresh_pending_writes 1.0"));

        proxy().forward();
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250)).untilAsserted(() -> {
            var opened = connections.open("default", portal).await().atMost(Duration.ofSeconds(5)).orElseThrow();
            assertThat(opened.secret(SecretField.REFRESH_TOKEN)).contains(active.get(0));
        });
        Management.given().get("/q/metrics").then().body(containsString("tokenvault_refresh_pending_writes 0.0"));
        // and the connection goes on refreshing with it
        given().auth().oauth2(Jwts.reader("*")).post(path(portal) + "/token/refresh").then().statusCode(200)
                .body("accessToken", notNullValue());
        given().auth().oauth2(Jwts.admin()).get(path(portal)).then().statusCode(200).body("status", equalTo("active"))
                .body("lastError", org.hamcrest.Matchers.nullValue());
        Management.given().get("/q/metrics").then().body(containsString("tokenvault_refresh_tokens_lost_total 0.0"));
        assertThat(Management.given().get("/q/metrics").asString()).doesNotContain(active.get(0));
    }
}
