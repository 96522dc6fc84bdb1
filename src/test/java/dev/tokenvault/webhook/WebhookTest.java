package dev.tokenvault.webhook;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import jakarta.inject.Inject;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.connection.ConnectionService;
import dev.tokenvault.connection.ErasureService;
import dev.tokenvault.crypto.SecretField;
import dev.tokenvault.sandbox.HubSpotSimulator;
import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.InstallFlow;
import dev.tokenvault.testing.Jwts;
import dev.tokenvault.testing.TestClock;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;

/** HubSpot webhooks: signatures, app uninstall, and the erase flow it shares with the admin DELETE. */
@QuarkusTest
class WebhookTest {

    static final String URL = FakeHubSpotResource.PUBLIC_BASE_URL + "/webhooks/default";

    @Inject
    ConnectionService connections;

    @Inject
    ErasureService erasure;

    @Inject
    AuditLog audit;

    @Inject
    TestClock clock;

    HubSpotSimulator sim() {
        return FakeHubSpotResource.sim();
    }

    @AfterEach
    void reset() {
        clock.reset();
        sim().clearFaults();
    }

    String uninstallBody(long portal) {
        return uninstallBody(portal, EVENT_IDS.incrementAndGet(), clock.millis(), FakeHubSpotResource.APP_ID);
    }

    static final java.util.concurrent.atomic.AtomicLong EVENT_IDS = new java.util.concurrent.atomic.AtomicLong(
            System.currentTimeMillis());

    static String uninstallBody(long portal, long eventId, long occurredAt, Object appId) {
        return uninstallEvents(uninstallEvent(portal, eventId, occurredAt, appId));
    }

    static String uninstallEvent(Object portal, Object eventId, Object occurredAt, Object appId) {
        return "{\"eventId\":" + eventId + ",\"subscriptionId\":9,\"portalId\":" + portal
                + (appId == null ? "" : ",\"appId\":" + appId) + ",\"occurredAt\":" + occurredAt
                + ",\"subscriptionType\":\"app.uninstall\",\"attemptNumber\":0}";
    }

    static String uninstallEvents(String... events) {
        return "[" + String.join(",", events) + "]";
    }

    Response post(String path, String body, String secret, String signedUrl, long timestamp) {
        String signature = HubSpotSignatureVerifier.signV3(secret, "POST", signedUrl,
                body.getBytes(StandardCharsets.UTF_8), timestamp);
        return given().contentType("application/json").header("X-HubSpot-Signature-v3", signature)
                .header("X-HubSpot-Request-Timestamp", Long.toString(timestamp)).body(body).post(path);
    }

    Response post(String body) {
        return post("/webhooks/default", body, FakeHubSpotResource.CLIENT_SECRET, URL, clock.millis());
    }

    long installed(long portal) throws Exception {
        assertThat(InstallFlow.install("default", portal).statusCode()).isEqualTo(200);
        return Db.count("select id from connection where app = 'default' and portal_id = ?", portal);
    }

    @Test
    void anUninstallRevokesShredsAndErases() throws Exception {
        long portal = 13_001;
        long id = installed(portal);
        var opened = connections.open("default", portal).await().indefinitely().orElseThrow();
        String refresh = opened.secret(SecretField.REFRESH_TOKEN).orElseThrow();
        String hubDomain = opened.connection().hubDomain();
        String user = opened.connection().installedBy();
        int revokes = sim().count("revoke");

        // the simulator signs the uninstall exactly as HubSpot does
        var signed = sim().signedUninstallWebhook(URL, portal, FakeHubSpotResource.APP_ID);
        var req = given().contentType("application/json").body(signed.body());
        signed.headers().forEach(req::header);
        req.post("/webhooks/default").then().statusCode(200).body("uninstalls", equalTo(1));

        assertThat(sim().count("revoke")).isEqualTo(revokes + 1);
        assertThat(sim().isRefreshTokenActive(refresh)).isFalse();
        assertThat(Db.count("select count(*) from data_key where connection_id = ?", id)).isZero();
        assertThat(Db.count("select count(*) from secret where connection_id = ?", id)).isZero();
        assertThat(Db.count("select count(*) from connection where id = ?", id)).isZero();
        assertThat(Db.count("select count(*) from pending_revocation where portal_id = ?", portal)).isZero();
        assertThat(connections.open("default", portal).await().indefinitely()).isEmpty();
        given().auth().oauth2(Jwts.reader("*")).get("/v1/apps/default/portals/" + portal + "/token").then()
                .statusCode(404);
        given().auth().oauth2(Jwts.admin()).get("/v1/apps/default/portals/" + portal).then().statusCode(404);

        audit.flush().await().indefinitely();
        assertThat(Db.count("select count(*) from audit_log where portal_id = ? and action = 'connection.erase' "
                + "and outcome = 'erased' and detail = 'app.uninstall'", portal)).isEqualTo(1);
        for (byte[] cell : Db.allCells()) {
            String text = new String(cell, StandardCharsets.ISO_8859_1);
            assertThat(text).doesNotContain(hubDomain).doesNotContain(user).doesNotContain(refresh);
        }

        // replay and duplicates are harmless
        var replay = given().contentType("application/json").body(signed.body());
        signed.headers().forEach(replay::header);
        replay.post("/webhooks/default").then().statusCode(200);
        assertThat(sim().count("revoke")).isEqualTo(revokes + 1);
    }

    @Test
    void badSignaturesAre401AndProcessNothing() throws Exception {
        long portal = 13_002;
        installed(portal);
        String body = uninstallBody(portal);
        long now = System.currentTimeMillis();
        String secret = FakeHubSpotResource.CLIENT_SECRET;
        String signature = HubSpotSignatureVerifier.signV3(secret, "POST", URL, body.getBytes(StandardCharsets.UTF_8),
                now);

        // tampered body
        given().contentType("application/json").header("X-HubSpot-Signature-v3", signature)
                .header("X-HubSpot-Request-Timestamp", Long.toString(now)).body(body.replace("0}]", "1}]"))
                .post("/webhooks/default").then().statusCode(401).contentType("application/problem+json");
        // wrong secret, stale, future, wrong URI, query not signed
        assertThat(post("/webhooks/default", body, "wrong-secret", URL, now).statusCode()).isEqualTo(401);
        assertThat(post("/webhooks/default", body, secret, URL, now - Duration.ofMinutes(6).toMillis())
                .statusCode()).isEqualTo(401);
        assertThat(post("/webhooks/default", body, secret, URL, now + Duration.ofMinutes(6).toMillis())
                .statusCode()).isEqualTo(401);
        assertThat(post("/webhooks/default", body, secret, "https://elsewhere.example/webhooks/default", now)
                .statusCode()).isEqualTo(401);
        assertThat(post("/webhooks/default?x=1", body, secret, URL, now).statusCode()).isEqualTo(401);
        // missing headers
        given().contentType("application/json").body(body).post("/webhooks/default").then().statusCode(401);
        given().contentType("application/json").header("X-HubSpot-Signature-v3", signature).body(body)
                .post("/webhooks/default").then().statusCode(401);
        // v1 is refused unless the app allows legacy signatures
        String v1 = HubSpotSimulator.signatureV1(secret, body);
        given().contentType("application/json").header("X-HubSpot-Signature", v1)
                .header("X-HubSpot-Signature-Version", "v1").body(body).post("/webhooks/default").then()
                .statusCode(401);

        assertThat(Db.count("select count(*) from connection where app = 'default' and portal_id = ?", portal))
                .isEqualTo(1);
        // the query string is part of what is signed
        assertThat(post("/webhooks/default?source=hubspot", body, secret, URL + "?source=hubspot", now)
                .statusCode()).isEqualTo(200);
        assertThat(Db.count("select count(*) from connection where app = 'default' and portal_id = ?", portal))
                .isZero();
    }

    @Test
    void legacySignaturesWhenAllowedMalformedBodiesAndOtherEvents() throws Exception {
        String legacyBody = "[{\"eventId\":1,\"portalId\":999001,\"subscriptionType\":\"contact.creation\"}]";
        given().contentType("application/json")
                .header("X-HubSpot-Signature", HubSpotSimulator.signatureV1(FakeHubSpotResource.CLIENT_SECRET, legacyBody))
                .header("X-HubSpot-Signature-Version", "v1").body(legacyBody).post("/webhooks/legacy").then()
                .statusCode(200).body("events", equalTo(1)).body("uninstalls", equalTo(0));

        post("not json").then().statusCode(400).contentType("application/problem+json");
        post("{\"portalId\":1}").then().statusCode(400);
        post(legacyBody).then().statusCode(200).body("uninstalls", equalTo(0));
        // an uninstall of a portal we do not know is a no-op
        post(uninstallBody(999_002)).then().statusCode(200).body("uninstalls", equalTo(1));
        // the lifecycle-event shape
        long portal = 13_003;
        installed(portal);
        post("[{\"eventId\":7,\"portalId\":" + portal + ",\"appId\":" + FakeHubSpotResource.APP_ID
                + ",\"subscriptionType\":\"APP_LIFECYCLE_EVENT\",\"eventTypeId\":\"4-1916193\",\"occurredAt\":"
                + clock.millis() + "}]").then().statusCode(200)
                .body("uninstalls", equalTo(1));
        assertThat(Db.count("select count(*) from connection where portal_id = ?", portal)).isZero();
        given().contentType("application/json").body("[]").post("/webhooks/nope").then().statusCode(404);
    }

    @Test
    void aFailedRevokeStillErasesAndIsRetriedLater() throws Exception {
        long portal = 13_004;
        installed(portal);
        String refresh = connections.open("default", portal).await().indefinitely().orElseThrow()
                .secret(SecretField.REFRESH_TOKEN).orElseThrow();
        sim().failNext(3, "revoke", 503, null, null);

        given().auth().oauth2(Jwts.admin()).delete("/v1/apps/default/portals/" + portal).then().statusCode(204);
        assertThat(Db.count("select count(*) from connection where portal_id = ?", portal)).isZero();
        assertThat(Db.count("select count(*) from pending_revocation where portal_id = ?", portal)).isEqualTo(1);
        assertThat(sim().isRefreshTokenActive(refresh)).isTrue();
        for (byte[] cell : Db.allCells()) {
            assertThat(new String(cell, StandardCharsets.ISO_8859_1)).doesNotContain(refresh);
        }
        // erasing again is harmless
        given().auth().oauth2(Jwts.admin()).delete("/v1/apps/default/portals/" + portal).then().statusCode(204);

        sim().clearFaults();
        assertThat(erasure.retry(Optional.empty()).await().indefinitely()).as("not due yet").isZero();
        clock.advance(Duration.ofMinutes(10));
        assertThat(erasure.retry(Optional.empty()).await().indefinitely()).isEqualTo(1);
        assertThat(sim().isRefreshTokenActive(refresh)).isFalse();
        assertThat(Db.count("select count(*) from pending_revocation where portal_id = ?", portal)).isZero();
    }

    @Test
    void adminEraseIsAuthorisedAndIdempotent() throws Exception {
        long portal = 13_005;
        installed(portal);
        given().auth().oauth2(Jwts.reader("*")).delete("/v1/apps/default/portals/" + portal).then().statusCode(403);
        given().auth().oauth2(Jwts.token("a", java.util.Set.of("tokens.admin"), List.of("1")))
                .delete("/v1/apps/default/portals/" + portal).then().statusCode(403);
        given().auth().oauth2(Jwts.admin()).delete("/v1/apps/default/portals/" + portal).then().statusCode(204);
        given().auth().oauth2(Jwts.admin()).delete("/v1/apps/default/portals/" + portal).then().statusCode(204);
        given().auth().oauth2(Jwts.admin()).delete("/v1/apps/default/portals/abc").then().statusCode(400);
    }

    @Test
    void aConfiguredPreviousSecretIsAcceptedUntilItsGraceEnds() {
        String body = "[{\"eventId\":1,\"portalId\":999003,\"subscriptionType\":\"contact.creation\"}]";
        long now = System.currentTimeMillis();
        String base = FakeHubSpotResource.PUBLIC_BASE_URL;
        assertThat(post("/webhooks/legacy", body, "previous-legacy-secret", base + "/webhooks/legacy", now)
                .statusCode()).isEqualTo(200);
        assertThat(post("/webhooks/landing", body, "previous-landing-secret", base + "/webhooks/landing", now)
                .statusCode()).isEqualTo(401);
        assertThat(post("/webhooks/landing", body, FakeHubSpotResource.CLIENT_SECRET, base + "/webhooks/landing",
                now).statusCode()).isEqualTo(200);
    }

    @Test
    void aConnectionWhoseSecretsCannotBeOpenedCanStillBeErased() throws Exception {
        long portal = 13_006;
        long id = installed(portal);
        Db.update("delete from data_key where connection_id = ?", id);
        given().auth().oauth2(Jwts.admin()).delete("/v1/apps/default/portals/" + portal).then().statusCode(204);
        assertThat(Db.count("select count(*) from connection where id = ?", id)).isZero();
        assertThat(Db.count("select count(*) from secret where connection_id = ?", id)).isZero();
    }
}
