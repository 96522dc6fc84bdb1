package dev.tokenvault.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tokenvault.sandbox.HubSpotSimulator.SimRequest;
import dev.tokenvault.sandbox.HubSpotSimulator.SimResponse;

/** The simulator's static credentials: private-app tokens, service keys, and the private-app token-info endpoint. */
class HubSpotSimulatorStaticTokensTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String INFO = "/oauth/v2/private-apps/get/access-token-info";

    final HubSpotSimulator sim = new HubSpotSimulator(new HubSpotSimulator.ManualClock());

    SimResponse post(String path, String body) {
        return sim.handle(new SimRequest("POST", path, null, Map.of("Content-Type", List.of("application/json")),
                body.getBytes(StandardCharsets.UTF_8)));
    }

    SimResponse contacts(String bearer) {
        return sim.handle(new SimRequest("GET", "/crm/v3/objects/contacts", null,
                Map.of("Authorization", List.of("Bearer " + bearer)), null));
    }

    static JsonNode json(SimResponse r) throws Exception {
        return JSON.readTree(r.body());
    }

    @Test
    void tokenInfoTellsTheAccountAndScopesOfAPrivateAppToken() throws Exception {
        sim.registerPrivateAppToken(62515, "pat-na1-abc-0000000000000000", List.of("crm.objects.contacts.read"));
        SimResponse r = post(INFO, "{\"tokenKey\":\"pat-na1-abc-0000000000000000\"}");
        assertThat(r.status()).isEqualTo(200);
        JsonNode info = json(r);
        assertThat(info.get("hubId").asLong()).isEqualTo(62515);
        assertThat(info.get("scopes")).hasSize(1);
        assertThat(info.get("scopes").get(0).asText()).isEqualTo("crm.objects.contacts.read");
        assertThat(info.has("appId")).isTrue();
        assertThat(info.has("userId")).isTrue();
        assertThat(r.bodyText()).doesNotContain("pat-na1-abc");
        assertThat(sim.count(HubSpotSimulator.OP_TOKEN_INFO)).isEqualTo(1);
    }

    @Test
    void unknownTokensServiceKeysAndBadBodiesAreRefusedWithHubSpotsErrorBody() throws Exception {
        String key = sim.issueServiceKey(62515);
        for (String body : List.of("{\"tokenKey\":\"pat-na1-unknown\"}", "{\"tokenKey\":\"" + key + "\"}")) {
            SimResponse r = post(INFO, body);
            assertThat(r.status()).as(body).isEqualTo(401);
            JsonNode e = json(r);
            assertThat(e.get("status").asText()).isEqualTo("error");
            assertThat(e.get("category").asText()).isEqualTo("INVALID_AUTHENTICATION");
            assertThat(e.hasNonNull("correlationId")).isTrue();
            assertThat(e.hasNonNull("message")).isTrue();
        }
        for (String body : List.of("{}", "not json", "{\"tokenKey\":42}", "{\"tokenKey\":\"\"}")) {
            SimResponse r = post(INFO, body);
            assertThat(r.status()).as(body).isEqualTo(400);
            assertThat(json(r).get("category").asText()).isEqualTo("VALIDATION_ERROR");
        }
        assertThat(sim.handle(SimRequest.get(INFO)).status()).isEqualTo(405);
    }

    @Test
    void crmCallsAcceptBothKindsUntilTheyAreRevoked() {
        String pat = sim.issuePrivateAppToken(62515);
        String key = sim.issueServiceKey(62515);
        assertThat(pat).startsWith("pat-na1-");
        assertThat(contacts(pat).status()).isEqualTo(200);
        assertThat(contacts(key).status()).isEqualTo(200);
        assertThat(sim.revokeStaticToken(key)).isTrue();
        assertThat(contacts(key).status()).isEqualTo(401);
        assertThat(contacts(pat).status()).isEqualTo(200);
        assertThat(sim.revokeStaticToken(pat)).isTrue();
        assertThat(contacts(pat).status()).isEqualTo(401);
        assertThat(post(INFO, "{\"tokenKey\":\"" + pat + "\"}").status()).isEqualTo(401);
    }
}
