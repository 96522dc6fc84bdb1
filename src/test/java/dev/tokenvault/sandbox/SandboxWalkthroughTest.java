package dev.tokenvault.sandbox;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import java.net.URI;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.SandboxProfile;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;

/**
 * The README's "Try it" story through the built-in sandbox, as a cookie-keeping browser and curl would do it:
 * install (consent form, Allow), hand-out with a dev caller token, forced refresh, revoke → needs_reauth, uninstall
 * webhook → 404, deny → nothing stored.
 */
@QuarkusTest
@TestProfile(SandboxProfile.class)
class SandboxWalkthroughTest {

    /** Start the install, submit the sandbox consent form with the given action; returns the vault's answer. */
    static Response consent(long portal, String action) {
        Response install = given().redirects().follow(false).get("/oauth/default/install");
        assertThat(install.statusCode()).isEqualTo(302);
        URI consentUrl = URI.create(install.header("Location"));
        assertThat(consentUrl.getPath()).isEqualTo("/sandbox/hubspot/oauth/authorize");
        String cookie = install.getCookie("tokenvault_oauth");

        String page = given().urlEncodingEnabled(false).get(consentUrl.getRawPath() + "?" + consentUrl.getRawQuery()).then()
                .statusCode(200)
                .extract().asString();
        assertThat(page).contains("<form", "Allow", "Deny", "portal_id", "crm.objects.contacts.read",
                "crm.objects.deals.read");
        Map<String, String> form = new HashMap<>();
        HubSpotSimulator.parseQuery(consentUrl.getRawQuery()).forEach((k, v) -> form.put(k, v.get(0)));
        form.put("portal_id", Long.toString(portal));
        form.put("action", action);
        Response approved = given().redirects().follow(false).formParams(form).post("/sandbox/hubspot/oauth/authorize");
        assertThat(approved.statusCode()).isEqualTo(302);
        URI callback = URI.create(approved.header("Location"));
        return given().redirects().follow(false).cookie("tokenvault_oauth", cookie)
                .get(callback.getRawPath() + "?" + callback.getRawQuery());
    }

    @Test
    void theWholeStory() throws Exception {
        long portal = 62_515;
        // 1. install through the consent screen
        Response done = consent(portal, "allow");
        assertThat(done.statusCode()).isEqualTo(200);
        assertThat(done.asString()).contains("Connected");

        // 2. a caller token from dev mode, then the hand-out
        String jwt = given().get("/dev/caller-token").then().statusCode(200).contentType(containsString("text/plain"))
                .extract().asString();
        given().auth().oauth2(jwt).get("/v1/whoami").then().statusCode(200).body("sub", equalTo("dev-caller"))
                .body("portals[0]", equalTo("*"));
        String first = given().auth().oauth2(jwt).get("/v1/apps/default/portals/" + portal + "/token").then()
                .statusCode(200).body("authType", equalTo("oauth")).extract().path("accessToken");

        // the sandbox also serves HubSpot's CRM objects API to the handed-out token (the proxy's upstream in dev mode)
        given().auth().oauth2(first).contentType("application/json")
                .body("{\"properties\":{\"email\":\"try@example.com\",\"firstname\":\"Try\"}}")
                .post("/sandbox/hubspot/crm/v3/objects/contacts").then().statusCode(201)
                .header("X-HubSpot-RateLimit-Max", equalTo("100"));
        given().auth().oauth2(first).get("/sandbox/hubspot/crm/v3/objects/contacts?properties=email").then()
                .statusCode(200).body("results[0].properties.email", equalTo("try@example.com"));
        given().get("/sandbox/hubspot/crm/v3/objects/contacts").then().statusCode(401)
                .body("category", equalTo("INVALID_AUTHENTICATION"));

        // 3. forced refresh gives a new token
        String second = given().auth().oauth2(jwt).post("/v1/apps/default/portals/" + portal + "/token/refresh")
                .then().statusCode(200).extract().path("accessToken");
        assertThat(second).isNotEqualTo(first);

        // README step 5: a contact created and listed through the vault's proxy with a hubspot.proxy caller token
        String proxyJwt = given().queryParam("groups", "hubspot.proxy").queryParam("portals", Long.toString(portal))
                .get("/dev/caller-token").then().statusCode(200).extract().asString();
        String proxy = "/v1/apps/default/portals/" + portal + "/hubspot";
        given().auth().oauth2(proxyJwt).contentType("application/json")
                .body("{\"properties\":{\"email\":\"ada@example.com\",\"firstname\":\"Ada\"}}")
                .post(proxy + "/crm/v3/objects/contacts").then().statusCode(201)
                .body("properties.email", equalTo("ada@example.com"));
        given().auth().oauth2(proxyJwt).get(proxy + "/crm/v3/objects/contacts?limit=10&properties=email").then()
                .statusCode(200).header("X-HubSpot-RateLimit-Max", equalTo("100"))
                .body("results.properties.email", org.hamcrest.Matchers.hasItem("ada@example.com"));
        given().auth().oauth2(proxyJwt).get("/v1/apps/default/portals/" + portal + "/rate-budget").then()
                .statusCode(200).body("calls", equalTo(100));
        given().auth().oauth2(proxyJwt).get("/v1/apps/default/portals/" + portal + "/token").then().statusCode(403);

        // 4. the sandbox page lists the portal; "revoke refresh token" → next refresh is refused → needs_reauth
        given().get("/sandbox").then().statusCode(200).body(containsString(Long.toString(portal)))
                .body(containsString("Revoke refresh token")).body(containsString("Uninstall app"));
        given().redirects().follow(false).post("/sandbox/portals/" + portal + "/revoke").then().statusCode(303);
        given().auth().oauth2(jwt).post("/v1/apps/default/portals/" + portal + "/token/refresh").then()
                .statusCode(409).body("installUrl", equalTo(SandboxProfile.BASE + "/oauth/default/install"));

        // 5. "uninstall app" sends a signed webhook → the connection is gone
        given().redirects().follow(false).post("/sandbox/portals/" + portal + "/uninstall").then().statusCode(303)
                .header("Location", containsString("answered+200"));
        given().auth().oauth2(jwt).get("/v1/apps/default/portals/" + portal + "/token").then().statusCode(404);

        // 6. deny stores nothing
        Response denied = consent(62_516, "deny");
        assertThat(denied.statusCode()).isEqualTo(403);
        assertThat(Db.count("select count(*) from connection where portal_id = 62516")).isZero();
    }

    @Test
    void devPagesAndCallerTokenParameters() {
        given().get("/").then().statusCode(200).contentType(containsString("text/html"))
                .body(containsString("/oauth/default/install")).body(containsString("/sandbox"))
                .body(containsString("/q/swagger-ui")).body(containsString("/q/health"))
                .body(containsString("/q/metrics")).body(containsString("token/refresh"));
        String reader = given().queryParam("groups", "tokens.read").queryParam("portals", "7,8")
                .get("/dev/caller-token").then().statusCode(200).extract().asString();
        given().auth().oauth2(reader).get("/v1/whoami").then().statusCode(200)
                .body("groups", equalTo(java.util.List.of("tokens.read")))
                .body("portals", equalTo(java.util.List.of("7", "8")));
        given().queryParam("groups", "root").get("/dev/caller-token").then().statusCode(400)
                .contentType("application/problem+json");
        given().queryParam("portals", "x").get("/dev/caller-token").then().statusCode(400);
    }
}
