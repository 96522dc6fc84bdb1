package dev.tokenvault.token;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.lessThanOrEqualTo;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

import jakarta.inject.Inject;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.sandbox.HubSpotSimulator;
import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.InstallFlow;
import dev.tokenvault.testing.Jwts;
import dev.tokenvault.testing.LogCapture;
import dev.tokenvault.testing.TestClock;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;

/** The hand-out API: authorisation, input validation, caching, single-flight refresh, failures, secrecy. */
@QuarkusTest
class TokenHandOutTest {

    private static final AtomicLong PORTALS = new AtomicLong(8000);

    @Inject
    TestClock clock;

    @Inject
    AuditLog audit;

    HubSpotSimulator sim() {
        return FakeHubSpotResource.sim();
    }

    @AfterEach
    void reset() {
        clock.reset();
        sim().clearFaults();
    }

    static long installed() {
        long portal = PORTALS.incrementAndGet();
        assertThat(InstallFlow.install("default", portal).statusCode()).isEqualTo(200);
        return portal;
    }

    static String path(long portal) {
        return "/v1/apps/default/portals/" + portal + "/token";
    }

    @Test
    void handsOutTheInstalledTokenToAuthorisedCallers() {
        long portal = installed();
        Response r = given().auth().oauth2(Jwts.reader(Long.toString(portal))).get(path(portal));
        r.then().statusCode(200).contentType(ContentType.JSON)
                .body("app", equalTo("default")).body("portalId", equalTo((int) portal))
                .body("tokenType", equalTo("bearer")).body("authType", equalTo("oauth"))
                .body("expiresAt", notNullValue()).body("expiresIn", lessThanOrEqualTo(1800))
                .body("scopes", org.hamcrest.Matchers.hasItem("oauth"));
        String token = r.path("accessToken");
        assertThat(sim().isAccessTokenActive(token)).isTrue();
        int refreshes = sim().count("refresh");
        // a second call is served from memory: same token, no HubSpot call
        given().auth().oauth2(Jwts.reader("*")).get(path(portal)).then().statusCode(200)
                .body("accessToken", equalTo(token));
        assertThat(sim().count("refresh")).isEqualTo(refreshes);
    }

    @Test
    void authorisationMatrix() {
        long portal = installed();
        String p = Long.toString(portal);
        given().get(path(portal)).then().statusCode(401).contentType("application/problem+json");
        given().auth().oauth2(Jwts.token("svc", Set.of("tokens.admin"), List.of("*"))).get(path(portal))
                .then().statusCode(403).body("detail", containsString("tokens.read"));
        given().auth().oauth2(Jwts.reader("1", "2")).get(path(portal)).then().statusCode(403)
                .contentType("application/problem+json").body("detail", containsString(p));
        given().auth().oauth2(Jwts.token("svc", Set.of("tokens.read"), null)).get(path(portal))
                .then().statusCode(403);
        given().auth().oauth2(Jwts.reader(p)).get(path(portal)).then().statusCode(200);
        given().auth().oauth2(Jwts.reader("*")).get(path(portal)).then().statusCode(200);
        given().auth().oauth2(Jwts.reader("*")).post(path(portal) + "/refresh").then().statusCode(200);
        given().auth().oauth2(Jwts.reader("1")).post(path(portal) + "/refresh").then().statusCode(403);
    }

    @Test
    void badInputIs400AndUnknownIs404() {
        long portal = installed();
        String reader = Jwts.reader("*");
        for (String id : List.of("abc", "0", "-5", "123456789012345678901", "9223372036854775808", "1e3", "%20")) {
            given().auth().oauth2(reader).get("/v1/apps/default/portals/" + id + "/token").then().statusCode(400)
                    .contentType("application/problem+json").body("status", equalTo(400));
        }
        for (String v : List.of("abc", "-1", "3601", "1.5", "99999999999", "")) {
            if (v.isEmpty()) {
                continue;
            }
            given().auth().oauth2(reader).queryParam("minValidity", v).get(path(portal)).then().statusCode(400)
                    .body("detail", containsString("minValidity"));
        }
        given().auth().oauth2(reader).queryParam("minValidity", 0).get(path(portal)).then().statusCode(200);
        given().auth().oauth2(reader).get("/v1/apps/default/portals/424242424/token").then().statusCode(404)
                .contentType("application/problem+json");
        given().auth().oauth2(reader).get("/v1/apps/unknown-app/portals/1/token").then().statusCode(404);
    }

    @Test
    void aTokenTooOldForTheCallerIsRefreshedOnceAndExpiresInTellsTheTruth() {
        long portal = installed();
        int before = sim().count("refresh");
        // HubSpot tokens live 30 minutes: asking for an hour refreshes, and the answer says 30 minutes
        given().auth().oauth2(Jwts.reader("*")).queryParam("minValidity", 3600).get(path(portal))
                .then().statusCode(200).body("expiresIn", lessThanOrEqualTo(1800));
        assertThat(sim().count("refresh")).isEqualTo(before + 1);
    }

    @Test
    void fiftyConcurrentCallersCauseOneRefresh() throws Exception {
        long portal = installed();
        clock.advance(Duration.ofMinutes(25)); // 5 minutes left; callers need 10
        int before = sim().count("refresh");
        String jwt = Jwts.reader("*");
        ExecutorService pool = Executors.newFixedThreadPool(50);
        CountDownLatch go = new CountDownLatch(1);
        try {
            List<Future<Response>> calls = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                calls.add(pool.submit((Callable<Response>) () -> {
                    go.await();
                    return given().auth().oauth2(jwt).queryParam("minValidity", 600).get(path(portal));
                }));
            }
            go.countDown();
            List<String> tokens = new ArrayList<>();
            for (Future<Response> f : calls) {
                Response r = f.get();
                assertThat(r.statusCode()).isEqualTo(200);
                tokens.add(r.path("accessToken"));
            }
            assertThat(Set.copyOf(tokens)).hasSize(1);
        } finally {
            pool.shutdownNow();
        }
        assertThat(sim().count("refresh")).isEqualTo(before + 1);
    }

    @Test
    void hubSpotDownServesTheStillValidTokenAndForcedRefreshIs503ThenRecovers() throws Exception {
        long portal = installed();
        String jwt = Jwts.reader("*");
        String original = given().auth().oauth2(jwt).get(path(portal)).path("accessToken");
        clock.advance(Duration.ofMinutes(25));
        sim().failNext(10, "refresh", 503, null, Duration.ofSeconds(7));

        given().auth().oauth2(jwt).queryParam("minValidity", 600).get(path(portal)).then().statusCode(200)
                .body("accessToken", equalTo(original)).body("expiresIn", lessThanOrEqualTo(300));
        given().auth().oauth2(jwt).post(path(portal) + "/refresh").then().statusCode(503)
                .contentType("application/problem+json").header("Retry-After", "7");
        assertThat(Db.count("select refresh_failures from connection where app = 'default' and portal_id = ?",
                portal)).isGreaterThanOrEqualTo(1);
        // while the retry is not due, hand-outs serve the still-valid token without calling HubSpot again
        int calls = sim().count("refresh");
        for (int i = 0; i < 5; i++) {
            given().auth().oauth2(jwt).queryParam("minValidity", 600).get(path(portal)).then().statusCode(200)
                    .body("accessToken", equalTo(original));
        }
        assertThat(sim().count("refresh")).isEqualTo(calls);

        sim().clearFaults();
        String fresh = given().auth().oauth2(jwt).post(path(portal) + "/refresh").then().statusCode(200)
                .extract().path("accessToken");
        assertThat(fresh).isNotEqualTo(original);
        assertThat(Db.count("select refresh_failures from connection where app = 'default' and portal_id = ?",
                portal)).isZero();
        given().auth().oauth2(jwt).queryParam("minValidity", 600).get(path(portal)).then().statusCode(200)
                .body("accessToken", equalTo(fresh));
    }

    @Test
    void aRevokedRefreshTokenMeansNeedsReauth() throws Exception {
        long portal = installed();
        String jwt = Jwts.reader("*");
        given().auth().oauth2(jwt).get(path(portal)).then().statusCode(200);
        sim().revokeRefreshTokens(portal);

        given().auth().oauth2(jwt).post(path(portal) + "/refresh").then().statusCode(409)
                .contentType("application/problem+json")
                .body("type", containsString("needs-reauth"))
                .body("installUrl", equalTo("http://localhost:8081/oauth/default/install"));
        assertThat(Db.count("select count(*) from connection where app = 'default' and portal_id = ? "
                + "and status = 'needs_reauth' and next_refresh_at is null", portal)).isEqualTo(1);
        given().auth().oauth2(jwt).get(path(portal)).then().statusCode(409);
        given().auth().oauth2(Jwts.admin()).get("/v1/apps/default/portals/" + portal).then().statusCode(200)
                .body("status", equalTo("needs_reauth")).body("lastError", containsString("BAD_REFRESH_TOKEN"));

        // a re-install brings it back
        assertThat(InstallFlow.install("default", portal).statusCode()).isEqualTo(200);
        given().auth().oauth2(jwt).get(path(portal)).then().statusCode(200);
    }

    @Test
    void forcedRefreshesOfOneConnectionAreCappedToStayInsideHubSpotsLimit() {
        long portal = installed();
        String jwt = Jwts.reader("*");
        int before = sim().count("refresh");
        for (int i = 0; i < 10; i++) {
            given().auth().oauth2(jwt).post(path(portal) + "/refresh").then().statusCode(200);
        }
        given().auth().oauth2(jwt).post(path(portal) + "/refresh").then().statusCode(503)
                .contentType("application/problem+json").header("Retry-After", "10")
                .body("detail", containsString("too many refreshes"));
        assertThat(sim().count("refresh")).isEqualTo(before + 10);
        // the still-valid token keeps being handed out
        given().auth().oauth2(jwt).get(path(portal)).then().statusCode(200);
    }

    @Test
    void privateAppTokensAreHandedOutWithoutExpiry() {
        String token = "pat-na1-" + java.util.UUID.randomUUID();
        dev.tokenvault.testing.FakeHubSpotResource.sim().registerPrivateAppToken(7001, token);
        given().auth().oauth2(Jwts.admin()).contentType(ContentType.JSON).body("{\"token\":\"" + token + "\"}")
                .put("/v1/apps/ops/portals/7001/private-app-token").then().statusCode(200);
        given().auth().oauth2(Jwts.reader("7001")).get("/v1/apps/ops/portals/7001/token").then().statusCode(200)
                .body("accessToken", equalTo(token)).body("authType", equalTo("private_app"))
                .body("expiresAt", nullValue()).body("expiresIn", nullValue());
        given().auth().oauth2(Jwts.reader("7001")).post("/v1/apps/ops/portals/7001/token/refresh").then()
                .statusCode(409);
        // replacing it is visible at once (the cache is invalidated)
        String second = "pat-na1-" + java.util.UUID.randomUUID();
        dev.tokenvault.testing.FakeHubSpotResource.sim().registerPrivateAppToken(7001, second);
        given().auth().oauth2(Jwts.admin()).contentType(ContentType.JSON).body("{\"token\":\"" + second + "\"}")
                .put("/v1/apps/ops/portals/7001/private-app-token").then().statusCode(200);
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(
                () -> given().auth().oauth2(Jwts.reader("7001")).get("/v1/apps/ops/portals/7001/token").then()
                        .body("accessToken", equalTo(second)));
    }

    @Test
    void noTokenReachesLogsAuditOrProblems() throws Exception {
        List<String> secrets = new ArrayList<>();
        List<String> bodies = new ArrayList<>();
        try (LogCapture logs = LogCapture.install()) {
            long portal = installed();
            String jwt = Jwts.reader("*");
            String access = given().auth().oauth2(jwt).get(path(portal)).path("accessToken");
            secrets.add(access);
            secrets.addAll(sim().activeRefreshTokens(portal));
            clock.advance(Duration.ofMinutes(25));
            sim().failNext("refresh", 500, null, null);
            bodies.add(given().auth().oauth2(jwt).post(path(portal) + "/refresh").asString());
            secrets.add(given().auth().oauth2(jwt).post(path(portal) + "/refresh").path("accessToken"));
            sim().revokeRefreshTokens(portal);
            bodies.add(given().auth().oauth2(jwt).post(path(portal) + "/refresh").asString());
            bodies.add(given().auth().oauth2(jwt).get(path(portal)).asString());
            audit.flush().await().indefinitely();

            assertThat(secrets).doesNotContainNull().hasSizeGreaterThanOrEqualTo(3);
            assertThat(logs.lines()).isNotEmpty();
            for (String secret : secrets) {
                assertThat(logs.all()).doesNotContain(secret);
                for (String body : bodies) {
                    assertThat(body).doesNotContain(secret);
                }
                assertThat(Db.count("select count(*) from audit_log where coalesce(detail, '') like ? "
                        + "or coalesce(sub, '') like ?", "%" + secret + "%", "%" + secret + "%")).isZero();
                assertThat(Db.count("select count(*) from connection where coalesce(last_error, '') like ?",
                        "%" + secret + "%")).isZero();
            }
            assertThat(Db.count("select count(*) from audit_log where portal_id = ? and action = 'token.handout'",
                    portal)).isPositive();
        }
    }
}
