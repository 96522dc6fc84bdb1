package dev.tokenvault.oauth;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.tokenvault.sandbox.HubSpotSimulator;
import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.InstallFlow;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;

/**
 * PKCE on the install (issue #19): every consent redirect carries an S256 {@code code_challenge}, the code exchange
 * sends the matching verifier (HubSpot — the simulator — refuses a code without it), so an authorization code
 * intercepted on its way back through the browser is useless on its own.
 */
@QuarkusTest
class PkceTest {

    @Test
    void theConsentRedirectCarriesAnS256ChallengeAndTheExchangeItsVerifier() {
        InstallFlow.Started started = InstallFlow.start("default");
        Map<String, String> params = started.params();
        assertThat(params).containsEntry("code_challenge_method", "S256");
        assertThat(params.get("code_challenge")).matches("[A-Za-z0-9_-]{43}");
        // another install gets another challenge
        assertThat(InstallFlow.start("default").params().get("code_challenge")).isNotEqualTo(params.get("code_challenge"));

        URI callback = InstallFlow.consent(started, 70_001, "allow");
        String code = HubSpotSimulator.parseQuery(callback.getRawQuery()).get("code").get(0);
        // an attacker holding the intercepted code (and the state, and the client secret even) but not the verifier
        Response stolen = given().baseUri(FakeHubSpotResource.hubspot().baseUrl())
                .contentType("application/x-www-form-urlencoded")
                .formParam("grant_type", "authorization_code").formParam("client_id", FakeHubSpotResource.CLIENT_ID)
                .formParam("client_secret", FakeHubSpotResource.CLIENT_SECRET)
                .formParam("redirect_uri", FakeHubSpotResource.PUBLIC_BASE_URL + "/oauth/default/callback")
                .formParam("code", code).post("/oauth/v1/token");
        assertThat(stolen.statusCode()).as(stolen.asString()).isEqualTo(400);
        assertThat(stolen.asString()).contains("code_verifier");

        // the vault's own exchange of a fresh code carries the verifier and succeeds
        assertThat(InstallFlow.install("default", 70_002).statusCode()).isEqualTo(200);
        var exchange = FakeHubSpotResource.sim().requests(HubSpotSimulator.OP_CODE);
        assertThat(exchange).isNotEmpty();
    }
}
