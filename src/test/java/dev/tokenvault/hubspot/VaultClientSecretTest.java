package dev.tokenvault.hubspot;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

import jakarta.inject.Inject;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.FakeVaultResource;
import dev.tokenvault.testing.InstallFlow;
import dev.tokenvault.testing.Jwts;
import dev.tokenvault.testing.TestClock;
import dev.tokenvault.testing.VaultProviderProfile;
import dev.tokenvault.webhook.HubSpotSignatureVerifier;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;

/** A client secret kept in Vault KV: read through quarkus-vault, re-read on BAD_CLIENT_ID, rotated with grace. */
@QuarkusTest
@TestProfile(VaultProviderProfile.class)
class VaultClientSecretTest {

    @Inject
    TestClock clock;

    @AfterEach
    void reset() {
        clock.reset();
    }

    Response webhook(long portal, String secret) {
        String url = FakeHubSpotResource.PUBLIC_BASE_URL + "/webhooks/kvapp";
        String body = "[{\"eventId\":1,\"portalId\":" + portal + ",\"subscriptionType\":\"app.uninstall\"}]";
        long ts = clock.instant().toEpochMilli();
        return given().contentType("application/json")
                .header("X-HubSpot-Signature-v3", HubSpotSignatureVerifier.signV3(secret, "POST", url,
                        body.getBytes(StandardCharsets.UTF_8), ts))
                .header("X-HubSpot-Request-Timestamp", Long.toString(ts)).body(body).post("/webhooks/kvapp");
    }

    @Test
    void rotationThroughVault() {
        assertThat(InstallFlow.install("kvapp", 14_001).statusCode()).isEqualTo(200);
        assertThat(FakeVaultResource.vault().requestCount("secret/data/" + FakeVaultResource.KV_PATH)).isPositive();

        // the operator rotates the secret in HubSpot and in Vault
        FakeVaultResource.vault().putKv("secret", FakeVaultResource.KV_PATH, Map.of("client-secret", "kv-secret-2"));
        FakeHubSpotResource.sim().setClientSecret(FakeVaultResource.KV_CLIENT_ID, "kv-secret-2");
        String path = "/v1/apps/kvapp/portals/14001/token/refresh";
        // the cached secret is refused once (BAD_CLIENT_ID), which makes the vault read the new one
        given().auth().oauth2(Jwts.reader("*")).post(path).then().statusCode(503);
        given().auth().oauth2(Jwts.reader("*")).post(path).then().statusCode(200);

        // webhooks signed with the previous secret are accepted during the grace period only
        assertThat(InstallFlow.install("kvapp", 14_002).statusCode()).isEqualTo(200);
        assertThat(webhook(14_002, FakeVaultResource.KV_SECRET).statusCode()).isEqualTo(200);
        assertThat(webhook(14_001, "kv-secret-2").statusCode()).isEqualTo(200);
        clock.advance(Duration.ofMinutes(11));
        assertThat(webhook(14_003, FakeVaultResource.KV_SECRET).statusCode()).isEqualTo(401);
        assertThat(webhook(14_003, "kv-secret-2").statusCode()).isEqualTo(200);
        assertThat(webhook(14_003, "never-valid").statusCode()).isEqualTo(401);
    }
}
