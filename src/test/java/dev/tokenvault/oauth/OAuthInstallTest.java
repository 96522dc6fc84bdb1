package dev.tokenvault.oauth;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import jakarta.inject.Inject;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tokenvault.connection.ConnectionService;
import dev.tokenvault.connection.OpenedConnection;
import dev.tokenvault.crypto.SecretField;
import dev.tokenvault.sandbox.HubSpotSimulator;
import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.InstallFlow;
import dev.tokenvault.testing.InstallFlow.Started;
import dev.tokenvault.testing.TestClock;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;

/** The install flow end to end through the HubSpot simulator, with a cookie-keeping client. */
@QuarkusTest
class OAuthInstallTest {

    @Inject
    ConnectionService connections;

    @Inject
    TestClock clock;

    HubSpotSimulator sim() {
        return FakeHubSpotResource.sim();
    }

    @AfterEach
    void cleanUp() {
        clock.reset();
        sim().clearFaults();
    }

    @Test
    void consentRedirectCarriesTheAppsParametersAndABrowserBoundState() {
        Started s = InstallFlow.start("default");
        assertThat(s.consent().toString()).startsWith(FakeHubSpotResource.hubspot().baseUrl() + "/oauth/authorize?");
        assertThat(s.params()).containsEntry("client_id", FakeHubSpotResource.CLIENT_ID)
                .containsEntry("redirect_uri", "http://localhost:8081/oauth/default/callback")
                .containsEntry("scope", "oauth crm.objects.contacts.read")
                .containsEntry("optional_scope", "crm.objects.deals.read");
        assertThat(s.params().get("state")).hasSizeGreaterThanOrEqualTo(43);
        String setCookie = s.response().header("Set-Cookie");
        assertThat(setCookie).contains(InstallFlow.COOKIE + "=").containsIgnoringCase("HttpOnly")
                .containsIgnoringCase("SameSite=Lax").contains("Path=/oauth/default/")
                .doesNotContainIgnoringCase("Secure");
        assertThat(s.cookie()).isNotEqualTo(s.params().get("state"));
        // states are random
        assertThat(InstallFlow.start("default").params().get("state")).isNotEqualTo(s.params().get("state"));
    }

    @Test
    void successStoresAnEncryptedConnection() throws Exception {
        Response r = InstallFlow.install("default", 5001);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.contentType()).startsWith("text/html");
        assertThat(r.asString()).contains("5001").contains("Connected");
        assertThat(r.header("Set-Cookie")).contains(InstallFlow.COOKIE + "=;").contains("Max-Age=0");

        OpenedConnection c = connections.open("default", 5001).await().indefinitely().orElseThrow();
        assertThat(c.connection().authType().value()).isEqualTo("oauth");
        assertThat(c.connection().status().value()).isEqualTo("active");
        assertThat(c.connection().hubDomain()).isEqualTo(sim().portal(5001).orElseThrow().hubDomain());
        assertThat(c.connection().installedBy()).isEqualTo(sim().portal(5001).orElseThrow().userEmail());
        assertThat(c.connection().hubspotAppId()).isEqualTo(FakeHubSpotResource.APP_ID);
        assertThat(c.connection().scopes()).contains("oauth", "crm.objects.contacts.read");
        assertThat(c.connection().accessExpiresAt()).isAfter(clock.instant().plus(Duration.ofMinutes(29)));
        assertThat(c.connection().nextRefreshAt()).isBefore(c.connection().accessExpiresAt().minus(Duration.ofMinutes(9)));

        String refresh = c.secret(SecretField.REFRESH_TOKEN).orElseThrow();
        String access = c.secret(SecretField.ACCESS_TOKEN).orElseThrow();
        assertThat(sim().activeRefreshTokens(5001)).contains(refresh);
        assertThat(sim().isAccessTokenActive(access)).isTrue();
        for (byte[] cell : Db.allCells()) {
            String text = new String(cell, StandardCharsets.ISO_8859_1);
            assertThat(text).doesNotContain(refresh).doesNotContain(access);
        }
        assertThat(sim().count("code", "v1")).isPositive();
        assertThat(sim().count("introspect", "v1")).isPositive();
    }

    @Test
    void replayedForgedAndForeignStatesAreRefused() throws Exception {
        Started s = InstallFlow.start("default");
        URI callback = InstallFlow.consent(s, 5002, "allow");
        assertThat(InstallFlow.callback(callback, s.cookie()).statusCode()).isEqualTo(200);
        int codeCalls = sim().count("code");

        // replay of the very same callback
        Response replay = InstallFlow.callback(callback, s.cookie());
        assertThat(replay.statusCode()).isEqualTo(400);
        assertThat(replay.asString()).contains("already used");
        // forged state
        Response forged = given().redirects().follow(false).cookie(InstallFlow.COOKIE, s.cookie())
                .get("/oauth/default/callback?code=abc&state=forged-state-value");
        assertThat(forged.statusCode()).isEqualTo(400);
        // a callback arriving in another browser (no cookie, or another one) is refused, and burns the state
        Started other = InstallFlow.start("default");
        URI otherCallback = InstallFlow.consent(other, 5003, "allow");
        assertThat(InstallFlow.callback(otherCallback, null).statusCode()).isEqualTo(403);
        assertThat(InstallFlow.callback(otherCallback, other.cookie()).statusCode()).isEqualTo(400);
        Started third = InstallFlow.start("default");
        assertThat(InstallFlow.callback(InstallFlow.consent(third, 5003, "allow"), s.cookie()).statusCode())
                .isEqualTo(403);
        // none of the refused callbacks reached HubSpot or stored anything
        assertThat(sim().count("code")).isEqualTo(codeCalls);
        assertThat(Db.count("select count(*) from connection where app = 'default' and portal_id = 5003")).isZero();
        // missing parameters
        assertThat(given().redirects().follow(false).get("/oauth/default/callback").statusCode()).isEqualTo(400);
    }

    @Test
    void anExpiredStateIsRefused() throws Exception {
        Started s = InstallFlow.start("default");
        URI callback = InstallFlow.consent(s, 5004, "allow");
        clock.advance(Duration.ofMinutes(11));
        Response r = InstallFlow.callback(callback, s.cookie());
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.asString()).contains("10 minutes");
        assertThat(Db.count("select count(*) from connection where portal_id = 5004")).isZero();
    }

    @Test
    void deniedConsentStoresNothing() throws Exception {
        Started s = InstallFlow.start("default");
        URI callback = InstallFlow.consent(s, 5005, "deny");
        assertThat(callback.getRawQuery()).contains("error=access_denied");
        Response r = InstallFlow.callback(callback, s.cookie());
        assertThat(r.statusCode()).isEqualTo(403);
        assertThat(r.asString()).contains("denied");
        assertThat(Db.count("select count(*) from connection where portal_id = 5005")).isZero();
    }

    @Test
    void hubSpotFailuresStoreNothingAndNeverRetryTheCode() throws Exception {
        Started s = InstallFlow.start("default");
        URI callback = InstallFlow.consent(s, 5006, "allow");
        int before = sim().count("code");
        sim().failNext("code", 503, null, null);
        Response r = InstallFlow.callback(callback, s.cookie());
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(sim().count("code")).isEqualTo(before + 1);

        s = InstallFlow.start("default");
        callback = InstallFlow.consent(s, 5006, "allow");
        sim().stallNext("code", Duration.ofSeconds(4));
        r = InstallFlow.callback(callback, s.cookie());
        assertThat(r.statusCode()).isEqualTo(504);

        s = InstallFlow.start("default");
        callback = InstallFlow.consent(s, 5006, "allow");
        sim().failNext("introspect", 500, null, null);
        r = InstallFlow.callback(callback, s.cookie());
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(r.asString()).doesNotContain("Exception");

        assertThat(Db.count("select count(*) from connection where portal_id = 5006")).isZero();
    }

    @Test
    void whenStoringFailsTheNewGrantIsRevokedAndNothingIsStored() throws Exception {
        int revokes = sim().count("revoke");
        Db.update("alter table data_key rename to data_key_offline");
        Response r;
        try {
            r = InstallFlow.install("default", 5010);
        } finally {
            Db.update("alter table data_key_offline rename to data_key");
        }
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.asString()).contains("nothing was stored").doesNotContain("data_key");
        assertThat(Db.count("select count(*) from connection where portal_id = 5010")).isZero();
        assertThat(sim().count("revoke")).isEqualTo(revokes + 1);
        assertThat(sim().activeRefreshTokens(5010)).isEmpty();
    }

    @Test
    void aTokenForAnotherHubSpotAppIsRefused() throws Exception {
        Response r = InstallFlow.install("strict", 5007);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.asString()).contains("another app");
        assertThat(Db.count("select count(*) from connection where portal_id = 5007")).isZero();
    }

    @Test
    void reinstallUpdatesInPlaceAndReactivates() throws Exception {
        assertThat(InstallFlow.install("default", 5008).statusCode()).isEqualTo(200);
        long id = Db.count("select id from connection where app = 'default' and portal_id = 5008");
        String firstAccess = connections.open("default", 5008).await().indefinitely().orElseThrow()
                .secret(SecretField.ACCESS_TOKEN).orElseThrow();
        Db.update("update connection set status = 'needs_reauth', refresh_failures = 3, last_error = 'x' "
                + "where id = ?", id);

        assertThat(InstallFlow.install("default", 5008).statusCode()).isEqualTo(200);
        OpenedConnection again = connections.open("default", 5008).await().indefinitely().orElseThrow();
        assertThat(again.connection().id()).isEqualTo(id);
        assertThat(again.connection().status().value()).isEqualTo("active");
        assertThat(again.connection().refreshFailures()).isZero();
        assertThat(again.connection().lastError()).isNull();
        assertThat(again.secret(SecretField.ACCESS_TOKEN).orElseThrow()).isNotEqualTo(firstAccess);
        assertThat(Db.count("select count(*) from data_key where connection_id = ?", id)).isEqualTo(1);
    }

    @Test
    void successUrlAndUnknownApps() {
        Response r = InstallFlow.install("landing", 5009);
        assertThat(r.statusCode()).isEqualTo(302);
        assertThat(r.header("Location")).isEqualTo("https://intranet.example/connected?app=landing&portalId=5009");

        Response unknown = given().redirects().follow(false).get("/oauth/nope/install");
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(unknown.contentType()).startsWith("text/html");
        Response privateOnly = given().redirects().follow(false).get("/oauth/ops/install");
        assertThat(privateOnly.statusCode()).isEqualTo(404);
        assertThat(privateOnly.asString()).doesNotContain(FakeHubSpotResource.CLIENT_SECRET);
        assertThat(List.of(unknown.asString(), privateOnly.asString())).noneMatch(b -> b.contains("at dev.tokenvault"));
    }
}
