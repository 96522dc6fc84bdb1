package dev.tokenvault.deploy;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.InstallFlow;
import dev.tokenvault.testing.Jwts;
import io.quarkus.test.junit.QuarkusTest;

/**
 * A real Prometheus (the binary of Debian's {@code prometheus} package) scrapes this test application every second and
 * evaluates the chart's rules, rendered with a short window and {@code for}. While refreshes succeed,
 * TokenvaultRefreshFailing stays quiet; then the HubSpot simulator answers every refresh with 503, and the alert goes
 * pending, then firing, as Prometheus' HTTP API reports it. Bounded: at most about 60 s; the process is killed at the
 * end. Skipped only where the binary is not installed.
 */
@QuarkusTest
class MonitoringPrometheusAlertTest {

    static final long PORTAL = 918_273_645L;
    static final String ALERT = "TokenvaultRefreshFailing";
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    String prometheus;

    @Test
    void aRealPrometheusFiresTheAlertWhenHubSpotFailsRefreshes() throws Exception {
        Path binary = Monitoring.binary("prometheus").orElse(null);
        assumeTrue(binary != null, "prometheus is not installed (Debian package prometheus; .ci/run installs it)");

        Files.writeString(dir.resolve("rules.yaml"), Monitoring.ruleFile(Map.of(
                "metrics.prometheusRule.alerts.refreshFailing.window", "20s",
                "metrics.prometheusRule.alerts.refreshFailing.for", "3s")));
        int port = freeLoopbackPort();
        Files.writeString(dir.resolve("prometheus.yml"), """
                global:
                  scrape_interval: 1s
                  scrape_timeout: 900ms
                  evaluation_interval: 1s
                rule_files: [rules.yaml]
                scrape_configs:
                  - job_name: tokenvault
                    metrics_path: %s
                    static_configs:
                      - targets: ['%s:%d']
                        labels: {namespace: test}
                """.formatted("/q/metrics", "127.0.0.1", dev.tokenvault.testing.Management.port()));
        prometheus = "http://127.0.0.1:" + port;
        Path log = dir.resolve("prometheus.log");
        Process process = new ProcessBuilder(binary.toString(), "--config.file=prometheus.yml",
                "--storage.tsdb.path=data", "--web.listen-address=127.0.0.1:" + port, "--log.level=warn")
                .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            assertThat(InstallFlow.install("default", PORTAL).statusCode()).isEqualTo(200);
            await("Prometheus ready", Duration.ofSeconds(20), process, log, () -> get("/-/ready") == 200);
            await("tokenvault scraped", Duration.ofSeconds(20), process, log,
                    () -> query("up{job=\"tokenvault\"}").equals(List.of("1")));

            // quiet while refreshes succeed: Prometheus sees refresh activity, and no alert comes
            forceRefresh(200);
            await("a refresh seen by Prometheus", Duration.ofSeconds(15), process, log,
                    () -> !query("sum(rate(tokenvault_refresh_total[20s])) > 0").isEmpty());
            Instant quietUntil = Instant.now().plusSeconds(5); // longer than `for` plus an evaluation
            while (Instant.now().isBefore(quietUntil)) {
                assertThat(alertStates()).as("%s while refreshes succeed", ALERT).isEmpty();
                Thread.sleep(500);
            }

            // HubSpot answers every refresh with 503: outcome transient
            FakeHubSpotResource.sim().failNext(1000, "refresh", 503, null, null);
            Set<String> seen = new LinkedHashSet<>();
            Instant deadline = Instant.now().plusSeconds(40);
            while (!seen.contains("firing") && Instant.now().isBefore(deadline)) {
                assertThat(process.isAlive()).as("prometheus is running: %s", readLog(log)).isTrue();
                forceRefresh(503);
                seen.addAll(alertStates());
                Thread.sleep(500);
            }

            assertThat(seen).as("states of %s seen through /api/v1/alerts", ALERT).containsExactly("pending", "firing");
            JsonNode alert = alerts().get(0);
            assertThat(alert.path("labels").path("outcome").asText()).isEqualTo("transient");
            assertThat(alert.path("labels").path("namespace").asText()).isEqualTo("test");
            assertThat(alert.path("labels").path("severity").asText()).isEqualTo("warning");
            assertThat(alert.path("annotations").path("runbook_url").asText())
                    .isEqualTo("docs/operations.md#tokenvaultrefreshfailing");
        } finally {
            process.destroy();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
            FakeHubSpotResource.sim().clearFaults();
            Db.update("delete from connection where app = 'default' and portal_id = ?", PORTAL);
        }
    }

    void forceRefresh(int expectedStatus) {
        given().auth().oauth2(Jwts.admin()).post("/v1/apps/default/portals/" + PORTAL + "/token/refresh").then()
                .statusCode(expectedStatus);
    }

    static int freeLoopbackPort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    interface Condition {
        boolean holds() throws Exception;
    }

    static void await(String what, Duration timeout, Process process, Path log, Condition condition) throws Exception {
        Instant deadline = Instant.now().plus(timeout);
        while (true) {
            assertThat(process.isAlive()).as("prometheus is running: %s", readLog(log)).isTrue();
            try {
                if (condition.holds()) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            assertThat(Instant.now()).as("%s within %s; prometheus log: %s", what, timeout, readLog(log))
                    .isBefore(deadline);
            Thread.sleep(250);
        }
    }

    static String readLog(Path log) throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }

    int get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(prometheus + path)).timeout(Duration.ofSeconds(2)).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    JsonNode getJson(String path) throws IOException, InterruptedException {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(prometheus + path))
                .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as("GET %s: %s", path, response.body()).isEqualTo(200);
        return JSON.readTree(response.body());
    }

    /** The values of an instant query's result vector. */
    List<String> query(String promql) throws IOException, InterruptedException {
        JsonNode result = getJson("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8))
                .path("data").path("result");
        List<String> values = new ArrayList<>();
        result.forEach(r -> values.add(r.path("value").path(1).asText()));
        return values;
    }

    /** The active (pending or firing) instances of {@link #ALERT}. */
    List<JsonNode> alerts() throws IOException, InterruptedException {
        List<JsonNode> found = new ArrayList<>();
        for (JsonNode alert : getJson("/api/v1/alerts").path("data").path("alerts")) {
            if (ALERT.equals(alert.path("labels").path("alertname").asText())) {
                found.add(alert);
            }
        }
        return found;
    }

    Set<String> alertStates() throws IOException, InterruptedException {
        Set<String> states = new LinkedHashSet<>();
        alerts().forEach(a -> states.add(a.path("state").asText()));
        return states;
    }
}
