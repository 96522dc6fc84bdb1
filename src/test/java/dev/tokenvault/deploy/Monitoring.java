package dev.tokenvault.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;

/**
 * What the monitoring tests share: the chart rendered with monitoring on, the rule groups and the dashboard it
 * ships (and their copies under {@code deploy/}), the Debian {@code prometheus} package's binaries, and a small
 * PromQL reader that names the metrics an expression uses.
 */
final class Monitoring {

    /** The plain rules file: the chart's rule groups rendered with the default values. */
    static final Path RULES_FILE = Path.of("deploy", "prometheus", "tokenvault-rules.yaml");
    /** promtool unit tests of every alert, next to the rules they test ({@code rule_files: [tokenvault-rules.yaml]}). */
    static final Path RULES_TESTS = Path.of("deploy", "prometheus", "tokenvault-rules.test.yaml");
    /** The dashboard's one source, inside the chart (ConfigMap through .Files.Get). */
    static final Path DASHBOARD = HelmChartTest.CHART.resolve("files").resolve("tokenvault-dashboard.json");
    /** Its copy for Grafanas without the sidecar. */
    static final Path DASHBOARD_COPY = Path.of("deploy", "grafana", "tokenvault-dashboard.json");
    static final Path OPERATIONS = Path.of("docs", "operations.md");

    /** Every monitoring object on, everything else at its default. */
    static final Map<String, String> ENABLED = Map.of(
            "metrics.serviceMonitor.enabled", "true",
            "metrics.prometheusRule.enabled", "true",
            "metrics.dashboard.enabled", "true");

    /** The alerts the chart must define, each with a runbook section of the same name in docs/operations.md. */
    static final List<String> ALERTS = List.of("TokenvaultRefreshFailing", "TokenvaultNeedsReauthRising",
            "TokenvaultAccessTokensExpired", "TokenvaultAuditBacklogNearLimit", "TokenvaultAuditWriteFailing",
            "TokenvaultNotReady", "TokenvaultNotifyFailing", "TokenvaultRewrapFailed",
            "TokenvaultDataKeysOnOldKeyVersion", "TokenvaultRateBudgetPaused", "TokenvaultRateBudgetExhausted",
            "TokenvaultRefreshTokensLost", "TokenvaultRefreshWritesPending",
            "TokenvaultStaticTokensRotationDue");

    /** Metrics the rules read that tokenvault does not export by design: kube-state-metrics' pod readiness. */
    static final Set<String> EXTERNAL_METRICS = Set.of("kube_pod_status_ready");
    /**
     * Metrics the rules may read before tokenvault exports them (proposed gauges of a change in progress; none now):
     * the scrape test skips them, and values.yaml and docs/operations.md must say that their alerts cannot fire.
     */
    static final Set<String> PROPOSED_METRICS = Set.of();

    /** {@code -Ddev.tokenvault.regenerate=true}: the file-equality tests rewrite the copies instead of failing. */
    static final boolean REGENERATE = Boolean.getBoolean("dev.tokenvault.regenerate");

    private Monitoring() {
    }

    // ---- the chart's rule groups ------------------------------------------------------------------------------

    /** Renders the chart with monitoring on plus {@code sets}, strictly validated, and returns the raw YAML. */
    static String render(Map<String, String> sets) {
        Map<String, String> all = new HashMap<>(ENABLED);
        all.putAll(sets);
        return HelmChartTest.render(all).yaml();
    }

    /** The rendered documents of one kind, as trees. */
    static List<JsonNode> documents(String yaml, String kind) {
        List<JsonNode> found = new ArrayList<>();
        try (MappingIterator<JsonNode> docs = HelmChartTest.YAML.readerFor(JsonNode.class).readValues(yaml)) {
            while (docs.hasNext()) {
                JsonNode doc = docs.next();
                if (doc != null && kind.equals(doc.path("kind").asText())) {
                    found.add(doc);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return found;
    }

    /**
     * The body of the PrometheusRule's {@code spec} exactly as Helm printed it (comments included), which is a
     * Prometheus rules file: {@code groups: ...}.
     */
    static String ruleFileText(String yaml) {
        for (String document : yaml.split("(?m)^---\\s*$")) {
            if (!document.contains("\nkind: PrometheusRule\n")) {
                continue;
            }
            int spec = document.indexOf("\nspec:\n");
            StringBuilder body = new StringBuilder();
            for (String line : document.substring(spec + "\nspec:\n".length()).split("\n", -1)) {
                if (!line.isEmpty() && !line.startsWith("  ")) {
                    break; // the next top-level key (there is none today)
                }
                body.append(line.isEmpty() ? "" : line.substring(2)).append('\n');
            }
            return body.toString().stripTrailing() + "\n";
        }
        throw new AssertionError("no PrometheusRule rendered");
    }

    /** The rules file for {@code sets}: what {@link #RULES_FILE} holds for the default values. */
    static String ruleFile(Map<String, String> sets) {
        return ruleFileText(render(sets));
    }

    static final String RULES_FILE_HEADER = """
            # tokenvault alert rules for Prometheus without the Prometheus Operator (rule_files: [tokenvault-rules.yaml]).
            # GENERATED, do not edit: this is the Helm chart's rule groups (deploy/helm/tokenvault/templates/_rules.tpl)
            # rendered with the chart's default values (release and namespace "tokenvault"; TokenvaultNotReady
            # selects pods of that namespace and Deployment). MonitoringChartTest fails when it differs from a fresh
            # rendering; to regenerate after changing the template:
            #   ./mvnw -B test -Dtest=MonitoringChartTest -Ddev.tokenvault.regenerate=true
            # Unit tests of every alert: tokenvault-rules.test.yaml (promtool test rules tokenvault-rules.test.yaml).
            """;

    // ---- promtool and prometheus (Debian package "prometheus") ----------------------------------------------

    static Optional<Path> binary(String name) {
        return Stream.concat(Stream.of(System.getenv().getOrDefault("PATH", "").split(":")), Stream.of("/usr/bin"))
                .filter(dir -> !dir.isEmpty()).map(dir -> Path.of(dir, name))
                .filter(Files::isExecutable).findFirst();
    }

    /** The result of one bounded run of a binary. */
    record Run(int exitCode, String output) {
    }

    /** Runs a command (stdout and stderr together) in {@code dir}, killing it after {@code timeoutSeconds}. */
    static Run run(Path dir, long timeoutSeconds, String... command) throws IOException, InterruptedException {
        Path log = Files.createTempFile(dir, "run", ".log");
        Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        try {
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                throw new AssertionError(String.join(" ", command) + " did not finish in " + timeoutSeconds + " s");
            }
            return new Run(process.exitValue(), Files.readString(log));
        } finally {
            process.destroyForcibly();
        }
    }

    // ---- PromQL ------------------------------------------------------------------------------------------------

    private static final Pattern STRING = Pattern.compile("\"(?:\\\\.|[^\"\\\\])*\"|'(?:\\\\.|[^'\\\\])*'");
    private static final Pattern MATCHERS = Pattern.compile("\\{[^}]*}");
    private static final Pattern RANGE = Pattern.compile("\\[[^]]*]");
    private static final Pattern LABEL_LIST = Pattern
            .compile("\\b(?:by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)");
    private static final Pattern VARIABLE = Pattern.compile("\\$\\{?\\w+}?");
    private static final Pattern IDENTIFIER = Pattern.compile("(?<![\\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\\s*\\()?");
    private static final Pattern LABEL_VALUES = Pattern.compile("^\\s*label_values\\(\\s*([a-zA-Z_:][a-zA-Z0-9_:]*)");
    private static final Set<String> KEYWORDS = Set.of("and", "or", "unless", "bool", "offset", "by", "without", "on",
            "ignoring", "group_left", "group_right", "inf", "nan", "Inf", "NaN", "atan2");

    /**
     * The metric names a PromQL expression (or a Grafana {@code label_values(metric, label)} query) reads: what is left
     * once strings, label matchers, ranges, label lists and Grafana variables are taken out, minus function names (an
     * identifier followed by "(") and keywords.
     */
    static Set<String> metricNames(String expr) {
        Set<String> names = new LinkedHashSet<>();
        Matcher labelValues = LABEL_VALUES.matcher(expr);
        if (labelValues.find()) {
            names.add(labelValues.group(1));
            return names;
        }
        String s = VARIABLE.matcher(expr).replaceAll(" ");
        s = STRING.matcher(s).replaceAll(" ");
        s = MATCHERS.matcher(s).replaceAll(" ");
        s = RANGE.matcher(s).replaceAll(" ");
        s = LABEL_LIST.matcher(s).replaceAll(" ");
        Matcher m = IDENTIFIER.matcher(s);
        while (m.find()) {
            if (m.group(2) == null && !KEYWORDS.contains(m.group(1))) {
                names.add(m.group(1));
            }
        }
        return names;
    }

    private static final Pattern SELECTOR_START = Pattern.compile("(?<![\\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*\\{");
    private static final Pattern MATCHER = Pattern
            .compile("([a-zA-Z_][a-zA-Z0-9_]*)\\s*(=~|!=|!~|=)\\s*\"((?:\\\\.|[^\"\\\\])*)\"");

    /** One {@code metric{label="value"}} equality matcher without a variable, as written in an expression. */
    record Equality(String metric, String label, String value) {
    }

    /** The equality matchers ({@code =}, not {@code =~} or {@code !=}) of an expression that hold no variable. */
    static List<Equality> equalities(String expr) {
        List<Equality> found = new ArrayList<>();
        Matcher selector = SELECTOR_START.matcher(expr);
        int from = 0;
        while (selector.find(from)) {
            // the matchers end at the first "}" outside a quoted value (values may hold braces: uri="/v1/{app}")
            int end = selector.end();
            boolean quoted = false;
            for (; end < expr.length() && (quoted || expr.charAt(end) != '}'); end++) {
                char c = expr.charAt(end);
                if (c == '\\' && quoted) {
                    end++;
                } else if (c == '"') {
                    quoted = !quoted;
                }
            }
            Matcher matcher = MATCHER.matcher(expr.substring(selector.end(), end));
            while (matcher.find()) {
                if (matcher.group(2).equals("=") && !matcher.group(3).contains("$")) {
                    found.add(new Equality(selector.group(1), matcher.group(1), matcher.group(3)));
                }
            }
            from = end;
        }
        return found;
    }

    /** Every PromQL expression of the dashboard: panel targets and the templating queries. */
    static List<String> dashboardQueries(JsonNode dashboard) {
        List<String> queries = new ArrayList<>();
        for (JsonNode panel : dashboard.path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                queries.add(target.path("expr").asText());
            }
        }
        for (JsonNode variable : dashboard.path("templating").path("list")) {
            if ("query".equals(variable.path("type").asText())) {
                JsonNode query = variable.path("query");
                queries.add(query.isTextual() ? query.asText() : query.path("query").asText());
            }
        }
        return queries;
    }

    // ---- docs ------------------------------------------------------------------------------------------------

    /** GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to dashes. */
    static String anchor(String heading) {
        return heading.trim().toLowerCase(Locale.ROOT).replaceAll("[^\\p{L}\\p{N} _-]", "").replace(' ', '-');
    }
}
