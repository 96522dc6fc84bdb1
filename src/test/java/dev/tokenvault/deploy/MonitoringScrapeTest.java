package dev.tokenvault.deploy;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tokenvault.testing.Jwts;
import dev.tokenvault.testing.Management;
import io.fabric8.openshift.api.model.monitoring.v1.Rule;
import io.quarkus.test.junit.QuarkusTest;

/**
 * The dashboard and the alert rules against a scrape of the running service: every metric a panel or a rule reads
 * exists in {@code /q/metrics}, and so does every label value they match exactly (a panel filtering on a
 * {@code uri} the service never reports would stay empty without anyone noticing).
 */
@QuarkusTest
class MonitoringScrapeTest {

    static final Pattern SERIES = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)})?\\s+\\S+.*$");
    static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:\\\\.|[^\"\\\\])*)\"");

    /** Label sets of the scraped series, by metric name (one scrape per test). */
    Map<String, List<Map<String, String>>> scrape;

    @BeforeEach
    void scrapeAfterRequests() {
        // http_server_requests_* appear only once a request was served: a 401, and a hand-out (404: no such portal)
        given().get("/v1/whoami").then().statusCode(401);
        given().auth().oauth2(Jwts.admin()).get("/v1/apps/default/portals/987654321/token").then().statusCode(404);
        scrape = parse(Management.given().get("/q/metrics").then().statusCode(200).extract().asString());
    }

    static Map<String, List<Map<String, String>>> parse(String exposition) {
        Map<String, List<Map<String, String>>> series = new HashMap<>();
        for (String line : exposition.split("\n")) {
            Matcher m = SERIES.matcher(line);
            if (line.startsWith("#") || !m.matches()) {
                continue;
            }
            Map<String, String> labels = new HashMap<>();
            if (m.group(3) != null) {
                Matcher label = LABEL.matcher(m.group(3));
                while (label.find()) {
                    labels.put(label.group(1), label.group(2).replace("\\\"", "\"").replace("\\\\", "\\"));
                }
            }
            series.computeIfAbsent(m.group(1), k -> new ArrayList<>()).add(labels);
        }
        return series;
    }

    static List<String> dashboardQueries() throws IOException {
        return Monitoring.dashboardQueries(new ObjectMapper().readTree(Files.readString(Monitoring.DASHBOARD)));
    }

    static List<String> ruleExpressions() {
        return MonitoringChartTest.alerts(MonitoringChartTest.renderEnabled(Map.of())).values().stream()
                .map(Rule::getExpr).map(e -> e.getStrVal()).toList();
    }

    void assertLabelValuesExist(List<String> expressions, Set<String> skipMetrics) {
        for (String expr : expressions) {
            for (Monitoring.Equality eq : Monitoring.equalities(expr)) {
                if (skipMetrics.contains(eq.metric())) {
                    continue;
                }
                assertThat(scrape.getOrDefault(eq.metric(), List.of()))
                        .as("a series %s{%s=\"%s\"} in the scrape (used by %s)", eq.metric(), eq.label(), eq.value(), expr)
                        .anySatisfy(labels -> assertThat(labels).containsEntry(eq.label(), eq.value()));
            }
        }
    }

    @Test
    void everyMetricOfTheDashboardIsExported() throws IOException {
        Set<String> used = new TreeSet<>();
        dashboardQueries().forEach(q -> used.addAll(Monitoring.metricNames(q)));

        assertThat(used).hasSizeGreaterThan(10);
        assertThat(scrape.keySet()).as("metrics scraped from /q/metrics").containsAll(used);
        assertLabelValuesExist(dashboardQueries(), Set.of());
    }

    @Test
    void everyMetricOfTheRulesIsExportedExceptTheKnownOnes() {
        Set<String> used = new TreeSet<>();
        ruleExpressions().forEach(e -> used.addAll(Monitoring.metricNames(e)));
        Set<String> ours = new TreeSet<>(used);
        ours.removeAll(Monitoring.EXTERNAL_METRICS);
        ours.removeAll(Monitoring.PROPOSED_METRICS);

        assertThat(ours).isNotEmpty();
        assertThat(scrape.keySet()).as("metrics scraped from /q/metrics").containsAll(ours);
        Set<String> skip = new TreeSet<>(Monitoring.EXTERNAL_METRICS);
        skip.addAll(Monitoring.PROPOSED_METRICS);
        assertLabelValuesExist(ruleExpressions(), skip);
    }
}
