package dev.tokenvault.connection;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.everyItem;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

import jakarta.inject.Inject;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.sandbox.HubSpotSimulator;
import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.Jwts;
import dev.tokenvault.testing.LogCapture;
import dev.tokenvault.testing.Management;
import dev.tokenvault.testing.TestClock;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;

/**
 * Service keys and private-app tokens as static credentials, through HTTP against the HubSpot simulator and a real
 * PostgreSQL: stored (private-app tokens checked with HubSpot's token-info endpoint first), handed out, proxied,
 * rotated, rolled back within the grace, destroyed after it; filters and gauges; no token in audit, logs or answers.
 */
@QuarkusTest
class StaticCredentialsTest {

    @Inject
    AuditLog audit;

    @Inject
    TestClock clock;

    @Inject
    StaticTokenSweeper sweeper;

    @Inject
    ConnectionGauges gauges;

    static HubSpotSimulator sim() {
        return FakeHubSpotResource.sim();
    }

    @AfterEach
    void resetClock() {
        clock.reset();
    }

    static Response put(long portal, String token, String kind) {
        return given().auth().oauth2(Jwts.admin()).contentType(ContentType.JSON)
                .body("{\"token\":\"" + token + "\",\"kind\":\"" + kind + "\"}")
                .put("/v1/apps/ops/portals/" + portal + "/static-token");
    }

    static Response rollback(long portal) {
        return given().auth().oauth2(Jwts.admin()).post("/v1/apps/ops/portals/" + portal + "/static-token/rollback");
    }

    static Response handOut(long portal) {
        return given().auth().oauth2(Jwts.token("svc-" + portal, Set.of("tokens.read"), List.of(Long.toString(portal))))
                .get("/v1/apps/ops/portals/" + portal + "/token");
    }

    static Response proxyContacts(long portal) {
        return given().auth().oauth2(Jwts.token("crm-" + portal, Set.of("hubspot.proxy"), List.of(Long.toString(portal))))
                .get("/v1/apps/ops/portals/" + portal + "/hubspot/crm/v3/objects/contacts?limit=1");
    }

    static String fingerprint(String token) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest(token.getBytes(StandardCharsets.UTF_8))).substring(0, 6);
    }

    /** The bearer fingerprint of the last CRM call the simulator saw for a portal. */
    static String lastCrmBearer(long portal) {
        List<HubSpotSimulator.RecordedRequest> calls = sim().requests(HubSpotSimulator.OP_CRM_LIST).stream()
                .filter(r -> r.hubId() != null && r.hubId() == portal).toList();
        assertThat(calls).isNotEmpty();
        return calls.get(calls.size() - 1).bearerFingerprint();
    }

    static long crmCallsWith(String token) throws Exception {
        String fp = fingerprint(token);
        return sim().requests(HubSpotSimulator.OP_CRM_LIST).stream().filter(r -> fp.equals(r.bearerFingerprint()))
                .count();
    }

    static long previousSecrets(long portal) throws Exception {
        return Db.count("select count(*) from secret s join connection c on c.id = s.connection_id "
                + "where c.app = 'ops' and c.portal_id = ? and s.field = 'previous_static_token'", portal);
    }

    @Test
    void bothKindsAreStoredHandedOutAndProxiedWithTheirAge() throws Exception {
        String key = sim().issueServiceKey(8801);
        String pat = "pat-na1-" + java.util.UUID.randomUUID();
        sim().registerPrivateAppToken(8802, pat, List.of("crm.objects.contacts.read", "crm.objects.deals.read"));
        try (LogCapture log = LogCapture.install()) {
            put(8801, key, "service_key").then().statusCode(200).body("authType", equalTo("service_key"))
                    .body("tokenAge", org.hamcrest.Matchers.lessThan(60)).body("expiresAt", nullValue())
                    .body("scopes", equalTo(List.of()))
                    .body(not(org.hamcrest.Matchers.containsString(key)));
            put(8802, pat, "private_app").then().statusCode(200).body("authType", equalTo("private_app"))
                    .body("scopes", equalTo(List.of("crm.objects.contacts.read", "crm.objects.deals.read")))
                    .body(not(org.hamcrest.Matchers.containsString(pat)));
            // HubSpot was asked about the private-app token only (it documents no such check for service keys)
            assertThat(sim().requests(HubSpotSimulator.OP_TOKEN_INFO).stream().filter(r -> r.status() == 200)
                    .map(HubSpotSimulator.RecordedRequest::hubId)).contains(8802L).doesNotContain(8801L);

            handOut(8801).then().statusCode(200).body("accessToken", equalTo(key))
                    .body("authType", equalTo("service_key")).body("expiresAt", nullValue())
                    .body("tokenAge", notNullValue());
            handOut(8802).then().statusCode(200).body("accessToken", equalTo(pat))
                    .body("authType", equalTo("private_app"));

            proxyContacts(8801).then().statusCode(200);
            assertThat(lastCrmBearer(8801)).isEqualTo(fingerprint(key));
            proxyContacts(8802).then().statusCode(200);
            assertThat(lastCrmBearer(8802)).isEqualTo(fingerprint(pat));

            // the age is the time since the token was stored
            clock.advance(Duration.ofHours(2));
            given().auth().oauth2(Jwts.admin()).get("/v1/apps/ops/portals/8801").then().statusCode(200)
                    .body("tokenAge", org.hamcrest.Matchers.allOf(org.hamcrest.Matchers.greaterThanOrEqualTo(7200),
                            org.hamcrest.Matchers.lessThan(7800)));
            handOut(8801).then().statusCode(200).body("tokenAge",
                    org.hamcrest.Matchers.greaterThanOrEqualTo(7200));

            // a static credential does not refresh
            given().auth().oauth2(Jwts.token("svc", Set.of("tokens.read"), List.of("8801")))
                    .post("/v1/apps/ops/portals/8801/token/refresh").then().statusCode(409)
                    .contentType("application/problem+json");
            assertThat(log.all()).doesNotContain(key).doesNotContain(pat);
        }
    }

    @Test
    void aRotationIsHandedOutAndProxiedAtOnceAndRollsBackWithinTheGrace() throws Exception {
        String first = sim().issuePrivateAppToken(8811);
        String second = sim().issueServiceKey(8811);
        try (LogCapture log = LogCapture.install()) {
            put(8811, first, "private_app").then().statusCode(200);
            handOut(8811).then().statusCode(200).body("accessToken", equalTo(first)); // cached now
            proxyContacts(8811).then().statusCode(200);
            assertThat(lastCrmBearer(8811)).isEqualTo(fingerprint(first));
            assertThat(previousSecrets(8811)).isZero();

            put(8811, second, "service_key").then().statusCode(200).body("authType", equalTo("service_key"))
                    .body("tokenAge", org.hamcrest.Matchers.lessThan(60));
            handOut(8811).then().statusCode(200).body("accessToken", equalTo(second))
                    .body("authType", equalTo("service_key"));
            proxyContacts(8811).then().statusCode(200);
            assertThat(lastCrmBearer(8811)).isEqualTo(fingerprint(second));
            assertThat(previousSecrets(8811)).isEqualTo(1);

            // storing the token already held rotates nothing
            put(8811, second, "service_key").then().statusCode(200);
            assertThat(previousSecrets(8811)).isEqualTo(1);

            // HubSpot rejecting the current token is passed through; the proxy never falls back to the previous one
            sim().revokeStaticToken(second);
            long firstUses = crmCallsWith(first);
            proxyContacts(8811).then().statusCode(401);
            List<HubSpotSimulator.RecordedRequest> all = sim().requests(HubSpotSimulator.OP_CRM_LIST);
            assertThat(all.get(all.size() - 1).status()).isEqualTo(401);
            assertThat(all.get(all.size() - 1).bearerFingerprint()).isEqualTo(fingerprint(second));
            assertThat(crmCallsWith(first)).isEqualTo(firstUses);
            handOut(8811).then().statusCode(200).body("accessToken", equalTo(second));

            clock.advance(Duration.ofDays(6));
            rollback(8811).then().statusCode(200).body("authType", equalTo("private_app"))
                    .body("scopes", equalTo(HubSpotSimulator.DEFAULT_STATIC_SCOPES))
                    .body("tokenAge", org.hamcrest.Matchers.greaterThanOrEqualTo(6 * 86400))
                    .body(not(org.hamcrest.Matchers.containsString(first)));
            handOut(8811).then().statusCode(200).body("accessToken", equalTo(first))
                    .body("authType", equalTo("private_app"));
            proxyContacts(8811).then().statusCode(200);
            assertThat(lastCrmBearer(8811)).isEqualTo(fingerprint(first));
            assertThat(previousSecrets(8811)).isZero();

            // one rollback only: the rolled-back token is gone
            rollback(8811).then().statusCode(409).contentType("application/problem+json")
                    .body("type", endsWith("/no-previous-token")).body("status", equalTo(409));

            audit.flush().await().indefinitely();
            assertThat(Db.count("select count(*) from audit_log where portal_id = 8811 and action = "
                    + "'static_token.rotate' and outcome = 'ok' and sub = 'ops-admin'")).isEqualTo(1);
            assertThat(Db.count("select count(*) from audit_log where portal_id = 8811 and action = "
                    + "'static_token.rollback' and outcome = 'ok'")).isEqualTo(1);
            assertThat(Db.count("select count(*) from audit_log where portal_id = 8811 and action = "
                    + "'static_token.rollback' and outcome = 'failed'")).isEqualTo(1);
            for (byte[] cell : Db.allCells()) {
                String text = new String(cell, StandardCharsets.ISO_8859_1);
                assertThat(text).doesNotContain(first).doesNotContain(second);
            }
            assertThat(log.all()).doesNotContain(first).doesNotContain(second);
        }
    }

    @Test
    void afterTheGraceTheReplacedTokenCannotBeRestoredAndIsDestroyed() throws Exception {
        String first = sim().issueServiceKey(8821);
        String second = sim().issueServiceKey(8821);
        put(8821, first, "service_key").then().statusCode(200);
        put(8821, second, "service_key").then().statusCode(200);
        assertThat(previousSecrets(8821)).isEqualTo(1);

        clock.advance(Duration.ofDays(7).plusMinutes(1));
        rollback(8821).then().statusCode(409).contentType("application/problem+json")
                .body("type", endsWith("/no-previous-token")).body("detail", org.hamcrest.Matchers.containsString("grace"));

        assertThat(sweeper.sweep().await().indefinitely()).isGreaterThanOrEqualTo(1);
        assertThat(previousSecrets(8821)).isZero();
        assertThat(Db.count("select count(*) from connection where app = 'ops' and portal_id = 8821 and "
                + "previous_auth_type is null and previous_until is null and previous_scopes is null "
                + "and previous_stored_at is null")).isEqualTo(1);
        handOut(8821).then().statusCode(200).body("accessToken", equalTo(second));
        rollback(8821).then().statusCode(409).body("type", endsWith("/no-previous-token"));
        audit.flush().await().indefinitely();
        assertThat(Db.count("select count(*) from audit_log where portal_id = 8821 and action = "
                + "'static_token.previous_destroyed'")).isEqualTo(1);
    }

    @Test
    void rollbackNeedsAReplacedToken() {
        String key = sim().issueServiceKey(8831);
        put(8831, key, "service_key").then().statusCode(200);
        rollback(8831).then().statusCode(409).contentType("application/problem+json")
                .body("type", endsWith("/no-previous-token"));
        rollback(8839).then().statusCode(404).contentType("application/problem+json");
        given().auth().oauth2(Jwts.reader("8831")).post("/v1/apps/ops/portals/8831/static-token/rollback").then()
                .statusCode(403);
        given().auth().oauth2(Jwts.token("a", Set.of("tokens.admin"), List.of("1"))).post(
                "/v1/apps/ops/portals/8831/static-token/rollback").then().statusCode(403);
    }

    @Test
    void aTokenOfAnotherPortalOrUnknownToHubSpotIsRefusedAndNothingIsStored() throws Exception {
        String foreign = sim().issuePrivateAppToken(8849);
        try (LogCapture log = LogCapture.install()) {
            put(8841, foreign, "private_app").then().statusCode(400).contentType("application/problem+json")
                    .body("detail", org.hamcrest.Matchers.containsString("8849"))
                    .body(not(org.hamcrest.Matchers.containsString(foreign)));
            given().auth().oauth2(Jwts.admin()).contentType(ContentType.JSON).body("{\"token\":\"" + foreign + "\"}")
                    .put("/v1/apps/ops/portals/8841/private-app-token").then().statusCode(400);
            put(8841, "pat-na1-unknown-to-hubspot-0000", "private_app").then().statusCode(400)
                    .contentType("application/problem+json");
            assertThat(Db.count("select count(*) from connection where app = 'ops' and portal_id = 8841")).isZero();

            // on rotation: the current token stays, no replaced token is kept
            String own = sim().issuePrivateAppToken(8842);
            put(8842, own, "private_app").then().statusCode(200);
            put(8842, foreign, "private_app").then().statusCode(400);
            handOut(8842).then().statusCode(200).body("accessToken", equalTo(own));
            assertThat(previousSecrets(8842)).isZero();
            assertThat(log.all()).doesNotContain(foreign).doesNotContain(own);
        }
    }

    @Test
    void hubSpotUnavailableOnPutIs503AndNothingIsStored() throws Exception {
        String pat = sim().issuePrivateAppToken(8851);
        sim().failNext(HubSpotSimulator.OP_TOKEN_INFO, 503, null, Duration.ofSeconds(7));
        try (LogCapture log = LogCapture.install()) {
            put(8851, pat, "private_app").then().statusCode(503).contentType("application/problem+json")
                    .header("Retry-After", notNullValue()).body(not(org.hamcrest.Matchers.containsString(pat)));
            assertThat(log.all()).doesNotContain(pat).doesNotContain("\tat ");
        }
        assertThat(Db.count("select count(*) from connection where app = 'ops' and portal_id = 8851")).isZero();
        sim().stallNext(HubSpotSimulator.OP_TOKEN_INFO, Duration.ofSeconds(4)); // the test timeout is 2 s
        put(8851, pat, "private_app").then().statusCode(503).header("Retry-After", notNullValue());
        assertThat(Db.count("select count(*) from connection where app = 'ops' and portal_id = 8851")).isZero();
        put(8851, pat, "private_app").then().statusCode(200);
    }

    @Test
    void bodiesAreBoundStrictly() throws Exception {
        String path = "/v1/apps/ops/portals/8861/static-token";
        String ok = "sim-service-key-00000000-0000-0000-0000-000000000861";
        for (String body : List.of("{\"token\":\"" + ok + "\",\"kind\":\"service_key\",\"kind\":\"private_app\"}",
                "{\"token\":\"" + ok + "\",\"kind\":12}", "{\"token\":\"" + ok + "\",\"kind\":\"api_key\"}",
                "{\"token\":\"" + ok + "\",\"kind\":\"SERVICE_KEY\"}", "{\"token\":\"" + ok + "\"}",
                "{\"kind\":\"service_key\"}", "{\"token\":42,\"kind\":\"service_key\"}",
                "{\"token\":\"a b c d e f g h i j\",\"kind\":\"service_key\"}", "[]", "null")) {
            given().auth().oauth2(Jwts.admin()).contentType(ContentType.JSON).body(body).put(path).then()
                    .statusCode(400).contentType("application/problem+json").body("type", endsWith("/invalid-request"))
                    .body(not(org.hamcrest.Matchers.containsString(ok)));
        }
        assertThat(Db.count("select count(*) from connection where portal_id = 8861")).isZero();
    }

    @Test
    void theListFiltersByAuthTypeAndTokenAge() throws Exception {
        String old = sim().issueServiceKey(8871);
        put(8871, old, "service_key").then().statusCode(200);
        put(8872, sim().issueServiceKey(8872), "service_key").then().statusCode(200);
        put(8873, sim().issuePrivateAppToken(8873), "private_app").then().statusCode(200);
        Db.update("update connection set installed_at = now() - interval '200 days' where app = 'ops' "
                + "and portal_id = 8871");

        List<Integer> keys = given().auth().oauth2(Jwts.admin()).queryParam("authType", "service_key")
                .queryParam("limit", 500).get("/v1/apps/ops/portals").then().statusCode(200)
                .body("items.authType", everyItem(equalTo("service_key"))).extract().path("items.portalId");
        assertThat(keys).contains(8871, 8872).doesNotContain(8873);
        given().auth().oauth2(Jwts.admin()).queryParam("authType", "private_app").queryParam("limit", 500)
                .get("/v1/apps/ops/portals").then().statusCode(200)
                .body("items.authType", everyItem(equalTo("private_app"))).body("items.portalId", hasItem(8873));
        List<Integer> due = given().auth().oauth2(Jwts.admin()).queryParam("olderThan", "P180D")
                .queryParam("limit", 500).get("/v1/apps/ops/portals").then().statusCode(200)
                .body("items.tokenAge", everyItem(org.hamcrest.Matchers.greaterThan(180 * 86400)))
                .extract().path("items.portalId");
        assertThat(due).contains(8871).doesNotContain(8872, 8873);
        given().auth().oauth2(Jwts.admin()).queryParam("olderThan", "P180D").queryParam("authType", "private_app")
                .queryParam("limit", 500).get("/v1/apps/ops/portals").then().statusCode(200)
                .body("items.portalId", not(hasItem(8871)));
        for (String bad : List.of("authType=bogus", "authType=OAUTH", "olderThan=P6M", "olderThan=180",
                "olderThan=-P1D", "olderThan=P", "olderThan=PT999999999999999H")) {
            Response r = given().auth().oauth2(Jwts.admin()).get("/v1/apps/ops/portals?" + bad);
            assertThat(r.statusCode()).as(bad).isEqualTo(400);
            assertThat(r.contentType()).as(bad).startsWith("application/problem+json");
        }
    }

    @Test
    void theAgeGaugesShowTheOldestStaticTokenAndHowManyAreDueForRotation() throws Exception {
        String metrics = Management.given().get("/q/metrics").then().statusCode(200).extract().asString();
        assertThat(metrics).contains("tokenvault_static_token_age_seconds").contains(
                "tokenvault_static_tokens_rotation_due");
        put(8881, sim().issueServiceKey(8881), "service_key").then().statusCode(200);
        put(8882, sim().issueServiceKey(8882), "service_key").then().statusCode(200);
        try {
            gauges.update().await().indefinitely();
            double dueBefore = ConnectionGaugesTest.gauge(Management.given().get("/q/metrics").asString(),
                    "tokenvault_static_tokens_rotation_due");
            Db.update("update connection set installed_at = now() - interval '400 days' where app = 'ops' "
                    + "and portal_id in (8881, 8882)");
            gauges.update().await().indefinitely();
            String after = Management.given().get("/q/metrics").asString();
            assertThat(ConnectionGaugesTest.gauge(after, "tokenvault_static_token_age_seconds"))
                    .isGreaterThanOrEqualTo(400 * 86400.0);
            assertThat(ConnectionGaugesTest.gauge(after, "tokenvault_static_tokens_rotation_due"))
                    .isEqualTo(dueBefore + 2);
        } finally {
            Db.update("delete from connection where app = 'ops' and portal_id in (8881, 8882)");
            gauges.update().await().indefinitely();
        }
    }
}
