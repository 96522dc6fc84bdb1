package dev.tokenvault.webhook;

import static dev.tokenvault.webhook.WebhookTest.uninstallBody;
import static dev.tokenvault.webhook.WebhookTest.uninstallEvent;
import static dev.tokenvault.webhook.WebhookTest.uninstallEvents;
import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

import jakarta.inject.Inject;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.InstallFlow;
import dev.tokenvault.testing.TestClock;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;

/**
 * Issue #19, webhooks: replays are harmless (deliveries and uninstall events remembered by every replica), only a
 * small future skew, stale uninstalls and other app ids are ignored, ids only as canonical JSON integers.
 */
@QuarkusTest
class WebhookReplayTest {

    static final String URL = WebhookTest.URL;
    static final long APP_ID = FakeHubSpotResource.APP_ID;
    static final AtomicLong EVENT_IDS = new AtomicLong(System.currentTimeMillis() * 10);

    @Inject
    TestClock clock;

    @Inject
    AuditLog audit;

    @Inject
    WebhookDeliveries deliveries;

    @AfterEach
    void reset() {
        clock.reset();
    }

    /** A request as HubSpot signs it, to send (and send again). */
    record Signed(String path, String body, String signature, long timestamp) {

        Response send() {
            return given().contentType("application/json").header("X-HubSpot-Signature-v3", signature)
                    .header("X-HubSpot-Request-Timestamp", Long.toString(timestamp)).body(body).post(path);
        }

        byte[] deliveryKey() {
            return HubSpotSignatureVerifier.deliveryKey(new HubSpotSignatureVerifier.Request("POST", URL,
                    body.getBytes(StandardCharsets.UTF_8), Map.of("X-HubSpot-Signature-v3", List.of(signature),
                            "X-HubSpot-Request-Timestamp", List.of(Long.toString(timestamp)))));
        }
    }

    static Signed sign(String path, String url, String body, long timestamp) {
        return new Signed(path, body, HubSpotSignatureVerifier.signV3(FakeHubSpotResource.CLIENT_SECRET, "POST", url,
                body.getBytes(StandardCharsets.UTF_8), timestamp), timestamp);
    }

    Signed sign(String body) {
        return sign("/webhooks/default", URL, body, clock.millis());
    }

    static void install(long portal) {
        assertThat(InstallFlow.install("default", portal).statusCode()).isEqualTo(200);
    }

    static long connections(long portal) throws Exception {
        return Db.count("select count(*) from connection where app = 'default' and portal_id = ?", portal);
    }

    long audited(long portal, String action, String outcome) throws Exception {
        audit.flush().await().indefinitely();
        return Db.count("select count(*) from audit_log where portal_id = ? and action = ? and outcome = ?", portal,
                action, outcome);
    }

    @Test
    void aReplayedUninstallAfterAReinstallErasesNothing() throws Exception {
        long portal = 13_101;
        install(portal);
        long eventId = EVENT_IDS.incrementAndGet();
        long occurredAt = clock.millis();
        Signed uninstall = sign(uninstallBody(portal, eventId, occurredAt, APP_ID));
        uninstall.send().then().statusCode(200).body("uninstalls", equalTo(1)).body("replay", equalTo(false));
        assertThat(connections(portal)).isZero();

        // the user installs again; a captured copy of the uninstall is replayed within its 5 minutes
        install(portal);
        audit.flush().await().indefinitely();
        long replaysBefore = Db.count("select count(*) from audit_log where app = 'default' "
                + "and action = 'webhook.receive' and outcome = 'replay'");
        uninstall.send().then().statusCode(200).body("replay", equalTo(true)).body("uninstalls", equalTo(0));
        assertThat(connections(portal)).as("the fresh install survives the replay").isEqualTo(1);
        audit.flush().await().indefinitely();
        assertThat(Db.count("select count(*) from audit_log where app = 'default' and action = 'webhook.receive' "
                + "and outcome = 'replay'")).isEqualTo(replaysBefore + 1);

        // HubSpot retries the same event with a new timestamp and signature: acknowledged without acting
        clock.advance(Duration.ofSeconds(2));
        sign(uninstallBody(portal, eventId, occurredAt, APP_ID)).send().then().statusCode(200)
                .body("replay", equalTo(false)).body("uninstalls", equalTo(0)).body("ignored", equalTo(1));
        assertThat(connections(portal)).isEqualTo(1);
        assertThat(audited(portal, "webhook.event", "duplicate")).isEqualTo(1);

        // only hashes are stored, never the signature
        for (byte[] cell : Db.allCells()) {
            assertThat(new String(cell, StandardCharsets.ISO_8859_1)).doesNotContain(uninstall.signature());
        }
        assertThat(Db.count("select count(*) from webhook_delivery where key_hash = ? and kind = 'delivery'",
                uninstall.deliveryKey())).isEqualTo(1);
        byte[] eventKey = WebhookDeliveries.eventKey(portal, eventId, occurredAt);
        assertThat(Db.count("select count(*) from webhook_delivery where key_hash = ? and kind = 'event'", eventKey))
                .isEqualTo(1);

        // remembered for the replay window (every request past it is refused by its timestamp), then purged
        clock.advance(WebhookDeliveries.DELIVERY_RETENTION.plusSeconds(1));
        uninstall.send().then().statusCode(401);
        deliveries.purge().await().indefinitely();
        assertThat(Db.count("select count(*) from webhook_delivery where key_hash = ?", uninstall.deliveryKey()))
                .isZero();
        assertThat(Db.count("select count(*) from webhook_delivery where key_hash = ?", eventKey)).isEqualTo(1);
        clock.advance(WebhookDeliveries.EVENT_RETENTION);
        deliveries.purge().await().indefinitely();
        assertThat(Db.count("select count(*) from webhook_delivery where key_hash = ?", eventKey)).isZero();
        // a retry after that is still harmless: the event occurred before the installation
        sign(uninstallBody(portal, eventId, occurredAt, APP_ID)).send().then().statusCode(200)
                .body("uninstalls", equalTo(0)).body("ignored", equalTo(1));
        assertThat(connections(portal)).isEqualTo(1);
    }

    @Test
    void concurrentCopiesOfOneDeliveryActOnce() throws Exception {
        long portal = 13_102;
        install(portal);
        Signed uninstall = sign(uninstallBody(portal, EVENT_IDS.incrementAndGet(), clock.millis(), APP_ID));
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            List<Callable<Response>> copies = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                copies.add(uninstall::send);
            }
            int acted = 0;
            for (Future<Response> f : pool.invokeAll(copies)) {
                Response r = f.get();
                assertThat(r.statusCode()).isEqualTo(200);
                acted += r.jsonPath().getBoolean("replay") ? 0 : 1;
            }
            assertThat(acted).as("one copy wins the insert, the others are replays").isEqualTo(1);
        } finally {
            pool.shutdownNow();
        }
        assertThat(connections(portal)).isZero();
        assertThat(audited(portal, "connection.erase", "erased")).isEqualTo(1);
    }

    @Test
    void timestampsAreAcceptedWithinFiveMinutesPastAndASmallFutureSkew() {
        String body = "[{\"eventId\":1,\"portalId\":999101,\"subscriptionType\":\"contact.creation\"}]";
        long now = clock.millis();
        assertThat(sign("/webhooks/default", URL, body, now + Duration.ofMinutes(1).toMillis()).send().statusCode())
                .as("a minute ahead: not accepted, or a captured request would stay replayable for 6 minutes")
                .isEqualTo(401);
        assertThat(sign("/webhooks/default", URL, body, now + Duration.ofMinutes(4).toMillis()).send().statusCode())
                .isEqualTo(401);
        assertThat(sign("/webhooks/default", URL, body, now + Duration.ofSeconds(20).toMillis()).send().statusCode())
                .isEqualTo(200);
        assertThat(sign("/webhooks/default", URL, body, now - Duration.ofMinutes(4).toMillis()).send().statusCode())
                .isEqualTo(200);
        assertThat(sign("/webhooks/default", URL, body, now - Duration.ofMinutes(6).toMillis()).send().statusCode())
                .isEqualTo(401);
    }

    @Test
    void anUninstallThatOccurredBeforeTheInstallationIsIgnored() throws Exception {
        long portal = 13_103;
        long before = clock.millis() - Duration.ofMinutes(1).toMillis();
        install(portal);
        sign(uninstallBody(portal, EVENT_IDS.incrementAndGet(), before, APP_ID)).send().then().statusCode(200)
                .body("uninstalls", equalTo(0)).body("ignored", equalTo(1));
        assertThat(connections(portal)).isEqualTo(1);
        assertThat(audited(portal, "connection.erase", "stale")).isEqualTo(1);
        assertThat(audited(portal, "connection.erase", "erased")).isZero();

        clock.advance(Duration.ofSeconds(1));
        sign(uninstallBody(portal, EVENT_IDS.incrementAndGet(), clock.millis(), APP_ID)).send().then().statusCode(200)
                .body("uninstalls", equalTo(1));
        assertThat(connections(portal)).isZero();
    }

    @Test
    void eventsForAnotherHubSpotAppAreRefused() throws Exception {
        long portal = 13_104;
        install(portal);
        long now = clock.millis();
        sign(uninstallEvents(uninstallEvent(portal, EVENT_IDS.incrementAndGet(), now, 999),
                uninstallEvent(portal, EVENT_IDS.incrementAndGet(), now, null))).send().then().statusCode(200)
                .body("events", equalTo(2)).body("uninstalls", equalTo(0)).body("ignored", equalTo(2));
        assertThat(connections(portal)).isEqualTo(1);
        assertThat(audited(portal, "webhook.event", "ignored")).isEqualTo(2);

        // an app without a configured hubspot-app-id takes any appId
        String legacyUrl = FakeHubSpotResource.PUBLIC_BASE_URL + "/webhooks/legacy";
        sign("/webhooks/legacy", legacyUrl, uninstallBody(999_104, EVENT_IDS.incrementAndGet(), now, 999), now)
                .send().then().statusCode(200).body("uninstalls", equalTo(1));
    }

    @Test
    void idsThatAreNotCanonicalIntegersAreIgnored() throws Exception {
        long portal = 13_105;
        install(portal);
        long now = clock.millis();
        List<String> events = new ArrayList<>();
        for (String spelling : new String[] { portal + ".9", portal + ".0", "1.3105e4", "\"" + portal + "\"",
                "-" + portal, "9223372036854775808", "null" }) {
            events.add(uninstallEvent(spelling, EVENT_IDS.incrementAndGet(), now, APP_ID));
        }
        events.add(uninstallEvent(portal, "\"" + EVENT_IDS.incrementAndGet() + "\"", now, APP_ID));
        events.add(uninstallEvent(portal, EVENT_IDS.incrementAndGet(), now + ".5", APP_ID));
        events.add(uninstallEvent(portal, EVENT_IDS.incrementAndGet(), now, "\"" + APP_ID + "\""));
        events.add(uninstallEvent(portal, EVENT_IDS.incrementAndGet(), now, APP_ID + ".0"));
        events.add(uninstallEvent(portal, -1, now, APP_ID));
        sign(uninstallEvents(events.toArray(String[]::new))).send().then().statusCode(200)
                .body("uninstalls", equalTo(0)).body("ignored", equalTo(events.size()));
        assertThat(connections(portal)).as("never 'erase portal 13105'").isEqualTo(1);

        // duplicate keys are not one canonical body
        sign("[{\"eventId\":1,\"portalId\":1,\"portalId\":" + portal + ",\"occurredAt\":" + now
                + ",\"subscriptionType\":\"app.uninstall\"}]").send().then().statusCode(400);
        assertThat(connections(portal)).isEqualTo(1);
    }
}
