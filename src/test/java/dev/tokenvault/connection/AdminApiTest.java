package dev.tokenvault.connection;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.everyItem;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.notNullValue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.Jwts;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;

/** Connection listing and the audit trail for operators. */
@QuarkusTest
class AdminApiTest {

    @Inject
    AuditLog audit;

    static void put(long portal) {
        String token = "pat-na1-" + UUID.randomUUID();
        dev.tokenvault.testing.FakeHubSpotResource.sim().registerPrivateAppToken(portal, token);
        given().auth().oauth2(Jwts.admin()).contentType(ContentType.JSON)
                .body("{\"token\":\"" + token + "\"}")
                .put("/v1/apps/ops/portals/" + portal + "/private-app-token").then().statusCode(200);
    }

    @Test
    void listsConnectionsPageByPageLimitedToTheCallersPortals() throws Exception {
        for (long p = 9101; p <= 9107; p++) {
            put(p);
        }
        Db.update("update connection set status = 'needs_reauth' where app = 'ops' and portal_id = 9103");
        List<Integer> seen = new ArrayList<>();
        String cursor = null;
        int pages = 0;
        do {
            var req = given().auth().oauth2(Jwts.admin()).queryParam("limit", 3);
            if (cursor != null) {
                req.queryParam("cursor", cursor);
            }
            Response r = req.get("/v1/apps/ops/portals");
            r.then().statusCode(200);
            seen.addAll(r.path("items.portalId"));
            cursor = r.path("nextCursor");
            pages++;
        } while (cursor != null && pages < 20);
        assertThat(seen).containsSubsequence(9101, 9102, 9103, 9104, 9105, 9106, 9107).doesNotHaveDuplicates();

        given().auth().oauth2(Jwts.admin()).queryParam("status", "needs_reauth").get("/v1/apps/ops/portals")
                .then().statusCode(200).body("items.status", everyItem(equalTo("needs_reauth")))
                .body("items.portalId", org.hamcrest.Matchers.hasItem(9103));
        given().auth().oauth2(Jwts.token("a", Set.of("tokens.admin"), List.of("9104", "9106")))
                .get("/v1/apps/ops/portals").then().statusCode(200).body("items.portalId", equalTo(List.of(9104, 9106)))
                .body("items[0].accessToken", org.hamcrest.Matchers.nullValue());
        for (String bad : List.of("status=gone", "limit=0", "limit=501", "cursor=abc", "cursor=-4")) {
            given().auth().oauth2(Jwts.admin()).get("/v1/apps/ops/portals?" + bad).then().statusCode(400)
                    .contentType("application/problem+json");
        }
        given().auth().oauth2(Jwts.reader("*")).get("/v1/apps/ops/portals").then().statusCode(403);
    }

    @Test
    void auditRecordsAdminActionsNewestFirstWithFilters() {
        put(9201);
        put(9201);
        given().auth().oauth2(Jwts.token("svc-9201", Set.of("tokens.read"), List.of("9201")))
                .get("/v1/apps/ops/portals/9201/token").then().statusCode(200);
        audit.flush().await().indefinitely();

        Response all = given().auth().oauth2(Jwts.admin()).queryParam("portalId", 9201).get("/v1/admin/audit");
        all.then().statusCode(200).body("items", hasSize(3)).body("items[0].action", equalTo("token.handout"))
                .body("items[0].sub", equalTo("svc-9201")).body("items[0].outcome", equalTo("store"))
                .body("items[0].at", notNullValue());
        given().auth().oauth2(Jwts.admin()).queryParam("sub", "svc-9201").get("/v1/admin/audit")
                .then().statusCode(200).body("items.sub", everyItem(equalTo("svc-9201")));
        Response page = given().auth().oauth2(Jwts.admin()).queryParam("portalId", 9201).queryParam("limit", 2)
                .get("/v1/admin/audit");
        String cursor = page.path("nextCursor");
        assertThat(cursor).isNotNull();
        given().auth().oauth2(Jwts.admin()).queryParam("portalId", 9201).queryParam("cursor", cursor)
                .get("/v1/admin/audit").then().statusCode(200).body("items", hasSize(1))
                .body("items[0].action", equalTo("private_app_token.put"));
        given().auth().oauth2(Jwts.admin()).queryParam("since", "2999-01-01T00:00:00Z").get("/v1/admin/audit")
                .then().statusCode(200).body("items", hasSize(0));
        given().auth().oauth2(Jwts.admin()).queryParam("since", "yesterday").get("/v1/admin/audit")
                .then().statusCode(400);
        // an admin of some portals sees their portals only
        given().auth().oauth2(Jwts.token("a", Set.of("tokens.admin"), List.of("9201"))).get("/v1/admin/audit")
                .then().statusCode(403);
        // refusals are audited too
        given().auth().oauth2(Jwts.token("intruder", Set.of("tokens.read"), List.of("1")))
                .delete("/v1/apps/ops/portals/9201").then().statusCode(403);
        audit.flush().await().indefinitely();
        given().auth().oauth2(Jwts.admin()).queryParam("sub", "intruder").get("/v1/admin/audit").then()
                .statusCode(200).body("items[0].action", equalTo("authorization"))
                .body("items[0].outcome", equalTo("forbidden")).body("items[0].portalId", equalTo(9201));
        given().auth().oauth2(Jwts.token("a", Set.of("tokens.admin"), List.of("9201")))
                .queryParam("portalId", 9201).get("/v1/admin/audit").then().statusCode(200);
    }
}
