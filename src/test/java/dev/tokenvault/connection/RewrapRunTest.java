package dev.tokenvault.connection;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.anyOf;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.nullValue;

import java.time.Duration;
import java.time.Instant;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.Jwts;
import io.quarkus.test.junit.QuarkusTest;

/**
 * One rewrap run for the whole deployment: a run another replica is going through is reported, not doubled; a run
 * whose replica stopped is shown as such and can be taken over.
 */
@QuarkusTest
class RewrapRunTest {

    @AfterEach
    void noRun() throws Exception {
        Db.update("delete from rewrap_run");
    }

    @Test
    void aRunOnAnotherReplicaIsReportedNotStartedAgain() throws Exception {
        Db.update("delete from rewrap_run");
        given().auth().oauth2(Jwts.admin()).get("/v1/admin/rewrap").then().statusCode(200)
                .body("state", equalTo("idle"));
        Db.update("insert into rewrap_run (state, owner, target_key_version, total, rewrapped, remaining, started_at, "
                + "heartbeat_at) values ('running', 'other-replica', 'k-other', 500, 120, 380, now() - interval '1 minute', now())");

        given().auth().oauth2(Jwts.admin()).post("/v1/admin/rewrap").then().statusCode(202)
                .body("state", equalTo("running")).body("targetKeyVersion", equalTo("k-other"))
                .body("total", equalTo(500)).body("rewrapped", equalTo(120)).body("remaining", equalTo(380));
        given().auth().oauth2(Jwts.admin()).get("/v1/admin/rewrap").then().statusCode(200)
                .body("state", equalTo("running")).body("rewrapped", equalTo(120));
        assertThat(Db.count("select count(*) from rewrap_run where owner = 'other-replica' and state = 'running'"))
                .isEqualTo(1);
    }

    @Test
    void aRunWhoseReplicaStoppedIsShownAsSuchAndCanBeTakenOver() throws Exception {
        Db.update("delete from rewrap_run");
        Db.update("insert into rewrap_run (state, owner, target_key_version, total, rewrapped, remaining, started_at, "
                + "heartbeat_at) values ('running', 'gone-replica', 'k-old', 10, 3, 7, now() - interval '10 minutes', "
                + "now() - interval '3 minutes')");
        given().auth().oauth2(Jwts.admin()).get("/v1/admin/rewrap").then().statusCode(200)
                .body("state", equalTo("failed")).body("error", containsString("stopped"))
                .body("rewrapped", equalTo(3));

        // taken over: this replica's new run (nothing is behind here, so it may already be done)
        given().auth().oauth2(Jwts.admin()).post("/v1/admin/rewrap").then().statusCode(202)
                .body("state", anyOf(equalTo("running"), equalTo("done"))).body("error", nullValue());
        assertThat(Db.count("select count(*) from rewrap_run where owner = 'gone-replica'")).isZero();
        Awaitility.await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> given().auth().oauth2(Jwts.admin())
                .get("/v1/admin/rewrap").then().statusCode(200).body("state", equalTo("done"))
                .body("remaining", equalTo(0)));
        // a finished run does not block the next one: the POST starts a new run
        String firstStart = given().auth().oauth2(Jwts.admin()).get("/v1/admin/rewrap").path("startedAt");
        Thread.sleep(5); // started_at is the database's now(), in microseconds
        String secondStart = given().auth().oauth2(Jwts.admin()).post("/v1/admin/rewrap").then().statusCode(202)
                .extract().path("startedAt");
        assertThat(Instant.parse(secondStart)).isAfter(Instant.parse(firstStart));
        Awaitility.await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> given().auth().oauth2(Jwts.admin())
                .get("/v1/admin/rewrap").then().body("state", equalTo("done")).body("startedAt", equalTo(secondStart)));
    }
}
