package dev.tokenvault.web;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsInAnyOrder;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Set;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;

import dev.tokenvault.callers.CallerVerifier;
import dev.tokenvault.testing.Jwts;
import io.quarkus.test.junit.QuarkusTest;

/** Who may call: JWT verification and the one authorisation decision (groups + portals claim). */
@QuarkusTest
class CallerAuthenticationTest {

    @Inject
    CallerVerifier verifier;

    @Test
    void whoamiShowsWhatTheServiceSees() {
        given().auth().oauth2(Jwts.token("billing-svc", Set.of("tokens.read"), List.of("62515", "7")))
                .get("/v1/whoami")
                .then().statusCode(200)
                .body("sub", equalTo("billing-svc"))
                .body("groups", contains("tokens.read"))
                .body("portals", containsInAnyOrder("7", "62515"));

        given().auth().oauth2(Jwts.admin()).get("/v1/whoami")
                .then().statusCode(200).body("portals", contains("*"));
        given().auth().oauth2(Jwts.token("nobody", Set.of(), null)).get("/v1/whoami")
                .then().statusCode(200).body("portals", equalTo(List.of()));
    }

    @Test
    void missingOrInvalidTokensAre401ProblemJson() throws Exception {
        String valid = Jwts.reader("62515");
        String[] parts = valid.split("\\.");
        String payload = parts[1];
        String algNone = b64("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "." + payload + ".";
        String publicKeyPem = Files.readString(Path.of("src/test/resources/test-jwt/public.pem"));
        String hsHeader = b64("{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(publicKeyPem.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        String hs256WithPublicKey = hsHeader + "." + payload + "." + Base64.getUrlEncoder().withoutPadding()
                .encodeToString(mac.doFinal((hsHeader + "." + payload).getBytes(StandardCharsets.US_ASCII)));
        String expired = Jwts.claims("svc", Set.of("tokens.read"), List.of("*"))
                .issuedAt(Instant.now().minusSeconds(7200)).expiresAt(Instant.now().minusSeconds(3600))
                .sign(Jwts.PRIVATE_KEY);
        String wrongIssuer = Jwts.claims("svc", Set.of("tokens.read"), List.of("*")).issuer("https://evil.test")
                .sign(Jwts.PRIVATE_KEY);
        String tamperedPayload = parts[0] + "." + b64("{\"sub\":\"svc\",\"iss\":\"https://issuer.test\","
                + "\"groups\":[\"tokens.admin\"],\"portals\":[\"*\"],\"exp\":" + (Instant.now().getEpochSecond() + 600)
                + "}") + "." + parts[2];

        String otherSignature = parts[0] + "." + parts[1] + "." + Jwts.reader("62515", "7").split("\\.")[2];

        // the valid token is verified and remembered first: nothing derived from it may ride on that
        given().auth().oauth2(valid).get("/v1/whoami").then().statusCode(200);
        given().auth().oauth2(valid).get("/v1/whoami").then().statusCode(200);
        given().get("/v1/whoami").then().statusCode(401)
                .contentType("application/problem+json").header("WWW-Authenticate", "Bearer")
                .body("status", equalTo(401)).body("title", equalTo("Unauthenticated"))
                .body("type", containsString("unauthenticated")).body("detail", not(containsString("Exception")));
        for (String bad : List.of(algNone, hs256WithPublicKey, expired, wrongIssuer, tamperedPayload, otherSignature,
                valid + "x", valid.substring(0, valid.length() - 1), "garbage")) {
            given().auth().oauth2(bad).get("/v1/whoami").then().statusCode(401)
                    .contentType("application/problem+json").body("status", equalTo(401))
                    .body(not(containsString(bad)));
        }
    }

    @Test
    void aVerifiedTokenIsRememberedNotReverified() throws Exception {
        String token = Jwts.reader("62515");
        CallerVerifier.Verified first = verifier.verify(token);
        assertSame(first, verifier.cached(new String(token.toCharArray())),
                "the verified-token cache is in front of smallrye-jwt");
        assertSame(first, verifier.verify(token));
        assertEquals("svc-reader", first.caller().sub());
        // and the HTTP path uses it: the identity Quarkus sees is the remembered one
        given().auth().oauth2(token).get("/v1/whoami").then().statusCode(200).body("sub", equalTo("svc-reader"));
        assertSame(first, verifier.cached(token));
    }

    @Test
    void groupsAndPortalsDecide() {
        String path = "/v1/apps/ops/portals/62515";
        // no admin group
        given().auth().oauth2(Jwts.reader("62515")).get(path).then().statusCode(403)
                .contentType("application/problem+json").body("detail", containsString("tokens.admin"));
        // admin, but not of this portal
        given().auth().oauth2(Jwts.token("a", Set.of("tokens.admin"), List.of("1", "2"))).get(path)
                .then().statusCode(403).body("detail", containsString("62515"));
        // admin with no portals claim: no portal
        given().auth().oauth2(Jwts.token("a", Set.of("tokens.admin"), null)).get(path).then().statusCode(403);
        // admin of this portal: allowed (404: nothing stored)
        given().auth().oauth2(Jwts.token("a", Set.of("tokens.admin"), List.of("62515"))).get(path)
                .then().statusCode(404).contentType("application/problem+json");
        // "*"
        given().auth().oauth2(Jwts.admin()).get(path).then().statusCode(404);
        // rewrap needs "*"
        given().auth().oauth2(Jwts.token("a", Set.of("tokens.admin"), List.of("62515"))).get("/v1/admin/rewrap")
                .then().statusCode(403);
    }

    @Test
    void badPathsAndUnknownAppsAreProblems() {
        String admin = Jwts.admin();
        for (String id : List.of("abc", "0", "-1", "99999999999999999999", "9223372036854775808", "1.5")) {
            given().auth().oauth2(admin).get("/v1/apps/ops/portals/" + id).then().statusCode(400)
                    .contentType("application/problem+json").body("status", equalTo(400));
        }
        given().auth().oauth2(admin).get("/v1/apps/nope/portals/1").then().statusCode(404)
                .contentType("application/problem+json").body("detail", containsString("nope"));
        given().auth().oauth2(admin).get("/v1/apps/NOPE!/portals/1").then().statusCode(400);
        // a caller without the group learns nothing about which apps exist
        String nobody = Jwts.token("nobody", Set.of(), List.of("*"));
        given().auth().oauth2(nobody).get("/v1/apps/nope/portals/1").then().statusCode(403);
        given().auth().oauth2(nobody).get("/v1/apps/nope/portals/1/token").then().statusCode(403);
        given().auth().oauth2(admin).get("/v1/no/such/path").then().statusCode(404)
                .contentType("application/problem+json");
    }

    private static String b64(String json) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(json.getBytes(StandardCharsets.UTF_8));
    }
}
