package dev.tokenvault.web;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;

import java.util.List;

import org.junit.jupiter.api.Test;

import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.Jwts;
import dev.tokenvault.testing.LogCapture;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;

/**
 * One canonical form for every input (issue #19): ids and integers in ASCII digits only, request bodies bound
 * strictly, bad filters as 400, and the HTTP layer's own refusals as problem+json too.
 */
@QuarkusTest
class CanonicalInputTest {

    @Test
    void idsAndIntegersInOtherSpellingsAre400() {
        String jwt = Jwts.admin();
        for (String portal : List.of("%D9%A3%D9%A0%D9%A0%D9%A1", "%EF%BC%94%EF%BC%90", "+4001", "04001", "4001.0")) {
            given().urlEncodingEnabled(false).auth().oauth2(jwt).get("/v1/apps/default/portals/" + portal + "/token")
                    .then().statusCode(400).contentType("application/problem+json");
        }
        given().auth().oauth2(jwt).queryParam("minValidity", "\u0666\u0660").get("/v1/apps/default/portals/1/token")
                .then().statusCode(400);
        given().auth().oauth2(jwt).queryParam("minValidity", "+60").get("/v1/apps/default/portals/1/token").then()
                .statusCode(400);
        given().auth().oauth2(jwt).queryParam("limit", "010").get("/v1/apps/default/portals").then().statusCode(400);
        given().auth().oauth2(jwt).queryParam("cursor", "+5").get("/v1/apps/default/portals").then().statusCode(400);
    }

    @Test
    void aPortalsClaimInAnotherSpellingGrantsNothing() {
        String sloppy = Jwts.token("svc", java.util.Set.of("tokens.read"), List.of(" * ", "+4001", "04001"));
        given().auth().oauth2(sloppy).get("/v1/apps/default/portals/4001/token").then().statusCode(403);
        given().auth().oauth2(sloppy).get("/v1/whoami").then().statusCode(200)
                .body("portals", org.hamcrest.Matchers.empty());
    }

    @Test
    void bodiesAreBoundStrictly() throws Exception {
        String path = "/v1/apps/ops/portals/4101/private-app-token";
        for (String body : List.of("{\"token\":\"pat-na1-a\",\"token\":\"pat-na1-b\"}", "{\"token\":12345}",
                "{\"token\":true}", "{\"token\":[\"pat-na1-a\"]}", "{\"token\":\"pat-na1-a\"", "\"pat-na1-a\"")) {
            try (LogCapture log = LogCapture.install()) {
                given().auth().oauth2(Jwts.admin()).contentType(ContentType.JSON).body(body).put(path).then()
                        .statusCode(400).contentType("application/problem+json")
                        .body("type", endsWith("/invalid-request"));
                assertThat(log.all()).as(body).doesNotContain("\tat ").doesNotContain("pat-na1-a");
            }
        }
        assertThat(Db.count("select count(*) from connection where portal_id = 4101")).isZero();
        // unknown fields are ignored, as documented
        dev.tokenvault.testing.FakeHubSpotResource.sim().registerPrivateAppToken(4101,
                "pat-na1-00000000-0000-0000-0000-000000000001");
        given().auth().oauth2(Jwts.admin()).contentType(ContentType.JSON)
                .body("{\"token\":\"pat-na1-00000000-0000-0000-0000-000000000001\",\"note\":\"ignored\"}").put(path).then()
                .statusCode(200);
    }

    @Test
    void badAuditFiltersAre400NotAnOutageOrAnInternalError() {
        String jwt = Jwts.admin();
        given().auth().oauth2(jwt).urlEncodingEnabled(false).get("/v1/admin/audit?sub=%00").then().statusCode(400)
                .contentType("application/problem+json");
        given().auth().oauth2(jwt).queryParam("since", "-999999999-01-01T00:00:00Z").get("/v1/admin/audit").then()
                .statusCode(400).contentType("application/problem+json");
        given().auth().oauth2(jwt).queryParam("since", "+999999999-12-31T23:59:59Z").get("/v1/admin/audit").then()
                .statusCode(400);
        given().auth().oauth2(jwt).queryParam("cursor", "bm90OmFjdXJzb3I").get("/v1/admin/audit").then()
                .statusCode(400);
    }

    @Test
    void aBodyOverTheHttpLimitIsProblemJsonWithoutAStackTrace() throws Exception {
        byte[] big = new byte[100 * 1024];
        java.util.Arrays.fill(big, (byte) 'x');
        try (LogCapture log = LogCapture.install()) {
            given().auth().oauth2(Jwts.admin()).contentType(ContentType.JSON).body(big)
                    .put("/v1/apps/ops/portals/4102/private-app-token").then().statusCode(413)
                    .contentType("application/problem+json").body("type", endsWith("/payload-too-large"))
                    .body("detail", containsString("larger"));
            assertThat(log.all()).doesNotContain("\tat ");
        }
    }
}
