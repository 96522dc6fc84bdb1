package dev.tokenvault.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tokenvault.sandbox.HubSpotSimulator.ManualClock;
import dev.tokenvault.sandbox.HubSpotSimulator.RecordedRequest;
import dev.tokenvault.sandbox.HubSpotSimulator.SimRequest;
import dev.tokenvault.sandbox.HubSpotSimulator.SimResponse;
import dev.tokenvault.testing.FakeHubSpot;

/** The simulator's CRM objects API: endpoints, paging, search, auth, errors, rate limits and recording. */
class HubSpotSimulatorCrmTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String CLIENT_ID = "crm-client";
    static final long APP_ID = 777;
    static final long PORTAL = 62515;
    static final long OTHER_PORTAL = 99;

    ManualClock clock;
    HubSpotSimulator sim;
    String token;

    @BeforeEach
    void start() {
        clock = new ManualClock(Instant.parse("2026-03-01T10:00:00Z"));
        sim = new HubSpotSimulator(clock).registerApp(CLIENT_ID, "secret", APP_ID, "https://vault.example.com/");
        token = sim.install(CLIENT_ID, PORTAL, List.of("crm.objects.contacts.read")).accessToken();
    }

    SimResponse call(String method, String path, String bearer, String body) {
        Map<String, List<String>> h = new LinkedHashMap<>();
        if (bearer != null) {
            h.put("Authorization", List.of("Bearer " + bearer));
        }
        if (body != null) {
            h.put("Content-Type", List.of("application/json"));
        }
        return sim.handle(new SimRequest(method, path, null, h,
                body == null ? null : body.getBytes(StandardCharsets.UTF_8)));
    }

    SimResponse call(String method, String path, String body) {
        return call(method, path, token, body);
    }

    static JsonNode json(SimResponse r) throws Exception {
        return JSON.readTree(r.body());
    }

    String createContact(String email, String first) throws Exception {
        SimResponse r = call("POST", "/crm/v3/objects/contacts",
                "{\"properties\":{\"email\":\"" + email + "\",\"firstname\":\"" + first + "\"}}");
        assertThat(r.status()).isEqualTo(201);
        return json(r).get("id").asText();
    }

    @Test
    void createGetUpdateArchiveLookLikeHubSpot() throws Exception {
        SimResponse created = call("POST", "/crm/v3/objects/contacts",
                "{\"properties\":{\"email\":\"ada@example.com\",\"firstname\":\"Ada\"}}");
        assertThat(created.status()).isEqualTo(201);
        JsonNode c = json(created);
        String id = c.get("id").asText();
        assertThat(c.get("id").isTextual()).isTrue();
        assertThat(c.get("archived").asBoolean()).isFalse();
        assertThat(c.get("createdAt").asText()).isEqualTo("2026-03-01T10:00:00.000Z");
        assertThat(c.get("updatedAt").asText()).isEqualTo("2026-03-01T10:00:00.000Z");
        assertThat(c.get("properties").get("hs_object_id").asText()).isEqualTo(id);
        assertThat(c.get("properties").get("createdate").asText()).isEqualTo("2026-03-01T10:00:00.000Z");
        assertThat(c.get("properties").has("lastmodifieddate")).isTrue();
        assertThat(c.get("properties").get("email").asText()).isEqualTo("ada@example.com");
        assertThat(c.get("properties").get("lastname").isNull()).isTrue();

        SimResponse got = call("GET", "/crm/v3/objects/contacts/" + id + "?properties=email,phone", null);
        assertThat(got.status()).isEqualTo(200);
        JsonNode g = json(got).get("properties");
        assertThat(g.get("email").asText()).isEqualTo("ada@example.com");
        assertThat(g.get("phone").isNull()).isTrue();
        assertThat(g.has("firstname")).isFalse();
        assertThat(g.has("hs_object_id")).isTrue();

        clock.advance(Duration.ofMinutes(1));
        SimResponse patched = call("PATCH", "/crm/v3/objects/contacts/" + id, "{\"properties\":{\"lastname\":\"L\"}}");
        assertThat(patched.status()).isEqualTo(200);
        assertThat(json(patched).get("properties").get("lastname").asText()).isEqualTo("L");
        assertThat(json(patched).get("updatedAt").asText()).isEqualTo("2026-03-01T10:01:00.000Z");

        SimResponse deleted = call("DELETE", "/crm/v3/objects/contacts/" + id, null);
        assertThat(deleted.status()).isEqualTo(204);
        assertThat(deleted.body()).isEmpty();
        assertThat(call("GET", "/crm/v3/objects/contacts/" + id, null).status()).isEqualTo(404);
        SimResponse archived = call("GET", "/crm/v3/objects/contacts/" + id + "?archived=true", null);
        assertThat(json(archived).get("archived").asBoolean()).isTrue();
        assertThat(call("DELETE", "/crm/v3/objects/contacts/" + id, null).status()).isEqualTo(204);
    }

    @Test
    void companiesAndDealsHaveTheirOwnDefaultProperties() throws Exception {
        JsonNode company = json(call("POST", "/crm/v3/objects/companies", "{\"properties\":{\"name\":\"Acme\"}}"));
        assertThat(company.get("properties").has("hs_lastmodifieddate")).isTrue();
        assertThat(company.get("properties").has("domain")).isTrue();
        JsonNode deal = json(call("POST", "/crm/v3/objects/deals", "{\"properties\":{\"dealname\":\"D\",\"amount\":5}}"));
        assertThat(deal.get("properties").get("amount").asText()).isEqualTo("5");
        assertThat(deal.get("properties").has("dealstage")).isTrue();
    }

    @Test
    void listPagesWithAfterAndLink() throws Exception {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            ids.add(createContact("p" + i + "@example.com", "P" + i));
        }
        Map<String, List<String>> h = Map.of("Authorization", List.of("Bearer " + token), "Host", List.of("sim:1"));
        SimResponse page1 = sim.handle(new SimRequest("GET", "/crm/v3/objects/contacts?limit=2&properties=email", null, h,
                null, "/sandbox/hubspot"));
        JsonNode p1 = json(page1);
        assertThat(p1.get("results")).hasSize(2);
        assertThat(p1.get("results").get(0).get("id").asText()).isEqualTo(ids.get(0));
        String after = p1.get("paging").get("next").get("after").asText();
        assertThat(after).isEqualTo(ids.get(2));
        assertThat(p1.get("paging").get("next").get("link").asText())
                .isEqualTo("http://sim:1/sandbox/hubspot/crm/v3/objects/contacts?limit=2&properties=email&after=" + after);

        JsonNode p3 = json(call("GET", "/crm/v3/objects/contacts?limit=2&after=" + ids.get(4), null));
        assertThat(p3.get("results")).hasSize(1);
        assertThat(p3.has("paging")).isFalse();
        assertThat(json(call("GET", "/crm/v3/objects/contacts", null)).get("results")).hasSize(5);
    }

    @Test
    void objectsArePerPortal() throws Exception {
        createContact("a@example.com", "A");
        sim.registerPrivateAppToken(OTHER_PORTAL, "pat-na1-other");
        JsonNode other = json(call("GET", "/crm/v3/objects/contacts", "pat-na1-other", null));
        assertThat(other.get("results")).isEmpty();
        assertThat(sim.createCrmObject(OTHER_PORTAL, "contacts", Map.of("email", "o@example.com"))).isNotBlank();
        assertThat(json(call("GET", "/crm/v3/objects/contacts", "pat-na1-other", null)).get("results")).hasSize(1);
        assertThat(json(call("GET", "/crm/v3/objects/contacts", null)).get("results")).hasSize(1);
    }

    @Test
    void batchReadAnswers207WithErrorsForMissingIds() throws Exception {
        String a = createContact("a@example.com", "A");
        String b = createContact("b@example.com", "B");
        SimResponse ok = call("POST", "/crm/v3/objects/contacts/batch/read",
                "{\"inputs\":[{\"id\":\"" + a + "\"},{\"id\":\"" + b + "\"}],\"properties\":[\"email\"]}");
        assertThat(ok.status()).isEqualTo(200);
        JsonNode o = json(ok);
        assertThat(o.get("status").asText()).isEqualTo("COMPLETE");
        assertThat(o.get("results")).hasSize(2);
        assertThat(o.has("startedAt")).isTrue();
        assertThat(o.has("completedAt")).isTrue();
        assertThat(o.has("errors")).isFalse();

        SimResponse partial = call("POST", "/crm/v3/objects/contacts/batch/read",
                "{\"inputs\":[{\"id\":\"" + a + "\"},{\"id\":\"424242\"}]}");
        assertThat(partial.status()).isEqualTo(207);
        JsonNode p = json(partial);
        assertThat(p.get("results")).hasSize(1);
        assertThat(p.get("numErrors").asInt()).isEqualTo(1);
        JsonNode err = p.get("errors").get(0);
        assertThat(err.get("category").asText()).isEqualTo("OBJECT_NOT_FOUND");
        assertThat(err.get("context").get("ids").get(0).asText()).isEqualTo("424242");

        SimResponse byEmail = call("POST", "/crm/v3/objects/contacts/batch/read",
                "{\"idProperty\":\"email\",\"inputs\":[{\"id\":\"B@example.com\"}]}");
        assertThat(json(byEmail).get("results").get(0).get("id").asText()).isEqualTo(b);
    }

    @Test
    void searchFiltersSortsAndPages() throws Exception {
        String ada = createContact("ada@example.com", "Ada");
        String bob = createContact("bob@other.org", "Bob");
        String cy = createContact("cy@example.com", "Cy");
        call("PATCH", "/crm/v3/objects/contacts/" + bob, "{\"properties\":{\"phone\":\"123\"}}");

        assertThat(searchIds("{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"email\",\"operator\":\"EQ\","
                + "\"value\":\"ADA@example.com\"}]}]}")).containsExactly(ada);
        assertThat(searchIds("{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"firstname\",\"operator\":\"NEQ\","
                + "\"value\":\"Ada\"}]}]}")).containsExactly(bob, cy);
        assertThat(searchIds("{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"email\",\"operator\":"
                + "\"CONTAINS_TOKEN\",\"value\":\"*@example.com\"}]}]}")).containsExactly(ada, cy);
        assertThat(searchIds("{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"email\",\"operator\":"
                + "\"CONTAINS_TOKEN\",\"value\":\"other\"}]}]}")).containsExactly(bob);
        assertThat(searchIds("{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"phone\",\"operator\":"
                + "\"HAS_PROPERTY\"}]}]}")).containsExactly(bob);
        // OR of groups, AND within a group
        assertThat(searchIds("{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"firstname\",\"operator\":\"EQ\","
                + "\"value\":\"Cy\"}]},{\"filters\":[{\"propertyName\":\"phone\",\"operator\":\"HAS_PROPERTY\"},"
                + "{\"propertyName\":\"firstname\",\"operator\":\"EQ\",\"value\":\"Bob\"}]}]}")).containsExactly(bob, cy);
        assertThat(searchIds("{\"sorts\":[{\"propertyName\":\"firstname\",\"direction\":\"DESCENDING\"}]}"))
                .containsExactly(cy, bob, ada);

        JsonNode page = json(call("POST", "/crm/v3/objects/contacts/search",
                "{\"limit\":2,\"properties\":[\"email\"]}"));
        assertThat(page.get("total").asInt()).isEqualTo(3);
        assertThat(page.get("results")).hasSize(2);
        assertThat(page.get("results").get(0).get("properties").has("firstname")).isFalse();
        String after = page.get("paging").get("next").get("after").asText();
        clock.advance(Duration.ofSeconds(1));
        JsonNode rest = json(call("POST", "/crm/v3/objects/contacts/search", "{\"limit\":2,\"after\":\"" + after + "\"}"));
        assertThat(rest.get("results")).hasSize(1);
        assertThat(rest.has("paging")).isFalse();

        call("DELETE", "/crm/v3/objects/contacts/" + ada, null);
        clock.advance(Duration.ofSeconds(1));
        assertThat(searchIds("{}")).containsExactly(bob, cy);
    }

    List<String> searchIds(String body) throws Exception {
        clock.advance(Duration.ofSeconds(1)); // stay inside the search limit
        SimResponse r = call("POST", "/crm/v3/objects/contacts/search", body);
        assertThat(r.status()).as(r.bodyText()).isEqualTo(200);
        List<String> ids = new ArrayList<>();
        json(r).get("results").forEach(n -> ids.add(n.get("id").asText()));
        return ids;
    }

    @Test
    void errorsHaveHubSpotsShape() throws Exception {
        SimResponse missing = call("GET", "/crm/v3/objects/contacts/123456", null);
        assertThat(missing.status()).isEqualTo(404);
        JsonNode m = json(missing);
        assertThat(m.get("status").asText()).isEqualTo("error");
        assertThat(m.get("category").asText()).isEqualTo("OBJECT_NOT_FOUND");
        assertThat(m.get("correlationId").asText()).isNotBlank();
        assertThat(missing.header("X-HubSpot-Correlation-Id")).isEqualTo(m.get("correlationId").asText());
        assertThat(m.get("context").get("id").get(0).asText()).isEqualTo("123456");

        SimResponse readOnly = call("POST", "/crm/v3/objects/contacts", "{\"properties\":{\"hs_object_id\":\"1\"}}");
        assertThat(readOnly.status()).isEqualTo(400);
        assertThat(json(readOnly).get("category").asText()).isEqualTo("VALIDATION_ERROR");
        assertThat(json(readOnly).get("message").asText()).contains("READ_ONLY_VALUE");
        assertThat(call("POST", "/crm/v3/objects/contacts", "not json").status()).isEqualTo(400);
        assertThat(call("POST", "/crm/v3/objects/contacts", "{\"nope\":1}").status()).isEqualTo(400);

        createContact("dup@example.com", "D");
        SimResponse dup = call("POST", "/crm/v3/objects/contacts", "{\"properties\":{\"email\":\"DUP@example.com\"}}");
        assertThat(dup.status()).isEqualTo(409);
        assertThat(json(dup).get("category").asText()).isEqualTo("CONFLICT");

        SimResponse badType = call("GET", "/crm/v3/objects/widgets", null);
        assertThat(badType.status()).isEqualTo(400);
        assertThat(json(badType).get("message").asText()).contains("widgets");
        assertThat(call("PATCH", "/crm/v3/objects/contacts/999", "{\"properties\":{}}").status()).isEqualTo(404);
        assertThat(call("PUT", "/crm/v3/objects/contacts/999", "{}").status()).isEqualTo(405);
    }

    @Test
    void unknownExpiredOrRevokedTokensGet401() throws Exception {
        for (String bad : new String[] { null, "not-a-token" }) {
            SimResponse r = call("GET", "/crm/v3/objects/contacts", bad, null);
            assertThat(r.status()).isEqualTo(401);
            JsonNode b = json(r);
            assertThat(b.get("status").asText()).isEqualTo("error");
            assertThat(b.get("category").asText()).isEqualTo("INVALID_AUTHENTICATION");
            assertThat(b.get("message").asText()).startsWith("Authentication credentials not found.");
            assertThat(b.get("correlationId").asText()).isNotBlank();
            assertThat(r.header("X-HubSpot-RateLimit-Max")).isNull();
        }
        clock.advance(sim.accessTokenLifetime().plusSeconds(5));
        SimResponse expired = call("GET", "/crm/v3/objects/contacts", null);
        assertThat(expired.status()).isEqualTo(401);
        assertThat(json(expired).get("category").asText()).isEqualTo("EXPIRED_AUTHENTICATION");
        assertThat(json(expired).get("message").asText()).isEqualTo(
                "The OAuth token used to make this call expired 5 second(s) ago.");

        String fresh = sim.install(CLIENT_ID, PORTAL, List.of()).accessToken();
        assertThat(call("GET", "/crm/v3/objects/contacts", fresh, null).status()).isEqualTo(200);
        sim.uninstall(PORTAL, APP_ID);
        assertThat(json(call("GET", "/crm/v3/objects/contacts", fresh, null)).get("category").asText())
                .isEqualTo("INVALID_AUTHENTICATION");
        assertThat(sim.crmRequestTimes(PORTAL)).hasSize(1); // unauthenticated calls spend no budget
    }

    @Test
    void rollingWindowOfOneHundredPerTenSeconds() throws Exception {
        Instant start = clock.instant();
        for (int i = 0; i < 100; i++) {
            SimResponse r = call("GET", "/crm/v3/objects/contacts", null);
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.header("X-HubSpot-RateLimit-Max")).isEqualTo("100");
            assertThat(r.header("X-HubSpot-RateLimit-Interval-Milliseconds")).isEqualTo("10000");
            assertThat(r.header("X-HubSpot-RateLimit-Remaining")).isEqualTo(Integer.toString(99 - i));
            assertThat(r.header("X-HubSpot-RateLimit-Daily")).isNull(); // OAuth calls have no daily limit
            clock.advance(Duration.ofMillis(i == 0 ? 5_000 : 10)); // the first call is 5 s older than the rest
        }
        SimResponse limited = call("GET", "/crm/v3/objects/contacts", null);
        assertThat(limited.status()).isEqualTo(429);
        JsonNode b = json(limited);
        assertThat(b.get("status").asText()).isEqualTo("error");
        assertThat(b.get("errorType").asText()).isEqualTo("RATE_LIMIT");
        assertThat(b.get("policyName").asText()).isEqualTo("TEN_SECONDLY_ROLLING");
        assertThat(b.get("message").asText()).isEqualTo("You have reached your ten_secondly_rolling limit.");
        assertThat(b.get("correlationId").asText()).isNotBlank();
        assertThat(limited.header("X-HubSpot-RateLimit-Remaining")).isEqualTo("0");
        assertThat(sim.crmRateLimited(PORTAL)).isEqualTo(1);

        // rolling, not fixed: once the first call is 10 s old exactly one more fits, the next is refused again
        clock.set(start.plusSeconds(10));
        assertThat(call("GET", "/crm/v3/objects/contacts", null).status()).isEqualTo(200);
        assertThat(call("GET", "/crm/v3/objects/contacts", null).status()).isEqualTo(429);
        assertThat(sim.crmRateLimited(PORTAL)).isEqualTo(2);
        assertThat(sim.crmRequestTimes(PORTAL)).hasSize(103).startsWith(start);

        // the budget is per (app, account): another app on the same portal has its own
        sim.registerApp("other-app", "s", APP_ID + 1, "https://x/");
        String other = sim.install("other-app", PORTAL, List.of()).accessToken();
        assertThat(call("GET", "/crm/v3/objects/contacts", other, null).status()).isEqualTo(200);
    }

    @Test
    void limitsAreConfigurableAndPrivateAppsHaveADailyQuota() {
        sim.rateLimit(3, Duration.ofSeconds(1));
        for (int i = 0; i < 3; i++) {
            assertThat(call("GET", "/crm/v3/objects/deals", null).status()).isEqualTo(200);
        }
        assertThat(call("GET", "/crm/v3/objects/deals", null).status()).isEqualTo(429);
        clock.advance(Duration.ofSeconds(1));
        assertThat(call("GET", "/crm/v3/objects/deals", null).header("X-HubSpot-RateLimit-Max")).isEqualTo("3");

        sim.registerPrivateAppToken(PORTAL, "pat-na1-static").privateAppRateLimit(190, Duration.ofSeconds(10), 2);
        SimResponse first = call("GET", "/crm/v3/objects/deals", "pat-na1-static", null);
        assertThat(first.header("X-HubSpot-RateLimit-Max")).isEqualTo("190");
        assertThat(first.header("X-HubSpot-RateLimit-Daily")).isEqualTo("2");
        assertThat(first.header("X-HubSpot-RateLimit-Daily-Remaining")).isEqualTo("1");
        assertThat(call("GET", "/crm/v3/objects/deals", "pat-na1-static", null).status()).isEqualTo(200);
        SimResponse daily = call("GET", "/crm/v3/objects/deals", "pat-na1-static", null);
        assertThat(daily.status()).isEqualTo(429);
        assertThat(daily.bodyText()).contains("\"policyName\":\"DAILY\"", "You have reached your daily limit.");
        clock.advance(Duration.ofDays(1));
        assertThat(call("GET", "/crm/v3/objects/deals", "pat-na1-static", null).status()).isEqualTo(200);
    }

    @Test
    void searchHasItsOwnFivePerSecondLimit() throws Exception {
        for (int i = 0; i < 5; i++) {
            SimResponse r = call("POST", "/crm/v3/objects/contacts/search", "{}");
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.header("X-HubSpot-RateLimit-Max")).isNull(); // search responses carry no limit headers
        }
        SimResponse limited = call("POST", "/crm/v3/objects/contacts/search", "{}");
        assertThat(limited.status()).isEqualTo(429);
        assertThat(json(limited).get("message").asText()).isEqualTo("You have reached your secondly limit.");
        assertThat(json(limited).get("policyName").asText()).isEqualTo("SECONDLY");
        // the general window is separate
        assertThat(call("GET", "/crm/v3/objects/contacts", null).header("X-HubSpot-RateLimit-Remaining"))
                .isEqualTo("99");
        clock.advance(Duration.ofSeconds(1));
        assertThat(call("POST", "/crm/v3/objects/contacts/search", "{}").status()).isEqualTo(200);
    }

    @Test
    void recordingKeepsHeaderNamesAndTokenFingerprintNeverTokens() throws Exception {
        sim.clearRecording();
        Map<String, List<String>> h = new LinkedHashMap<>();
        h.put("Authorization", List.of("Bearer " + token));
        h.put("Accept", List.of("application/json"));
        sim.handle(new SimRequest("GET", "/crm/v3/objects/contacts/1", null, h, null));
        assertThat(sim.count(HubSpotSimulator.OP_CRM_GET)).isEqualTo(1);
        RecordedRequest r = sim.requests(HubSpotSimulator.OP_CRM_GET).get(0);
        assertThat(r.method()).isEqualTo("GET");
        assertThat(r.path()).isEqualTo("/crm/v3/objects/contacts/1");
        assertThat(r.hubId()).isEqualTo(PORTAL);
        assertThat(r.status()).isEqualTo(404);
        assertThat(r.headerNames()).containsExactly("authorization", "accept");
        assertThat(r.hasHeader("Cookie")).isFalse();
        assertThat(r.bearerFingerprint()).hasSize(6).isNotEqualTo(token.substring(0, 6));
        assertThat(r.toString()).doesNotContain(token);
    }

    @Test
    void faultsCanTargetCrmOperations() throws Exception {
        sim.rateLimitNext(1, HubSpotSimulator.OP_CRM_LIST, Duration.ofSeconds(3));
        SimResponse r = call("GET", "/crm/v3/objects/contacts", null);
        assertThat(r.status()).isEqualTo(429);
        assertThat(r.header("Retry-After")).isEqualTo("3");
        assertThat(json(r).get("policyName").asText()).isEqualTo("TEN_SECONDLY_ROLLING");
        sim.failNext("/crm/", 503, null, null);
        assertThat(call("GET", "/crm/v3/objects/contacts", null).status()).isEqualTo(503);
        assertThat(call("GET", "/crm/v3/objects/contacts", null).status()).isEqualTo(200);
    }

    @Test
    void servedOverHttpByFakeHubSpot() throws Exception {
        try (FakeHubSpot hub = FakeHubSpot.start(sim)) {
            HttpClient http = HttpClient.newHttpClient();
            HttpResponse<String> created = http.send(HttpRequest.newBuilder(URI.create(hub.baseUrl()
                    + "/crm/v3/objects/contacts")).header("Authorization", "Bearer " + token)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"properties\":{\"email\":\"h@example.com\"}}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(created.statusCode()).isEqualTo(201);
            assertThat(created.headers().firstValue("X-HubSpot-RateLimit-Remaining")).hasValue("99");
            HttpResponse<String> list = http.send(HttpRequest.newBuilder(URI.create(hub.baseUrl()
                    + "/crm/v3/objects/contacts?limit=1")).header("Authorization", "Bearer " + token).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(JSON.readTree(list.body()).get("results").get(0).get("properties").get("email").asText())
                    .isEqualTo("h@example.com");
        }
    }
}
