package dev.tokenvault.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The chart's alert rules through Prometheus' own tool ({@code promtool} from Debian's {@code prometheus} package,
 * which .ci/run installs): {@code check rules} on the rendered rule group, and {@code test rules} with the unit tests
 * in deploy/prometheus/tokenvault-rules.test.yaml, which must cover every alert both firing and quiet. Skipped only
 * where promtool is not installed.
 */
class MonitoringRulesPromtoolTest {

    @TempDir
    Path dir;

    Path promtool;

    @BeforeEach
    void needsPromtool() {
        promtool = Monitoring.binary("promtool").orElse(null);
        assumeTrue(promtool != null, "promtool is not installed (Debian package prometheus; .ci/run installs it)");
    }

    Monitoring.Run promtool(String... args) throws IOException, InterruptedException {
        String[] command = new String[args.length + 1];
        command[0] = promtool.toString();
        System.arraycopy(args, 0, command, 1, args.length);
        return Monitoring.run(dir, 60, command);
    }

    Path write(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content);
    }

    @Test
    void theRenderedRuleGroupPassesPromtoolCheck() throws Exception {
        write("defaults.yaml", Monitoring.ruleFile(Map.of()));
        write("other.yaml", Monitoring.ruleFile(Map.of("fullnameOverride", "vault-eu",
                "metrics.prometheusRule.runbookBaseUrl", "https://git.example.com/ops.md",
                "extraConfig.TOKENVAULT_AUDIT_MAX_BACKLOG", "250000",
                "metrics.prometheusRule.alerts.refreshFailing.window", "30m",
                "metrics.prometheusRule.alerts.dataKeysOnOldKeyVersion.for", "13h")));

        for (String file : new String[] { "defaults.yaml", "other.yaml",
                Monitoring.RULES_FILE.toAbsolutePath().toString() }) {
            Monitoring.Run check = promtool("check", "rules", file);
            assertThat(check.exitCode()).as("promtool check rules %s: %s", file, check.output()).isZero();
            assertThat(check.output()).contains("SUCCESS: " + Monitoring.ALERTS.size() + " rules found");
        }
    }

    @Test
    void promtoolCheckCatchesABrokenRule() throws Exception {
        // proof that the check above can fail: a window Prometheus cannot parse
        write("broken.yaml", Monitoring.ruleFile(Map.of("metrics.prometheusRule.alerts.notifyFailing.window", "ten")));

        Monitoring.Run check = promtool("check", "rules", "broken.yaml");
        assertThat(check.exitCode()).as(check.output()).isNotZero();
        assertThat(check.output()).contains("TokenvaultNotifyFailing");
    }

    @Test
    void everyAlertFiresAndStaysQuietInTheUnitTests() throws Exception {
        write("tokenvault-rules.yaml", Monitoring.ruleFile(Map.of()));
        Files.copy(Monitoring.RULES_TESTS, dir.resolve("tokenvault-rules.test.yaml"));

        Monitoring.Run test = promtool("test", "rules", "tokenvault-rules.test.yaml");
        assertThat(test.exitCode()).as("promtool test rules: %s", test.output()).isZero();
        assertThat(test.output()).contains("SUCCESS");
    }

    @Test
    void theUnitTestsCoverEveryAlertBothWays() throws IOException {
        JsonNode tests = HelmChartTest.YAML.readTree(Files.readString(Monitoring.RULES_TESTS));
        Map<String, Set<String>> cases = new TreeMap<>();
        for (JsonNode test : tests.path("tests")) {
            for (JsonNode ruleTest : test.path("alert_rule_test")) {
                cases.computeIfAbsent(ruleTest.path("alertname").asText(), a -> new TreeSet<>())
                        .add(ruleTest.path("exp_alerts").isEmpty() ? "quiet" : "fires");
            }
        }

        assertThat(tests.path("rule_files")).extracting(JsonNode::asText).containsExactly("tokenvault-rules.yaml");
        assertThat(cases.keySet()).containsExactlyInAnyOrderElementsOf(Monitoring.ALERTS);
        cases.forEach((alert, kinds) -> assertThat(kinds).as(alert).containsExactly("fires", "quiet"));
    }

    @Test
    void theUnitTestsFailWhenTheRulesChange() throws Exception {
        // proof that the unit tests test something: higher thresholds and longer `for`s than the ones tested
        write("tokenvault-rules.yaml", Monitoring.ruleFile(Map.of(
                "metrics.prometheusRule.alerts.refreshFailing.ratio", "0.5",
                "metrics.prometheusRule.alerts.accessTokensExpired.for", "1h",
                "metrics.prometheusRule.alerts.rateBudgetPaused.threshold", "5",
                "metrics.prometheusRule.alerts.rateBudgetExhausted.threshold", "0.3",
                "metrics.prometheusRule.alerts.refreshWritesPending.for", "30m")));
        Files.copy(Monitoring.RULES_TESTS, dir.resolve("tokenvault-rules.test.yaml"));

        Monitoring.Run test = promtool("test", "rules", "tokenvault-rules.test.yaml");
        assertThat(test.exitCode()).as(test.output()).isNotZero();
        assertThat(test.output()).contains("TokenvaultRefreshFailing").contains("TokenvaultAccessTokensExpired")
                .contains("TokenvaultRateBudgetPaused").contains("TokenvaultRateBudgetExhausted")
                .contains("TokenvaultRefreshWritesPending");
    }
}
