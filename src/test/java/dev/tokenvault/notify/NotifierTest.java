package dev.tokenvault.notify;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import jakarta.inject.Inject;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.metrics.Metrics;
import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.InstallFlow;
import dev.tokenvault.testing.Jwts;
import dev.tokenvault.testing.NotifyReceiver;
import dev.tokenvault.testing.NotifyReceiver.Delivery;
import dev.tokenvault.testing.TestClock;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.vertx.mutiny.sqlclient.Pool;

/** Outgoing notifications: signed, delivered from the outbox, retried, same id on redelivery. */
@QuarkusTest
@TestProfile(NotifierTest.WithReceiver.class)
class NotifierTest {

    public static class WithReceiver implements QuarkusTestProfile {
        @Override
        public List<TestResourceEntry> testResources() {
            return List.of(new TestResourceEntry(NotifyReceiver.class));
        }

        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tokenvault.notify.poll-interval", "1h");
        }
    }

    @Inject
    Notifier notifier;

    @Inject
    dev.tokenvault.db.ScheduledJobs jobs;

    @Inject
    TestClock clock;

    @Inject
    Pool pool;

    @Inject
    TokenVaultConfig config;

    @Inject
    Metrics metrics;

    @Inject
    ObjectMapper json;

    @AfterEach
    void reset() {
        clock.reset();
        NotifyReceiver.failNext(0);
    }

    List<JsonNode> delivered(long portal) throws Exception {
        List<JsonNode> out = new java.util.ArrayList<>();
        for (Delivery d : NotifyReceiver.deliveries()) {
            JsonNode n = json.readTree(d.body());
            if (n.get("portalId").asLong() == portal) {
                out.add(n);
            }
        }
        return out;
    }

    @Inject
    io.micrometer.core.instrument.MeterRegistry registry;

    double notifyFailures() {
        return registry.get("tokenvault_notify_failures_total").counter().count();
    }

    int dispatch() {
        return notifier.dispatch().await().atMost(Duration.ofSeconds(20));
    }

    @Test
    void installNeedsReauthAndRecoveryAreAnnouncedSigned() throws Exception {
        long portal = 12_001;
        assertThat(InstallFlow.install("default", portal).statusCode()).isEqualTo(200);
        dispatch();
        List<JsonNode> events = delivered(portal);
        assertThat(events).hasSize(1);
        JsonNode installed = events.get(0);
        assertThat(installed.get("event").asText()).isEqualTo("connection.installed");
        assertThat(installed.get("app").asText()).isEqualTo("default");
        assertThat(installed.get("at").asText()).endsWith("Z");
        Delivery d = NotifyReceiver.deliveries().stream().filter(x -> x.body().contains("\"portalId\":" + portal))
                .findFirst().orElseThrow();
        assertThat(d.signature()).isEqualTo(Notifier.sign(NotifyReceiver.SECRET, d.body()));
        assertThat(d.signature()).isNotEqualTo(Notifier.sign("another-secret", d.body()));
        assertThat(d.eventId()).isEqualTo(installed.get("id").asText());

        FakeHubSpotResource.sim().revokeRefreshTokens(portal);
        given().auth().oauth2(Jwts.reader("*")).post("/v1/apps/default/portals/" + portal + "/token/refresh").then()
                .statusCode(409);
        assertThat(InstallFlow.install("default", portal).statusCode()).isEqualTo(200);
        dispatch();
        assertThat(delivered(portal)).extracting(n -> n.get("event").asText())
                .containsExactly("connection.installed", "connection.needs_reauth", "connection.recovered");
    }

    @Test
    void aFailingReceiverGetsRetriesWithTheSameIdAndARestartDeliversOnce() throws Exception {
        long portal = 12_002;
        NotifyReceiver.failNext(2);
        assertThat(InstallFlow.install("default", portal).statusCode()).isEqualTo(200);
        double failuresBefore = metrics == null ? -1 : notifyFailures();

        assertThat(dispatch()).isZero();
        assertThat(dispatch()).as("not due again before its backoff").isZero();
        clock.advance(Duration.ofMinutes(1));
        assertThat(dispatch()).isZero();

        // "restart": another notifier instance (a fresh process) picks the event up from the outbox
        Notifier restarted = new Notifier(pool, clock, config, metrics, json, jobs);
        clock.advance(Duration.ofMinutes(2));
        assertThat(restarted.dispatch().await().atMost(Duration.ofSeconds(20))).isEqualTo(1);
        clock.advance(Duration.ofHours(1));
        assertThat(dispatch()).isZero();
        assertThat(restarted.dispatch().await().atMost(Duration.ofSeconds(20))).isZero();

        List<Delivery> attempts = NotifyReceiver.deliveries().stream()
                .filter(x -> x.body().contains("\"portalId\":" + portal)).toList();
        assertThat(attempts).hasSize(3);
        assertThat(attempts).extracting(Delivery::answered).containsExactly(503, 503, 204);
        assertThat(attempts).extracting(Delivery::eventId).containsOnly(attempts.get(0).eventId());
        assertThat(notifyFailures()).isEqualTo(failuresBefore + 2);
    }

    @Test
    void deliveredNotificationsAreDeletedAfterTheirRetentionAndPendingOnesNever() throws Exception {
        dev.tokenvault.testing.Db.update("insert into notification_outbox (id, event, app, portal_id, at, "
                + "next_attempt_at, delivered_at) values "
                + "(gen_random_uuid(), 'connection.installed', 'default', 9801, now() - interval '9 days', now() - interval '9 days', now() - interval '8 days'), "
                + "(gen_random_uuid(), 'connection.installed', 'default', 9801, now() - interval '2 days', now() - interval '2 days', now() - interval '1 day'), "
                + "(gen_random_uuid(), 'connection.revoked', 'default', 9801, now() - interval '30 days', now() + interval '1 day', null)");
        try {
            int deleted = notifier.purgeDeliveredBefore(java.time.Instant.now().minus(Duration.ofDays(7)))
                    .await().indefinitely();
            assertThat(deleted).isGreaterThanOrEqualTo(1);
            assertThat(dev.tokenvault.testing.Db.count("select count(*) from notification_outbox where portal_id = 9801 "
                    + "and delivered_at < now() - interval '7 days'")).isZero();
            assertThat(dev.tokenvault.testing.Db.count("select count(*) from notification_outbox where portal_id = 9801"))
                    .isEqualTo(2); // the recent delivered one and the pending one
        } finally {
            dev.tokenvault.testing.Db.update("delete from notification_outbox where portal_id = 9801");
        }
    }
}
