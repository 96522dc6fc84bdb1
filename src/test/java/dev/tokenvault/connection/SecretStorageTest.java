package dev.tokenvault.connection;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.nullValue;

import java.nio.charset.StandardCharsets;
import java.util.UUID;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.crypto.CryptoException;
import dev.tokenvault.crypto.SecretField;
import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.Jwts;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;

/** Secrets at rest, against the real database: sealed, bound to their row and field, shredded with their key. */
@QuarkusTest
class SecretStorageTest {

    @Inject
    ConnectionService connections;

    @Inject
    AuditLog audit;

    static String newToken() {
        return "pat-na1-" + UUID.randomUUID();
    }

    static void put(long portalId, String token) {
        dev.tokenvault.testing.FakeHubSpotResource.sim().registerPrivateAppToken(portalId, token);
        given().auth().oauth2(Jwts.admin()).contentType(ContentType.JSON)
                .body("{\"token\":\"" + token + "\"}")
                .put("/v1/apps/ops/portals/" + portalId + "/private-app-token")
                .then().statusCode(200);
    }

    @Test
    void privateAppTokenIsStoredSealedAndNeverShown() throws Exception {
        String token = newToken();
        dev.tokenvault.testing.FakeHubSpotResource.sim().registerPrivateAppToken(1001, token);
        given().auth().oauth2(Jwts.admin()).contentType(ContentType.JSON)
                .body("{\"token\":\"" + token + "\"}")
                .put("/v1/apps/ops/portals/1001/private-app-token")
                .then().statusCode(200)
                .body("app", equalTo("ops")).body("portalId", equalTo(1001))
                .body("authType", equalTo("private_app")).body("status", equalTo("active"))
                .body("expiresAt", nullValue())
                .body(not(containsString(token)));
        audit.flush().await().indefinitely();

        byte[] needle = token.getBytes(StandardCharsets.UTF_8);
        byte[] distinctive = token.substring(8).getBytes(StandardCharsets.UTF_8);
        for (byte[] cell : Db.allCells()) {
            assertThat(indexOf(cell, needle)).as("a stored cell contains the token").isNegative();
            assertThat(indexOf(cell, distinctive)).as("a stored cell contains the token's body").isNegative();
        }
        assertThat(Db.count("select count(*) from secret s join connection c on c.id = s.connection_id "
                + "where c.portal_id = 1001 and s.field = 'private_app_token'")).isEqualTo(1);
        assertThat(Db.count("select count(*) from audit_log where portal_id = 1001 "
                + "and action = 'private_app_token.put' and outcome = 'ok' and sub = 'ops-admin'")).isEqualTo(1);

        OpenedConnection opened = connections.open("ops", 1001).await().indefinitely().orElseThrow();
        assertThat(opened.secret(SecretField.PRIVATE_APP_TOKEN)).contains(token);
        assertThat(opened.toString()).doesNotContain(token);

        // replacing keeps one data key and one secret
        String second = newToken();
        put(1001, second);
        assertThat(connections.open("ops", 1001).await().indefinitely().orElseThrow()
                .secret(SecretField.PRIVATE_APP_TOKEN)).contains(second);
        assertThat(Db.count("select count(*) from data_key d join connection c on c.id = d.connection_id "
                + "where c.portal_id = 1001")).isEqualTo(1);

        given().auth().oauth2(Jwts.admin()).get("/v1/apps/ops/portals/1001").then().statusCode(200)
                .body("authType", equalTo("private_app")).body(not(containsString(second)));
    }

    @Test
    void aCiphertextCopiedToAnotherPortalOrFieldDoesNotOpen() throws Exception {
        put(1002, newToken());
        put(1003, newToken());
        Db.update("update secret set ciphertext = (select s.ciphertext from secret s join connection c "
                + "on c.id = s.connection_id where c.portal_id = 1002 and c.app = 'ops') "
                + "where connection_id = (select id from connection where portal_id = 1003 and app = 'ops')");
        assertThatThrownBy(() -> connections.open("ops", 1003).await().indefinitely())
                .isInstanceOf(CryptoException.class)
                .hasMessageContaining("private_app_token of ops/1003").hasMessageContaining("authentication failed");

        // same connection, another field
        put(1004, newToken());
        Db.update("insert into secret (connection_id, field, ciphertext, updated_at) select connection_id, "
                + "'access_token', ciphertext, now() from secret where connection_id = "
                + "(select id from connection where portal_id = 1004 and app = 'ops')");
        assertThatThrownBy(() -> connections.open("ops", 1004).await().indefinitely())
                .isInstanceOf(CryptoException.class).hasMessageContaining("access_token of ops/1004");
    }

    @Test
    void deletingTheDataKeyShredsTheSecrets() throws Exception {
        String token = newToken();
        put(1005, token);
        assertThat(connections.open("ops", 1005).await().indefinitely()).isPresent();

        Db.update("delete from data_key where connection_id = (select id from connection where portal_id = 1005)");

        assertThat(Db.count("select count(*) from secret s join connection c on c.id = s.connection_id "
                + "where c.portal_id = 1005")).isEqualTo(1);
        assertThatThrownBy(() -> connections.open("ops", 1005).await().indefinitely())
                .isInstanceOf(CryptoException.class).hasMessageContaining("destroyed");
    }

    @Test
    void badBodiesAre400AndLoseNothing() throws Exception {
        String token = newToken();
        put(1006, token);
        String path = "/v1/apps/ops/portals/1006/private-app-token";
        for (String body : new String[] { "{\"token\":", "[]", "{}", "{\"token\":\"\"}", "{\"token\":\"a b\"}",
                "{\"token\":42}", "null" }) {
            given().auth().oauth2(Jwts.admin()).contentType(ContentType.JSON).body(body).put(path)
                    .then().statusCode(400).contentType("application/problem+json").body("status", equalTo(400))
                    .body(not(containsString("Exception")));
        }
        given().auth().oauth2(Jwts.admin()).contentType(ContentType.TEXT).body(token).put(path)
                .then().statusCode(415).contentType("application/problem+json");
        assertThat(connections.open("ops", 1006).await().indefinitely().orElseThrow()
                .secret(SecretField.PRIVATE_APP_TOKEN)).contains(token);
    }

    @Test
    void anOAuthConnectionIsNotOverwrittenByAPrivateAppToken() throws Exception {
        put(1007, newToken());
        Db.update("update connection set auth_type = 'oauth' where portal_id = 1007 and app = 'ops'");
        String other = newToken();
        dev.tokenvault.testing.FakeHubSpotResource.sim().registerPrivateAppToken(1007, other);
        given().auth().oauth2(Jwts.admin()).contentType(ContentType.JSON).body("{\"token\":\"" + other + "\"}")
                .put("/v1/apps/ops/portals/1007/private-app-token")
                .then().statusCode(409).contentType("application/problem+json")
                .body("detail", containsString("OAuth"));
    }

    static int indexOf(byte[] haystack, byte[] needle) {
        outer: for (int i = 0; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
