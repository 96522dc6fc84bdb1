package dev.tokenvault.proxy;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.InstallFlow;
import dev.tokenvault.testing.Jwts;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;

/**
 * HubSpot's official Node client ({@code @hubspot/api-client} 14.0.1, from npm: {@code src/test/node}) pointed at the
 * proxy as its base path, with the caller's JWT as its access token, runs a CRM round trip (create, get, update,
 * list with paging, batch read with a missing id, search, archive, a 404 after it, companies, and a wrong token)
 * against the HubSpot simulator behind the proxy, and sees HubSpot's own statuses and bodies. Skipped (not failed)
 * where Node.js or the installed client is absent; {@code .ci/run} installs it with {@code npm ci}.
 */
@QuarkusTest
class HubSpotNodeClientTest {

    static final Path SCRIPT = Path.of("src", "test", "node", "crm-roundtrip.mjs");
    static final Path CLIENT = Path.of("src", "test", "node", "node_modules", "@hubspot", "api-client");

    static boolean nodeAvailable() {
        try {
            Process p = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    @Test
    void theOfficialNodeClientRunsACrmRoundTripThroughTheProxy() throws Exception {
        Assumptions.assumeTrue(nodeAvailable(), "node is not installed");
        Assumptions.assumeTrue(Files.isDirectory(CLIENT), "run: npm ci --prefix src/test/node");
        long portal = 40_001;
        assertThat(InstallFlow.install("default", portal).statusCode()).isEqualTo(200);
        String jwt = Jwts.token("crm-sync", Set.of("hubspot.proxy"), List.of(Long.toString(portal)));
        int crmBefore = FakeHubSpotResource.sim().requests().size();

        ProcessBuilder pb = new ProcessBuilder("node", SCRIPT.toString()).redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.environment().put("HUBSPOT_BASE_PATH",
                "http://localhost:" + RestAssured.port + "/v1/apps/default/portals/" + portal + "/hubspot");
        pb.environment().put("HUBSPOT_ACCESS_TOKEN", jwt);
        pb.environment().put("HUBSPOT_TIMEOUT_MS", "60000");
        Process node = pb.start();
        String out = new String(node.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(node.waitFor(90, TimeUnit.SECONDS)).isTrue();

        JsonNode report = new ObjectMapper().readTree(out);
        assertThat(report.path("failures").toString()).as(out).isEqualTo("[]");
        assertThat(node.exitValue()).as(out).isZero();
        assertThat(report.path("allChecksPassed").asBoolean()).as(out).isTrue();
        Map<String, Integer> statuses = new java.util.LinkedHashMap<>();
        report.path("steps").forEach(s -> statuses.put(s.path("name").asText(), s.path("status").asInt()));
        assertThat(statuses).containsEntry("contacts.create", 201).containsEntry("contacts.batch.read", 207)
                .containsEntry("contacts.archive", 204).containsEntry("contacts.getById.afterArchive", 404)
                .containsEntry("auth.wrongToken", 401);
        // the calls reached HubSpot with the portal's token; the caller's JWT never did
        assertThat(FakeHubSpotResource.sim().requests().size()).isGreaterThan(crmBefore + 8);
        assertThat(FakeHubSpotResource.sim().requests().toString()).doesNotContain(jwt);
        assertThat(out).doesNotContain(jwt);
        // every call was audited for the caller: method, status and the first path segments, never the query
        dev.tokenvault.audit.AuditLog audit = io.quarkus.arc.Arc.container().instance(dev.tokenvault.audit.AuditLog.class)
                .get();
        audit.flush().await().atMost(java.time.Duration.ofSeconds(10));
        var records = given().auth().oauth2(Jwts.admin()).get("/v1/admin/audit?portalId=" + portal + "&sub=crm-sync")
                .then().statusCode(200).extract().jsonPath();
        assertThat(records.getList("items.action")).contains("hubspot.proxy");
        // at most four path segments: the object id (a fifth) is not in the record
        assertThat(records.getList("items.detail", String.class)).contains("POST /crm/v3/objects/contacts",
                "DELETE /crm/v3/objects/contacts", "POST /crm/v3/objects/companies")
                .noneMatch(d -> d.contains(report.path("steps").get(0).path("id").asText()) || d.contains("?"));
        assertThat(records.getList("items.outcome")).contains("201", "204", "207");
    }
}
