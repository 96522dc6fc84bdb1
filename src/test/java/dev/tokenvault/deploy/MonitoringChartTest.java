package dev.tokenvault.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.openshift.api.model.monitoring.v1.Endpoint;
import io.fabric8.openshift.api.model.monitoring.v1.PrometheusRule;
import io.fabric8.openshift.api.model.monitoring.v1.Rule;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;

/**
 * The chart's monitoring objects (values {@code metrics.*}): a ServiceMonitor, a PrometheusRule and a dashboard
 * ConfigMap for Grafana's sidecar, each parsed strictly into its model by {@link HelmChartTest#render}, and the copies
 * under {@code deploy/} (plain rules file, dashboard JSON) checked equal to what the chart ships.
 */
class MonitoringChartTest {

    static final ObjectMapper JSON = new ObjectMapper();

    static HelmChartTest.Rendered renderEnabled(Map<String, String> sets) {
        Map<String, String> all = new LinkedHashMap<>(Monitoring.ENABLED);
        all.putAll(sets);
        return HelmChartTest.render(all);
    }

    static Map<String, Rule> alerts(HelmChartTest.Rendered rendered) {
        PrometheusRule rule = rendered.one(PrometheusRule.class);
        assertThat(rule.getSpec().getGroups()).extracting(g -> g.getName()).containsExactly("tokenvault");
        return rule.getSpec().getGroups().get(0).getRules().stream()
                .collect(Collectors.toMap(Rule::getAlert, r -> r, (a, b) -> {
                    throw new AssertionError("alert defined twice: " + a.getAlert());
                }, LinkedHashMap::new));
    }

    static String expr(Rule rule) {
        return rule.getExpr().getStrVal();
    }

    @Test
    void monitoringIsOffByDefault() {
        HelmChartTest.Rendered rendered = HelmChartTest.render(Map.of());

        assertThat(rendered.kinds()).doesNotContain("ServiceMonitor", "PrometheusRule");
        assertThat(rendered.all(ConfigMap.class)).singleElement()
                .satisfies(cm -> assertThat(cm.getMetadata().getName()).isEqualTo("tokenvault"));
    }

    // ---- ServiceMonitor ------------------------------------------------------------------------------------

    @Test
    void theServiceMonitorScrapesQMetricsOnAPortOfTheService() {
        HelmChartTest.Rendered rendered = renderEnabled(Map.of("metrics.serviceMonitor.labels.release", "kube-prometheus"));
        ServiceMonitor monitor = rendered.one(ServiceMonitor.class);
        Service service = rendered.one(Service.class);

        assertThat(monitor.getMetadata().getLabels()).containsEntry("release", "kube-prometheus")
                .containsEntry("app.kubernetes.io/instance", "tokenvault");
        // it selects exactly this release's Service, in its namespace
        assertThat(service.getMetadata().getLabels().entrySet())
                .containsAll(monitor.getSpec().getSelector().getMatchLabels().entrySet());
        assertThat(monitor.getSpec().getSelector().getMatchLabels()).containsEntry("app.kubernetes.io/instance",
                "tokenvault");
        assertThat(monitor.getSpec().getNamespaceSelector().getMatchNames()).containsExactly("tokenvault");
        Endpoint endpoint = monitor.getSpec().getEndpoints().get(0);
        assertThat(monitor.getSpec().getEndpoints()).hasSize(1);
        Set<String> servicePorts = service.getSpec().getPorts().stream().map(ServicePort::getName)
                .collect(Collectors.toSet());
        assertThat(servicePorts).as("the ServiceMonitor's port must name a port of the Service")
                .contains(endpoint.getPort());
        assertThat(endpoint.getPort()).isEqualTo("management");
        assertThat(endpoint.getPath()).isEqualTo("/q/metrics");
        assertThat(endpoint.getInterval()).isEqualTo("30s");
        assertThat(endpoint.getScrapeTimeout()).isEqualTo("10s");
    }

    @Test
    void theScrapedPortIsOneValue() {
        // one value names the scraped port (a Service port; the Service has http and management)
        ServiceMonitor monitor = renderEnabled(Map.of("metrics.serviceMonitor.port", "management",
                "metrics.serviceMonitor.interval", "15s")).one(ServiceMonitor.class);

        assertThat(monitor.getSpec().getEndpoints()).singleElement().satisfies(endpoint -> {
            assertThat(endpoint.getPort()).isEqualTo("management");
            assertThat(endpoint.getInterval()).isEqualTo("15s");
        });
    }

    // ---- PrometheusRule -----------------------------------------------------------------------------------

    @Test
    void everyAlertHasASeverityAForASummaryADescriptionAndItsOwnRunbookSection() throws IOException {
        Map<String, Rule> alerts = alerts(renderEnabled(Map.of()));
        Map<String, String> headings = alertHeadings();

        assertThat(alerts.keySet()).containsExactlyElementsOf(Monitoring.ALERTS);
        for (Rule rule : alerts.values()) {
            String name = rule.getAlert();
            assertThat(rule.getRecord()).as(name).isNull();
            assertThat(rule.getFor()).as("for of %s", name).matches("[0-9]+[smh]");
            assertThat(rule.getLabels()).as(name).containsOnlyKeys("severity");
            assertThat(rule.getLabels().get("severity")).as(name).isIn("warning", "critical");
            assertThat(rule.getAnnotations()).as(name).containsOnlyKeys("summary", "description", "runbook_url");
            assertThat(rule.getAnnotations().get("summary")).as(name).isNotBlank();
            assertThat(rule.getAnnotations().get("description")).as(name).hasSizeGreaterThan(40);
            String runbook = rule.getAnnotations().get("runbook_url");
            assertThat(runbook).as(name).isEqualTo("docs/operations.md#" + Monitoring.anchor(name));
            assertThat(headings).as("a section '### %s' under '## Alerts' in docs/operations.md", name)
                    .containsEntry(Monitoring.anchor(name), name);
        }
    }

    /** The subsections of "## Alerts" in docs/operations.md, by anchor. */
    static Map<String, String> alertHeadings() throws IOException {
        Map<String, String> headings = new LinkedHashMap<>();
        boolean inAlerts = false;
        for (String line : Files.readAllLines(Monitoring.OPERATIONS)) {
            if (line.startsWith("## ")) {
                inAlerts = line.equals("## Alerts");
            } else if (inAlerts && line.startsWith("### ")) {
                String heading = line.substring(4).trim();
                headings.put(Monitoring.anchor(heading), heading);
            }
        }
        return headings;
    }

    @Test
    void theRunbooksLinksLeadToSectionsOfTheRunbook() throws IOException {
        String runbook = Files.readString(Monitoring.OPERATIONS);
        Set<String> anchors = runbook.lines().filter(l -> l.matches("#{1,6} .*"))
                .map(l -> Monitoring.anchor(l.replaceFirst("^#+ ", ""))).collect(Collectors.toSet());
        java.util.regex.Matcher link = java.util.regex.Pattern.compile("]\\(#([^)]+)\\)").matcher(runbook);
        List<String> links = new ArrayList<>();
        while (link.find()) {
            links.add(link.group(1));
        }

        assertThat(links).isNotEmpty().allSatisfy(anchor -> assertThat(anchors).as("link #" + anchor).contains(anchor));
    }

    @Test
    void thresholdsDurationsAndTheRunbookBaseComeFromValues() {
        Map<String, Rule> alerts = alerts(renderEnabled(Map.of(
                "metrics.prometheusRule.runbookBaseUrl", "https://git.example.com/tokenvault/docs/operations.md",
                "metrics.prometheusRule.alerts.refreshFailing.ratio", "0.25",
                "metrics.prometheusRule.alerts.refreshFailing.window", "30m",
                "metrics.prometheusRule.alerts.refreshFailing.for", "1h",
                "metrics.prometheusRule.alerts.refreshFailing.severity", "critical",
                "metrics.prometheusRule.alerts.accessTokensExpired.threshold", "5",
                "metrics.prometheusRule.alerts.rewrapFailed.enabled", "false")));

        Rule refresh = alerts.get("TokenvaultRefreshFailing");
        assertThat(expr(refresh)).contains("[30m]").endsWith("> 0.25").doesNotContain("10m");
        assertThat(refresh.getFor()).isEqualTo("1h");
        assertThat(refresh.getLabels()).containsEntry("severity", "critical");
        assertThat(refresh.getAnnotations().get("runbook_url"))
                .isEqualTo("https://git.example.com/tokenvault/docs/operations.md#tokenvaultrefreshfailing");
        assertThat(expr(alerts.get("TokenvaultAccessTokensExpired"))).endsWith("> 5");
        assertThat(alerts).doesNotContainKey("TokenvaultRewrapFailed").hasSize(Monitoring.ALERTS.size() - 1);
    }

    @Test
    void theProxyAndRefreshWriteAlertsTakeTheirValues() {
        Map<String, Rule> defaults = alerts(renderEnabled(Map.of()));
        assertThat(expr(defaults.get("TokenvaultRateBudgetPaused")))
                .isEqualTo("sum by (namespace, job) (increase(tokenvault_upstream_429_total[15m])) > 0");
        assertThat(expr(defaults.get("TokenvaultRateBudgetExhausted")))
                .isEqualTo("sum by (namespace, job) (rate(tokenvault_rate_budget_exhausted_total[10m])) > 0.1");
        assertThat(expr(defaults.get("TokenvaultRefreshTokensLost")))
                .isEqualTo("increase(tokenvault_refresh_tokens_lost_total[1h]) > 0");
        assertThat(defaults.get("TokenvaultRefreshTokensLost").getLabels()).containsEntry("severity", "critical");
        // per replica: the pod holding the tokens in memory is the one not to restart
        assertThat(expr(defaults.get("TokenvaultRefreshWritesPending"))).isEqualTo("tokenvault_refresh_pending_writes > 0");
        assertThat(defaults.get("TokenvaultRefreshWritesPending").getFor()).isEqualTo("10m");

        Map<String, Rule> alerts = alerts(renderEnabled(Map.of(
                "metrics.prometheusRule.alerts.rateBudgetPaused.window", "1h",
                "metrics.prometheusRule.alerts.rateBudgetPaused.threshold", "3",
                "metrics.prometheusRule.alerts.rateBudgetExhausted.threshold", "0.5",
                "metrics.prometheusRule.alerts.rateBudgetExhausted.severity", "info",
                "metrics.prometheusRule.alerts.refreshTokensLost.window", "6h",
                "metrics.prometheusRule.alerts.refreshWritesPending.for", "20m",
                "metrics.prometheusRule.alerts.refreshWritesPending.threshold", "10")));
        assertThat(expr(alerts.get("TokenvaultRateBudgetPaused"))).contains("[1h]").endsWith("> 3");
        assertThat(alerts.get("TokenvaultRateBudgetPaused").getAnnotations().get("description"))
                .contains("in the last 1h (threshold 3)");
        assertThat(expr(alerts.get("TokenvaultRateBudgetExhausted"))).endsWith("> 0.5");
        assertThat(alerts.get("TokenvaultRateBudgetExhausted").getLabels()).containsEntry("severity", "info");
        assertThat(expr(alerts.get("TokenvaultRefreshTokensLost"))).contains("[6h]");
        assertThat(expr(alerts.get("TokenvaultRefreshWritesPending"))).endsWith("> 10");
        assertThat(alerts.get("TokenvaultRefreshWritesPending").getFor()).isEqualTo("20m");
    }

    @Test
    void theAuditBacklogThresholdFollowsTheConfiguredMaxBacklog() {
        assertThat(expr(alerts(renderEnabled(Map.of())).get("TokenvaultAuditBacklogNearLimit")))
                .isEqualTo("tokenvault_audit_pending > 50000");
        // the limit the pods really run with, when set through extraConfig
        assertThat(expr(alerts(renderEnabled(Map.of("extraConfig.TOKENVAULT_AUDIT_MAX_BACKLOG", "300000")))
                .get("TokenvaultAuditBacklogNearLimit"))).isEqualTo("tokenvault_audit_pending > 150000");
        assertThat(expr(alerts(renderEnabled(Map.of(
                "metrics.prometheusRule.alerts.auditBacklogNearLimit.maxBacklog", "1000",
                "metrics.prometheusRule.alerts.auditBacklogNearLimit.ratio", "0.8")))
                .get("TokenvaultAuditBacklogNearLimit"))).isEqualTo("tokenvault_audit_pending > 800");
    }

    @Test
    void notReadyWatchesThisReleasesPodsOnly() {
        String expr = expr(alerts(renderEnabled(Map.of("fullnameOverride", "vault-eu")))
                .get("TokenvaultNotReady"));

        assertThat(expr).isEqualTo("kube_pod_status_ready{condition=\"true\", namespace=\"tokenvault\", "
                + "pod=~\"vault-eu-[a-z0-9]+-[a-z0-9]+\"} == 0");
    }

    @Test
    void theRulesReadOnlyMetricsWeKnow() {
        // tokenvault_* names are checked against a real scrape in MonitoringScrapeTest; here: nothing else sneaks in
        Set<String> names = new TreeSet<>();
        alerts(renderEnabled(Map.of())).values().forEach(r -> names.addAll(Monitoring.metricNames(expr(r))));

        assertThat(names).allSatisfy(name -> assertThat(name.startsWith("tokenvault_")
                || Monitoring.EXTERNAL_METRICS.contains(name)).as(name).isTrue());
        assertThat(names).containsAll(Monitoring.EXTERNAL_METRICS).containsAll(Monitoring.PROPOSED_METRICS);
    }

    // ---- one source for both: the plain rules file ---------------------------------------------------------

    @Test
    void thePlainRulesFileIsTheChartsRuleGroupsWithDefaultValues() throws IOException {
        String rendered = Monitoring.ruleFile(Map.of());
        if (Monitoring.REGENERATE) {
            Files.writeString(Monitoring.RULES_FILE, Monitoring.RULES_FILE_HEADER + rendered);
        }
        String committed = Files.readString(Monitoring.RULES_FILE);

        assertThat(committed).as("header of " + Monitoring.RULES_FILE).startsWith(Monitoring.RULES_FILE_HEADER);
        assertThat(HelmChartTest.YAML.readTree(committed))
                .as("%s differs from the chart's rule groups: regenerate it (see its header)", Monitoring.RULES_FILE)
                .isEqualTo(HelmChartTest.YAML.readTree(rendered));
        // and it is the PrometheusRule's spec, not some other rendering
        JsonNode spec = Monitoring.documents(Monitoring.render(Map.of()), "PrometheusRule").get(0).path("spec");
        assertThat(HelmChartTest.YAML.readTree(committed)).isEqualTo(spec);
    }

    // ---- dashboard -----------------------------------------------------------------------------------------

    @Test
    void theDashboardShipsInAConfigMapForGrafanasSidecar() throws IOException {
        HelmChartTest.Rendered rendered = renderEnabled(Map.of("metrics.dashboard.annotations.grafana_folder", "Ops"));
        List<ConfigMap> dashboards = rendered.all(ConfigMap.class).stream()
                .filter(cm -> cm.getMetadata().getName().equals("tokenvault-dashboard")).toList();

        assertThat(dashboards).singleElement().satisfies(cm -> {
            assertThat(cm.getMetadata().getLabels()).containsEntry("grafana_dashboard", "1");
            assertThat(cm.getMetadata().getAnnotations()).containsEntry("grafana_folder", "Ops");
            assertThat(cm.getData()).containsOnlyKeys("tokenvault-dashboard.json");
            assertThat(cm.getData().get("tokenvault-dashboard.json"))
                    .isEqualTo(Files.readString(Monitoring.DASHBOARD).stripTrailing());
        });
        // the application's ConfigMap is still the other one
        assertThat(rendered.all(ConfigMap.class)).hasSize(2);
    }

    @Test
    void theDashboardCopyUnderDeployIsTheChartsFile() throws IOException {
        if (Monitoring.REGENERATE) {
            Files.copy(Monitoring.DASHBOARD, Monitoring.DASHBOARD_COPY, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        assertThat(Files.readString(Monitoring.DASHBOARD_COPY))
                .as("%s must equal %s (copy it)", Monitoring.DASHBOARD_COPY, Monitoring.DASHBOARD)
                .isEqualTo(Files.readString(Monitoring.DASHBOARD));
    }

    @Test
    void theDashboardHasThePanelsOperatorsNeed() throws IOException {
        JsonNode dashboard = JSON.readTree(Files.readString(Monitoring.DASHBOARD));

        assertThat(dashboard.path("uid").asText()).isEqualTo("tokenvault");
        assertThat(dashboard.path("templating").path("list")).extracting(v -> v.path("name").asText())
                .containsExactly("datasource", "namespace", "job");
        List<String> titles = new ArrayList<>();
        Set<Integer> ids = new TreeSet<>();
        for (JsonNode panel : dashboard.path("panels")) {
            assertThat(ids.add(panel.path("id").asInt())).as("panel ids are unique").isTrue();
            titles.add(panel.path("title").asText());
            if (panel.path("type").asText().equals("row")) {
                continue;
            }
            assertThat(panel.path("datasource").path("uid").asText()).as(panel.path("title").asText())
                    .isEqualTo("${datasource}");
            assertThat(panel.path("targets")).as(panel.path("title").asText()).isNotEmpty()
                    .allSatisfy(t -> assertThat(t.path("expr").asText()).contains("job=~\"$job\""));
        }
        assertThat(titles).contains("Hand-outs by outcome", "Refresh attempts by outcome", "Refresh latency",
                "Connections by status", "Due and expired connections", "Audit backlog", "Data keys by key version",
                "HTTP server errors", "Pending refresh writes", "Proxy calls by outcome",
                "HubSpot latency of proxied calls", "Rate-budget waits", "Rate budget exhausted and paused, HubSpot 429s");
        Set<String> metrics = new TreeSet<>();
        Monitoring.dashboardQueries(dashboard).forEach(q -> metrics.addAll(Monitoring.metricNames(q)));
        assertThat(metrics).contains("tokenvault_handouts_total", "tokenvault_refresh_total",
                "tokenvault_refresh_seconds_sum", "tokenvault_refresh_seconds_count", "tokenvault_connections",
                "tokenvault_connections_due", "tokenvault_connections_expired", "tokenvault_audit_pending",
                "tokenvault_data_keys", "http_server_requests_seconds_count", "tokenvault_refresh_pending_writes",
                "tokenvault_refresh_tokens_lost_total", "tokenvault_proxy_requests_total",
                "tokenvault_proxy_upstream_seconds_sum", "tokenvault_proxy_upstream_seconds_count",
                "tokenvault_rate_budget_wait_seconds_sum", "tokenvault_rate_budget_exhausted_total",
                "tokenvault_rate_budget_pauses_total", "tokenvault_upstream_429_total");
    }

    // ---- the PromQL reader the scrape test relies on -------------------------------------------------------

    @Test
    void metricNamesAreReadFromPromql() {
        assertThat(Monitoring.metricNames("sum by (namespace, job, outcome) (rate(tokenvault_refresh_total"
                + "{outcome=~\"transient|rejected\"}[10m])) / ignoring (outcome) group_left sum by (namespace, job) "
                + "(rate(tokenvault_refresh_total[$__rate_interval])) > 0.1")).containsExactly("tokenvault_refresh_total");
        assertThat(Monitoring.metricNames("max(a_gauge offset 1h) - on (job) b:recorded unless c_total > bool 1e3"))
                .containsExactly("a_gauge", "b:recorded", "c_total");
        assertThat(Monitoring.metricNames("label_values(tokenvault_connections{namespace=~\"$namespace\"}, job)"))
                .containsExactly("tokenvault_connections");
        assertThat(Monitoring.equalities("x{uri=\"/v1/{app}\", job=~\"$job\", status!=\"500\", a=\"$b\"} + y{c=\"d\"}"))
                .containsExactly(new Monitoring.Equality("x", "uri", "/v1/{app}"), new Monitoring.Equality("y", "c", "d"));
    }
}
