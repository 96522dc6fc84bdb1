package dev.tokenvault.oauth;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.InstallFlow;
import dev.tokenvault.testing.InstallFlow.Started;
import dev.tokenvault.testing.Jwts;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;

/**
 * Issue #19, "Anonymous requests write to the database without limit": floods of unsigned webhooks, install starts and
 * failed callbacks against the real PostgreSQL grow no table beyond a few rows, and the real thing still works after.
 */
@QuarkusTest
class AnonymousWritesTest {

    @TestHTTPResource("/")
    URI base;

    @Inject
    AuditLog audit;

    @Inject
    MeterRegistry registry;

    /** Sends {@code n} requests, {@code parallel} at a time; returns how many got each status. */
    Map<Integer, Integer> flood(int n, int parallel, java.util.function.Supplier<HttpRequest> request)
            throws Exception {
        HttpClient client = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();
        Semaphore room = new Semaphore(parallel);
        Map<Integer, Integer> statuses = new java.util.concurrent.ConcurrentHashMap<>();
        List<CompletableFuture<?>> all = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            room.acquire();
            all.add(client.sendAsync(request.get(), HttpResponse.BodyHandlers.discarding())
                    .whenComplete((r, e) -> {
                        room.release();
                        statuses.merge(e == null ? r.statusCode() : -1, 1, Integer::sum);
                    }));
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get();
        return statuses;
    }

    long auditRows(String action, String outcome, Instant since) throws Exception {
        return Db.count("select count(*) from audit_log where app = 'default' and action = ? and outcome = ? "
                + "and at >= ?::timestamptz", action, outcome, since.toString());
    }

    long auditEvents(String action, String outcome, Instant since) throws Exception {
        return Db.count("select coalesce(sum(count), 0) from audit_log where app = 'default' and action = ? "
                + "and outcome = ? and at >= ?::timestamptz", action, outcome, since.toString());
    }

    long stateRows() throws Exception {
        return Db.count("select (select count(*) from oauth_state) + (select count(*) from oauth_state_used)");
    }

    @Test
    void floodsOfAnonymousRequestsWriteAHandfulOfRowsAndTheRealThingStillWorks() throws Exception {
        audit.flush().await().indefinitely();
        Instant start = Instant.now();
        long statesBefore = stateRows();
        double limitedBefore = registry.get("tokenvault_audit_anonymous_limited_total").counter().count();

        // 3 000 unsigned webhook POSTs
        long t0 = System.nanoTime();
        Map<Integer, Integer> webhooks = flood(3000, 16, () -> HttpRequest.newBuilder(base.resolve("/webhooks/default"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("[]")).build());
        long seconds = Duration.ofNanos(System.nanoTime() - t0).toSeconds() + 1;
        assertThat(webhooks).containsExactly(Map.entry(401, 3000));

        // 2 000 install starts
        Map<Integer, Integer> starts = flood(2000, 16,
                () -> HttpRequest.newBuilder(base.resolve("/oauth/default/install")).GET().build());
        assertThat(starts).containsExactly(Map.entry(302, 2000));
        assertThat(stateRows()).as("install starts write no state row").isEqualTo(statesBefore);

        // 500 callbacks with forged, damaged or foreign states write nothing either
        Started genuine = InstallFlow.start("default");
        String state = genuine.params().get("state");
        String[] bogus = { "forged-state-value", state.substring(0, state.length() - 1) + (state.endsWith("A") ? "B" : "A"),
                state.substring(1), "x".repeat(140) };
        AtomicInteger i = new AtomicInteger();
        Map<Integer, Integer> callbacks = flood(500, 16, () -> HttpRequest.newBuilder(base.resolve(
                "/oauth/default/callback?code=abc&state=" + bogus[i.getAndIncrement() % bogus.length])).GET().build());
        assertThat(callbacks).containsExactly(Map.entry(400, 500));
        assertThat(stateRows()).isEqualTo(statesBefore);

        // 30 failed installs (genuine states, codes HubSpot refuses), completed even when the callbacks come too fast
        int busy = 0;
        for (int n = 0; n < 30; n++) {
            Started s = InstallFlow.start("default");
            Response r;
            while ((r = given().redirects().follow(false).cookie(InstallFlow.COOKIE, s.cookie())
                    .get("/oauth/default/callback?code=not-a-code&state=" + s.params().get("state")))
                    .statusCode() == 503) {
                busy++; // this replica's callback bound: nothing used, reloading works
                Thread.sleep(200);
            }
            assertThat(r.statusCode()).as(r.asString()).isEqualTo(400);
            assertThat(r.asString()).contains("Authorization code not accepted");
        }
        assertThat(stateRows()).as("one row per used state").isEqualTo(statesBefore + 30);

        audit.flush().await().indefinitely();
        long webhookRows = auditRows("webhook.receive", "refused", start);
        assertThat(webhookRows).as("%d s of flood", seconds).isPositive().isLessThanOrEqualTo(seconds + 2);
        assertThat(auditEvents("webhook.receive", "refused", start)).as("every refusal is counted").isEqualTo(3000);
        long installRows = auditRows("oauth.install", "failed", start);
        assertThat(installRows).isPositive().isLessThan(30);
        assertThat(auditEvents("oauth.install", "failed", start)).isEqualTo(30);
        assertThat(registry.get("tokenvault_audit_anonymous_limited_total").counter().count())
                .isEqualTo(limitedBefore);

        // a real install still works, and a real refused webhook is in the audit trail with its count
        assertThat(InstallFlow.install("default", 5901).statusCode()).isEqualTo(200);
        assertThat(Db.count("select count(*) from connection where app = 'default' and portal_id = 5901"))
                .isEqualTo(1);
        Instant before = Instant.now();
        for (int n = 0; n < 3; n++) {
            given().contentType("application/json").header("X-HubSpot-Signature-v3", "bm90LWEtc2lnbmF0dXJl")
                    .header("X-HubSpot-Request-Timestamp", Long.toString(System.currentTimeMillis())).body("[]")
                    .post("/webhooks/default").then().statusCode(401);
        }
        audit.flush().await().indefinitely();
        assertThat(auditEvents("webhook.receive", "refused", before)).isEqualTo(3);
        List<Map<String, Object>> items = given().auth().oauth2(Jwts.admin())
                .get("/v1/admin/audit?since=" + before + "&limit=100").then().statusCode(200).extract().jsonPath()
                .getList("items.findAll { it.action == 'webhook.receive' && it.detail == 'INVALID' }");
        assertThat(items).isNotEmpty().allSatisfy(item -> assertThat(item).containsEntry("outcome", "refused")
                .containsEntry("app", "default"));
        assertThat(items.stream().mapToInt(item -> (Integer) item.get("count")).sum()).isEqualTo(3);
        Db.update("delete from connection where app = 'default' and portal_id = 5901");
    }

    @Test
    void atMostTheConfiguredRecordsPerAppAndSecondTheRestCounted() throws Exception {
        audit.flush().await().indefinitely();
        Instant start = Instant.now();
        double limitedBefore = registry.get("tokenvault_audit_anonymous_limited_total").counter().count();
        long t0 = System.nanoTime();
        for (int n = 0; n < 500; n++) { // 500 different reasons: nothing to coalesce
            audit.recordIfAccepting(null, "default", null, "oauth.install", "failed", "test-reason-" + n);
        }
        long seconds = Duration.ofNanos(System.nanoTime() - t0).toSeconds() + 1;
        audit.flush().await().indefinitely();
        long rows = auditRows("oauth.install", "failed", start);
        double limited = registry.get("tokenvault_audit_anonymous_limited_total").counter().count() - limitedBefore;
        assertThat(rows).isLessThanOrEqualTo(20 * (seconds + 1)); // tokenvault.audit.anonymous-records-per-second
        assertThat(auditEvents("oauth.install", "failed", start) + (long) limited).isEqualTo(500);
        // authenticated events stay one row each
        for (int n = 0; n < 5; n++) {
            audit.record("svc-anon", "default", 5902L, "connection.read", "ok", null);
        }
        audit.flush().await().indefinitely();
        assertThat(Db.count("select count(*) from audit_log where sub = 'svc-anon' and count = 1")).isEqualTo(5);
    }
}
