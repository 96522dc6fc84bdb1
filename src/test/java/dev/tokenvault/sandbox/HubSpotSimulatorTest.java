package dev.tokenvault.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tokenvault.sandbox.HubSpotSimulator.App;
import dev.tokenvault.sandbox.HubSpotSimulator.ManualClock;
import dev.tokenvault.sandbox.HubSpotSimulator.SignedWebhook;
import dev.tokenvault.sandbox.HubSpotSimulator.SimRequest;
import dev.tokenvault.sandbox.HubSpotSimulator.SimResponse;
import dev.tokenvault.sandbox.HubSpotSimulator.TokenGrant;
import dev.tokenvault.sandbox.HubSpotSimulator.TokenResponseStyle;
import dev.tokenvault.testing.FakeHubSpot;

/** Tests the simulator through {@link FakeHubSpot} over real HTTP. */
class HubSpotSimulatorTest {

    static final String CLIENT_ID = "5f2b1c7e-1111-4a4a-9c9c-0123456789ab";
    static final String SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
    static final long APP_ID = 424242;
    static final long PORTAL = 62515;
    static final String REDIRECT = "https://vault.example.com/oauth/callback";
    static final String SCOPE = "oauth crm.objects.contacts.read";
    static final String OPTIONAL_SCOPE = "crm.objects.deals.read";
    static final ObjectMapper JSON = new ObjectMapper();

    ManualClock clock;
    HubSpotSimulator sim;
    FakeHubSpot hub;
    HttpClient http;

    @BeforeEach
    void start() {
        clock = new ManualClock(Instant.parse("2026-03-01T10:00:00Z"));
        sim = new HubSpotSimulator(clock)
                .registerApp(new App(CLIENT_ID, SECRET, APP_ID, List.of(REDIRECT),
                        Set.of("oauth", "crm.objects.contacts.read"), Set.of(OPTIONAL_SCOPE)))
                .registerPortal(PORTAL);
        hub = FakeHubSpot.start(sim);
        http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(5)).build();
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Consent step
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void consentPageShowsAppScopesAndPlainForm() throws Exception {
        HttpResponse<String> page = get(authorizeUrl("s-1"));

        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.headers().firstValue("Content-Type")).hasValueSatisfying(ct -> assertThat(ct).startsWith("text/html"));
        String html = page.body();
        assertThat(html).contains(CLIENT_ID, "oauth", "crm.objects.contacts.read", OPTIONAL_SCOPE)
                .contains("method=\"post\" action=\"/oauth/authorize\"")
                .contains("name=\"portal_id\"").contains("value=\"" + PORTAL + "\"")
                .contains("name=\"action\" value=\"allow\"").contains("name=\"action\" value=\"deny\"")
                .doesNotContainIgnoringCase("<script");
        assertThat(hiddenInputs(html)).containsEntry("client_id", CLIENT_ID).containsEntry("redirect_uri", REDIRECT)
                .containsEntry("scope", SCOPE).containsEntry("optional_scope", OPTIONAL_SCOPE).containsEntry("state", "s-1");
        assertThat(sim.count("authorize")).isEqualTo(1);
    }

    @Test
    void consentFormActionUsesTheMountPrefix() {
        SimResponse r = sim.handle(SimRequest.get(authorizeUrl("x")).withMountPrefix("/sandbox/hubspot"));
        assertThat(r.bodyText()).contains("action=\"/sandbox/hubspot/oauth/authorize\"");

        SimResponse portalSpecific = sim.handle(SimRequest.get("/oauth/777/authorize?client_id=" + CLIENT_ID
                + "&redirect_uri=" + enc(REDIRECT) + "&scope=" + enc(SCOPE)));
        assertThat(portalSpecific.status()).isEqualTo(200);
        assertThat(portalSpecific.bodyText()).contains("value=\"777\"");
    }

    @Test
    void allowRedirectsWithCodeAndStateAndDenyWithAccessDenied() throws Exception {
        Map<String, String> allow = consent("allow", "st&te=1");
        assertThat(allow).containsKey("code").containsEntry("state", "st&te=1");
        assertThat(allow.get("code")).matches("[0-9a-f-]{36}");

        Map<String, String> deny = consent("deny", "s-2");
        assertThat(deny).containsEntry("error", "access_denied").containsEntry("state", "s-2").doesNotContainKey("code");
        assertThat(sim.count("consent")).isEqualTo(2);
    }

    @Test
    void authorizeValidatesClientRedirectUriAndScopes() throws Exception {
        HttpResponse<String> badClient = get("/oauth/authorize?client_id=nope&redirect_uri=" + enc(REDIRECT) + "&scope=oauth");
        assertThat(badClient.statusCode()).isEqualTo(400);
        assertThat(badClient.body()).contains("invalid app client_id");

        HttpResponse<String> badRedirect = get("/oauth/authorize?client_id=" + CLIENT_ID + "&redirect_uri="
                + enc("https://evil.example.com/cb") + "&scope=" + enc(SCOPE));
        assertThat(badRedirect.statusCode()).isEqualTo(400);
        assertThat(badRedirect.body()).contains("redirect URL").contains("https://evil.example.com/cb");

        HttpResponse<String> missingRequired = get("/oauth/authorize?client_id=" + CLIENT_ID + "&redirect_uri="
                + enc(REDIRECT) + "&scope=oauth");
        assertThat(missingRequired.statusCode()).isEqualTo(400);
        assertThat(missingRequired.body()).contains("mismatch between the scopes");

        HttpResponse<String> unknownOptional = get(authorizeUrl("s").replace(enc(OPTIONAL_SCOPE), "tickets"));
        assertThat(unknownOptional.statusCode()).isEqualTo(400);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Token endpoint: authorization_code
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void v1CodeExchangeReturnsHubSpotTokenShape() throws Exception {
        String code = consent("allow", "s").get("code");

        HttpResponse<String> r = exchange("v1", code, REDIRECT);

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type"))
                .hasValueSatisfying(ct -> assertThat(ct).startsWith("application/json"));
        JsonNode t = JSON.readTree(r.body());
        assertThat(t.path("token_type").asText()).isEqualTo("bearer");
        assertThat(t.path("access_token").asText()).startsWith("CK").hasSizeBetween(40, 300);
        assertThat(t.path("refresh_token").asText())
                .matches("na1-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
        assertThat(t.path("expires_in").asLong()).isEqualTo(1800);
        assertThat(t.path("hub_id").asLong()).isEqualTo(PORTAL);
        assertThat(t.path("user_id").isNumber()).isTrue();
        assertThat(t.path("token_use").asText()).isEqualTo("access_token");
        assertThat(texts(t.path("scopes"))).containsExactly("oauth", "crm.objects.contacts.read", OPTIONAL_SCOPE);

        assertThat(sim.count("code")).isEqualTo(1);
        assertThat(sim.count("code", "v1")).isEqualTo(1);
        assertThat(sim.count("token")).isEqualTo(1);
        assertThat(sim.requests("code")).singleElement().satisfies(rec -> {
            assertThat(rec.grantType()).isEqualTo("authorization_code");
            assertThat(rec.clientId()).isEqualTo(CLIENT_ID);
            assertThat(rec.hubId()).isEqualTo(PORTAL);
            assertThat(rec.status()).isEqualTo(200);
            assertThat(rec.at()).isEqualTo(clock.instant());
        });
        assertThat(sim.tokenGeneration(PORTAL)).isEqualTo(1);
    }

    @Test
    void dated2026_03CodeExchangeTakesParametersFromTheBodyOnly() throws Exception {
        String code = consent("allow", "s").get("code");

        // Parameters in the query string are ignored by the dated API.
        HttpResponse<String> inQuery = send(HttpRequest.newBuilder(uri("/oauth/2026-03/token?grant_type=authorization_code"
                + "&client_id=" + CLIENT_ID + "&client_secret=" + SECRET + "&code=" + code + "&redirect_uri=" + enc(REDIRECT)))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.noBody()).build());
        assertThat(inQuery.statusCode()).isEqualTo(400);
        JsonNode err = JSON.readTree(inQuery.body());
        assertThat(err.path("error").asText()).isEqualTo("invalid_request");
        assertThat(err.path("category").asText()).isNotEmpty();

        HttpResponse<String> r = exchange("2026-03", code, REDIRECT);
        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode t = JSON.readTree(r.body());
        assertThat(t.path("access_token").asText()).startsWith("CK");
        assertThat(t.path("refresh_token").asText()).startsWith("na1-");
        assertThat(t.path("expires_in").asLong()).isEqualTo(1800);
        assertThat(t.path("hub_id").asLong()).isEqualTo(PORTAL);
        assertThat(sim.count("code", "2026-03")).isEqualTo(1);
        assertThat(sim.count("code", "v1")).isZero();
    }

    @Test
    void authorizationCodesAreSingleUse() throws Exception {
        String code = consent("allow", "s").get("code");
        assertThat(exchange("v1", code, REDIRECT).statusCode()).isEqualTo(200);

        HttpResponse<String> replay = exchange("v1", code, REDIRECT);

        assertThat(replay.statusCode()).isEqualTo(400);
        JsonNode e = JSON.readTree(replay.body());
        assertThat(e.path("status").asText()).isEqualTo("BAD_AUTH_CODE");
        assertThat(e.path("message").asText()).isEqualTo("missing or unknown auth code");
        assertThat(e.path("error").asText()).isEqualTo("invalid_grant");
        assertThat(e.path("error_description").asText()).isNotEmpty();
        assertThat(e.path("correlationId").asText()).matches("[0-9a-f-]{36}");

        HttpResponse<String> replayDated = exchange("2026-03", code, REDIRECT);
        assertThat(JSON.readTree(replayDated.body()).path("status").asText()).isEqualTo("BAD_AUTH_CODE");
    }

    @Test
    void concurrentExchangesOfOneCodeYieldExactlyOneTokenPair() throws Exception {
        String code = consent("allow", "s").get("code");
        int threads = 12;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Integer>> results = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                results.add(pool.submit(() -> {
                    go.await();
                    return exchange(i0() ? "v1" : "2026-03", code, REDIRECT).statusCode();
                }));
            }
            go.countDown();
            int ok = 0;
            for (Future<Integer> f : results) {
                int s = f.get(20, TimeUnit.SECONDS);
                assertThat(s).isIn(200, 400);
                ok += s == 200 ? 1 : 0;
            }
            assertThat(ok).isEqualTo(1);
            assertThat(sim.count("code")).isEqualTo(threads);
            assertThat(sim.tokenGeneration(PORTAL)).isEqualTo(1);
        } finally {
            pool.shutdownNow();
        }
    }

    private static boolean i0() {
        return Thread.currentThread().getId() % 2 == 0;
    }

    @Test
    void codeExchangeValidatesExpiryRedirectUriAndClientCredentials() throws Exception {
        String expired = consent("allow", "s").get("code");
        clock.advance(HubSpotSimulator.DEFAULT_AUTH_CODE_LIFETIME.plusSeconds(1));
        assertError(exchange("v1", expired, REDIRECT), 400, "EXPIRED_AUTH_CODE", "invalid_grant");

        String code = consent("allow", "s").get("code");
        assertError(exchange("v1", code, REDIRECT + "/other"), 400, "BAD_REDIRECT_URI", "invalid_grant");
        assertError(postForm("/oauth/v1/token", Map.of("grant_type", "authorization_code", "client_id", CLIENT_ID,
                "client_secret", "wrong", "code", code, "redirect_uri", REDIRECT)), 400, "BAD_CLIENT_ID", "invalid_client");
        assertError(postForm("/oauth/v1/token", Map.of("grant_type", "authorization_code", "client_id", "unknown",
                "client_secret", SECRET, "code", code, "redirect_uri", REDIRECT)), 400, "BAD_CLIENT_ID", "invalid_client");
        assertError(postForm("/oauth/v1/token", Map.of("grant_type", "password", "client_id", CLIENT_ID,
                "client_secret", SECRET)), 400, "BAD_GRANT_TYPE", "unsupported_grant_type");
        // The failed attempts did not consume the code.
        assertThat(exchange("v1", code, REDIRECT).statusCode()).isEqualTo(200);
    }

    @Test
    void v1AcceptsLegacyQueryParameters() throws Exception {
        TokenGrant g = sim.install(CLIENT_ID, PORTAL, List.of("oauth"));
        HttpResponse<String> r = send(HttpRequest.newBuilder(uri("/oauth/v1/token?client_secret=" + SECRET
                + "&refresh_token=" + g.refreshToken()))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("grant_type=refresh_token&client_id=" + CLIENT_ID)).build());
        assertThat(r.statusCode()).isEqualTo(200);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Token endpoint: refresh_token
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void refreshGrantMintsNewAccessTokenAndKeepsTheRefreshToken() throws Exception {
        JsonNode first = JSON.readTree(exchange("v1", consent("allow", "s").get("code"), REDIRECT).body());
        String refreshToken = first.path("refresh_token").asText();
        clock.advance(Duration.ofMinutes(29));

        HttpResponse<String> r = refresh("2026-03", refreshToken);

        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode t = JSON.readTree(r.body());
        assertThat(t.path("refresh_token").asText()).isEqualTo(refreshToken);
        assertThat(t.path("access_token").asText()).isNotEqualTo(first.path("access_token").asText());
        assertThat(t.path("expires_in").asLong()).isEqualTo(1800);
        assertThat(sim.count("refresh")).isEqualTo(1);
        assertThat(sim.requests("refresh")).singleElement()
                .satisfies(rec -> assertThat(rec.grantType()).isEqualTo("refresh_token"));
        assertThat(sim.tokenGeneration(PORTAL)).isEqualTo(2);
        assertThat(sim.isAccessTokenActive(first.path("access_token").asText())).isTrue();

        clock.advance(Duration.ofMinutes(2));
        assertThat(sim.isAccessTokenActive(first.path("access_token").asText())).isFalse();
        assertThat(sim.isAccessTokenActive(t.path("access_token").asText())).isTrue();
    }

    @Test
    void revokedRefreshTokensAnswerBadRefreshToken() throws Exception {
        TokenGrant a = sim.install(CLIENT_ID, PORTAL, List.of("oauth"));
        assertThat(sim.revokeRefreshTokens(PORTAL)).isEqualTo(1);
        HttpResponse<String> r = refresh("v1", a.refreshToken());
        assertError(r, 400, "BAD_REFRESH_TOKEN", "invalid_grant");
        assertThat(JSON.readTree(r.body()).path("message").asText()).isEqualTo("missing or invalid refresh token");

        // v1 DELETE /oauth/v1/refresh-tokens/{token} -> 204, then refresh fails
        TokenGrant b = sim.install(CLIENT_ID, PORTAL, List.of("oauth"));
        HttpResponse<String> del = send(
                HttpRequest.newBuilder(uri("/oauth/v1/refresh-tokens/" + b.refreshToken())).DELETE().build());
        assertThat(del.statusCode()).isEqualTo(204);
        assertError(refresh("2026-03", b.refreshToken()), 400, "BAD_REFRESH_TOKEN", "invalid_grant");
        assertThat(send(HttpRequest.newBuilder(uri("/oauth/v1/refresh-tokens/" + b.refreshToken())).DELETE().build())
                .statusCode()).isEqualTo(404);

        // 2026-03 POST /token/revoke -> 200 (also for unknown tokens), then refresh fails
        TokenGrant c = sim.install(CLIENT_ID, PORTAL, List.of("oauth"));
        HttpResponse<String> revoke = postForm("/oauth/2026-03/token/revoke", Map.of("client_id", CLIENT_ID,
                "client_secret", SECRET, "token", c.refreshToken(), "token_type_hint", "refresh_token"));
        assertThat(revoke.statusCode()).isEqualTo(200);
        assertThat(sim.isRefreshTokenActive(c.refreshToken())).isFalse();
        assertError(refresh("v1", c.refreshToken()), 400, "BAD_REFRESH_TOKEN", "invalid_grant");
        assertThat(postForm("/oauth/2026-03/token/revoke", Map.of("client_id", CLIENT_ID, "client_secret", SECRET,
                "token", "na1-unknown")).statusCode()).isEqualTo(200);

        assertThat(sim.count("revoke")).isEqualTo(4);
        assertThat(sim.count("revoke", "v1")).isEqualTo(2);
    }

    @Test
    void refreshTokenOfAnotherClientIsRejected() throws Exception {
        sim.registerApp("other-client", "other-secret", 99, REDIRECT);
        TokenGrant g = sim.install(CLIENT_ID, PORTAL, List.of("oauth"));
        HttpResponse<String> r = postForm("/oauth/v1/token", Map.of("grant_type", "refresh_token",
                "client_id", "other-client", "client_secret", "other-secret", "refresh_token", g.refreshToken()));
        assertError(r, 400, "BAD_REFRESH_TOKEN", "invalid_grant");
    }

    @Test
    void uninstallRevokesTokensAndProducesSignedWebhook() throws Exception {
        TokenGrant g = sim.install(CLIENT_ID, PORTAL, List.of("oauth"));
        String body = sim.uninstall(PORTAL, APP_ID);

        JsonNode events = JSON.readTree(body);
        assertThat(events.isArray()).isTrue();
        assertThat(events.get(0).path("subscriptionType").asText()).isEqualTo("app.uninstall");
        assertThat(events.get(0).path("portalId").asLong()).isEqualTo(PORTAL);
        assertThat(events.get(0).path("appId").asLong()).isEqualTo(APP_ID);
        assertThat(events.get(0).path("occurredAt").asLong()).isEqualTo(clock.instant().toEpochMilli());
        assertThat(sim.isRefreshTokenActive(g.refreshToken())).isFalse();
        assertThat(sim.isAccessTokenActive(g.accessToken())).isFalse();

        SignedWebhook w = sim.signedUninstallWebhook("https://vault.example.com/webhooks/default", PORTAL, APP_ID);
        assertThat(w.headers()).containsEntry("X-HubSpot-Request-Timestamp", Long.toString(clock.instant().toEpochMilli()))
                .containsEntry("X-HubSpot-Signature-v3", HubSpotSimulator.signatureV3(SECRET, "POST",
                        "https://vault.example.com/webhooks/default", w.body(), w.timestampMillis()))
                .containsEntry("X-HubSpot-Signature", HubSpotSimulator.signatureV1(SECRET, w.body()))
                .containsEntry("X-HubSpot-Signature-Version", "v1");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Introspection
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void v1MetadataEndpointsHaveHubSpotShape() throws Exception {
        TokenGrant g = sim.install(CLIENT_ID, PORTAL, List.of("oauth", "crm.objects.contacts.read"));
        clock.advance(Duration.ofSeconds(100));

        HttpResponse<String> at = get("/oauth/v1/access-tokens/" + g.accessToken());
        assertThat(at.statusCode()).isEqualTo(200);
        JsonNode a = JSON.readTree(at.body());
        assertThat(a.path("token").asText()).isEqualTo(g.accessToken());
        assertThat(a.path("user").asText()).isEqualTo("admin@portal-62515.example.com");
        assertThat(a.path("hub_domain").asText()).isEqualTo("portal-62515.hubspot.com");
        assertThat(texts(a.path("scopes"))).containsExactly("oauth", "crm.objects.contacts.read");
        assertThat(a.path("hub_id").asLong()).isEqualTo(PORTAL);
        assertThat(a.path("app_id").asLong()).isEqualTo(APP_ID);
        assertThat(a.path("expires_in").asLong()).isEqualTo(1700);
        assertThat(a.path("user_id").isNumber()).isTrue();
        assertThat(a.path("token_type").asText()).isEqualTo("access");
        assertThat(a.has("scope_to_scope_group_pks")).isTrue();
        assertThat(a.has("trial_scopes")).isTrue();
        assertThat(a.path("signed_access_token").path("hubId").asLong()).isEqualTo(PORTAL);

        HttpResponse<String> rt = get("/oauth/v1/refresh-tokens/" + g.refreshToken());
        assertThat(rt.statusCode()).isEqualTo(200);
        JsonNode r = JSON.readTree(rt.body());
        assertThat(r.path("token").asText()).isEqualTo(g.refreshToken());
        assertThat(r.path("client_id").asText()).isEqualTo(CLIENT_ID);
        assertThat(r.path("hub_id").asLong()).isEqualTo(PORTAL);
        assertThat(r.path("token_type").asText()).isEqualTo("refresh");
        assertThat(r.path("user").asText()).isNotEmpty();
        assertThat(r.path("hub_domain").asText()).isNotEmpty();

        clock.advance(Duration.ofMinutes(30));
        HttpResponse<String> expired = get("/oauth/v1/access-tokens/" + g.accessToken());
        assertThat(expired.statusCode()).isEqualTo(404);
        assertThat(sim.count("introspect", "v1")).isEqualTo(3);
    }

    @Test
    void dated2026_03IntrospectionReturnsActiveOrInactive() throws Exception {
        TokenGrant g = sim.install(CLIENT_ID, PORTAL, List.of("oauth"));

        JsonNode access = JSON.readTree(introspect(g.accessToken(), "access_token").body());
        assertThat(access.path("active").asBoolean()).isTrue();
        assertThat(access.path("token_use").asText()).isEqualTo("access_token");
        assertThat(access.path("client_id").asText()).isEqualTo(CLIENT_ID);
        assertThat(access.path("app_id").asLong()).isEqualTo(APP_ID);
        assertThat(access.path("hub_id").asLong()).isEqualTo(PORTAL);
        assertThat(access.path("hub_domain").asText()).isEqualTo("portal-62515.hubspot.com");
        assertThat(access.path("expires_in").asLong()).isEqualTo(1800);
        assertThat(texts(access.path("scopes"))).containsExactly("oauth");
        assertThat(access.has("user_id")).isTrue();
        assertThat(access.has("user")).isTrue();

        // wrong hint falls back to the other token type
        JsonNode refresh = JSON.readTree(introspect(g.refreshToken(), "access_token").body());
        assertThat(refresh.path("active").asBoolean()).isTrue();
        assertThat(refresh.path("token_use").asText()).isEqualTo("refresh_token");
        assertThat(refresh.has("expires_in")).isFalse();

        clock.advance(Duration.ofMinutes(31));
        HttpResponse<String> expired = introspect(g.accessToken(), "access_token");
        assertThat(expired.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(expired.body()).path("active").asBoolean()).isFalse();
        assertThat(JSON.readTree(introspect("CKbogus", null).body()).path("active").asBoolean()).isFalse();

        HttpResponse<String> badClient = postForm("/oauth/2026-03/token/introspect", Map.of("client_id", CLIENT_ID,
                "client_secret", "nope", "token", g.refreshToken()));
        assertError(badClient, 400, "BAD_CLIENT_ID", "invalid_client");
        assertThat(sim.count("introspect", "2026-03")).isEqualTo(5);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Failure injection
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void injectedServerErrorsAndRateLimitsCarryRetryAfter() throws Exception {
        TokenGrant g = sim.install(CLIENT_ID, PORTAL, List.of("oauth"));
        sim.failNext("refresh", 503, null, Duration.ofMillis(1500));
        sim.rateLimitNext(2, "token", Duration.ofSeconds(10));

        HttpResponse<String> first = refresh("v1", g.refreshToken());
        assertThat(first.statusCode()).isEqualTo(503);
        assertThat(first.headers().firstValue("Retry-After")).hasValue("2");
        assertThat(JSON.readTree(first.body()).path("error").asText()).isEqualTo("temporarily_unavailable");

        for (int i = 0; i < 2; i++) {
            HttpResponse<String> limited = refresh("2026-03", g.refreshToken());
            assertThat(limited.statusCode()).isEqualTo(429);
            assertThat(limited.headers().firstValue("Retry-After")).hasValue("10");
            assertThat(JSON.readTree(limited.body()).path("errorType").asText()).isEqualTo("RATE_LIMIT");
        }
        assertThat(refresh("v1", g.refreshToken()).statusCode()).isEqualTo(200);
        assertThat(sim.count("refresh")).isEqualTo(4);
        assertThat(sim.tokenGeneration(PORTAL)).isEqualTo(2); // install + the one successful refresh
        assertThat(sim.pendingFaults()).isZero();
    }

    @Test
    void injectedHubSpotStatusIsReturnedOnce() throws Exception {
        TokenGrant g = sim.install(CLIENT_ID, PORTAL, List.of("oauth"));
        sim.failNext("refresh", 400, "BAD_REFRESH_TOKEN", null);
        HttpResponse<String> r = refresh("v1", g.refreshToken());
        assertError(r, 400, "BAD_REFRESH_TOKEN", "invalid_grant");
        assertThat(r.headers().firstValue("Retry-After")).isEmpty();
        assertThat(refresh("v1", g.refreshToken()).statusCode()).isEqualTo(200);
    }

    @Test
    void pathPrefixFaultsOnlyHitMatchingPaths() throws Exception {
        TokenGrant g = sim.install(CLIENT_ID, PORTAL, List.of("oauth"));
        sim.failNext("/oauth/2026-03/", 502, null, null);
        assertThat(refresh("v1", g.refreshToken()).statusCode()).isEqualTo(200);
        assertThat(introspect(g.accessToken(), null).statusCode()).isEqualTo(502);
        assertThat(introspect(g.accessToken(), null).statusCode()).isEqualTo(200);
    }

    @Test
    void introspectionCanBeMadeToFail() throws Exception {
        TokenGrant g = sim.install(CLIENT_ID, PORTAL, List.of("oauth"));
        sim.failNext(2, "introspect", 500, null, null);
        assertThat(get("/oauth/v1/access-tokens/" + g.accessToken()).statusCode()).isEqualTo(500);
        assertThat(introspect(g.accessToken(), "access_token").statusCode()).isEqualTo(500);
        assertThat(get("/oauth/v1/access-tokens/" + g.accessToken()).statusCode()).isEqualTo(200);
    }

    @Test
    void stalledTokenCallsTriggerClientTimeouts() throws Exception {
        TokenGrant g = sim.install(CLIENT_ID, PORTAL, List.of("oauth"));
        sim.stallNext("refresh", Duration.ofMillis(1500));

        HttpRequest req = HttpRequest.newBuilder(uri("/oauth/2026-03/token")).timeout(Duration.ofMillis(300))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(HubSpotSimulator.formEncode(refreshForm(g.refreshToken()))))
                .build();
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> http.send(req, HttpResponse.BodyHandlers.ofString())).isInstanceOf(HttpTimeoutException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(1400));

        // the stall is consumed; the next call is served at once
        assertThat(refresh("2026-03", g.refreshToken()).statusCode()).isEqualTo(200);
    }

    @Test
    void rotatingTheClientSecretBreaksOldCredentials() throws Exception {
        TokenGrant g = sim.install(CLIENT_ID, PORTAL, List.of("oauth"));
        sim.setClientSecret(CLIENT_ID, "rotated-secret");
        assertError(refresh("v1", g.refreshToken()), 400, "BAD_CLIENT_ID", "invalid_client");
        HttpResponse<String> ok = postForm("/oauth/v1/token", Map.of("grant_type", "refresh_token", "client_id", CLIENT_ID,
                "client_secret", "rotated-secret", "refresh_token", g.refreshToken()));
        assertThat(ok.statusCode()).isEqualTo(200);
    }

    @Test
    void parallelRefreshesAreAllCounted() throws Exception {
        TokenGrant g = sim.install(CLIENT_ID, PORTAL, List.of("oauth"));
        int n = 40;
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Callable<Integer>> calls = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                calls.add(() -> refresh(i0() ? "v1" : "2026-03", g.refreshToken()).statusCode());
            }
            for (Future<Integer> f : pool.invokeAll(calls, 30, TimeUnit.SECONDS)) {
                assertThat(f.get()).isEqualTo(200);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(sim.count("refresh")).isEqualTo(n);
        assertThat(sim.tokenGeneration(PORTAL)).isEqualTo(n + 1);
    }

    @Test
    void camelCaseStyleCanBeSelectedForClientRobustnessTests() throws Exception {
        sim.tokenResponseStyle(TokenResponseStyle.CAMEL_CASE);
        TokenGrant g = sim.install(CLIENT_ID, PORTAL, List.of("oauth"));
        JsonNode t = JSON.readTree(refresh("v1", g.refreshToken()).body());
        assertThat(t.path("accessToken").asText()).startsWith("CK");
        assertThat(t.path("expiresIn").asLong()).isEqualTo(1800);
        assertThat(t.has("access_token")).isFalse();
    }

    @Test
    void unknownPathsAndWrongMethods() throws Exception {
        assertThat(get("/oauth/v9/nothing").statusCode()).isEqualTo(404);
        HttpResponse<String> wrong = get("/oauth/v1/token");
        assertThat(wrong.statusCode()).isEqualTo(405);
        assertThat(wrong.headers().firstValue("Allow")).hasValue("POST");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Webhook signatures
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void webhookSignatureHelpersMatchEveryTestVector() throws Exception {
        JsonNode vectors = loadSignatureVectors().path("vectors");
        assertThat(vectors.size()).isGreaterThan(0);
        int v3 = 0;
        for (JsonNode v : vectors) {
            String version = v.path("version").asText();
            String secret = v.path("clientSecret").asText();
            String method = v.path("method").asText();
            String url = v.path("url").asText();
            String body = v.path("body").asText();
            String expected = v.path("signature").asText();
            switch (version) {
                case "v3":
                    v3++;
                    assertThat(HubSpotSimulator.signatureV3(secret, method, url, body, v.path("timestamp").asLong()))
                            .as("v3 vector %s %s", url, body).isEqualTo(expected);
                    assertThat(HubSpotSimulator.signWebhook(secret, method, url, body, v.path("timestamp").asLong())
                            .headers()).containsEntry("X-HubSpot-Signature-v3", expected);
                    break;
                case "v2":
                    assertThat(HubSpotSimulator.signatureV2(secret, method, url, body)).as("v2 vector").isEqualTo(expected);
                    break;
                case "v1":
                    assertThat(HubSpotSimulator.signatureV1(secret, body)).as("v1 vector").isEqualTo(expected);
                    break;
                default:
                    fail("unexpected version " + version);
            }
        }
        assertThat(v3).isGreaterThanOrEqualTo(8);
    }

    @Test
    void signatureV3MatchesAKnownVectorWithoutTheFile() {
        String body = "[{\"eventId\":1,\"subscriptionId\":9,\"portalId\":62515,\"appId\":424242,\"occurredAt\":1764000000000,"
                + "\"subscriptionType\":\"app.uninstall\",\"attemptNumber\":0}]";
        assertThat(HubSpotSimulator.signatureV3(SECRET, "POST", "https://vault.example.com/webhooks/default", body,
                1764000000000L)).isEqualTo("51dFV50sy+KiOn6gTvwWpPgiPHkLpVsgZwbHk09iM7k=");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------------

    private static JsonNode loadSignatureVectors() throws IOException {
        String name = "hubspot-webhook-signatures.json";
        try (InputStream in = HubSpotSimulatorTest.class.getResourceAsStream("/" + name)) {
            if (in != null) {
                return JSON.readTree(in);
            }
        }
        List<Path> candidates = new ArrayList<>();
        String prop = System.getProperty("hubspot.signature.vectors");
        if (prop != null) {
            candidates.add(Path.of(prop));
        }
        candidates.add(Path.of("..", "shared", "testdata", name));
        candidates.add(Path.of("/work/shared/testdata", name));
        for (Path p : candidates) {
            if (Files.isRegularFile(p)) {
                return JSON.readTree(p.toFile());
            }
        }
        return fail("webhook signature vectors not found (classpath /" + name + " or " + candidates + ")");
    }

    private String authorizeUrl(String state) {
        return "/oauth/authorize?client_id=" + enc(CLIENT_ID) + "&redirect_uri=" + enc(REDIRECT) + "&scope=" + enc(SCOPE)
                + "&optional_scope=" + enc(OPTIONAL_SCOPE) + "&state=" + enc(state);
    }

    /** Walks the consent page like a browser: GET the page, submit its form with the chosen action. */
    private Map<String, String> consent(String action, String state) throws Exception {
        HttpResponse<String> page = get(authorizeUrl(state));
        assertThat(page.statusCode()).isEqualTo(200);
        Map<String, String> form = new LinkedHashMap<>(hiddenInputs(page.body()));
        form.put("portal_id", Long.toString(PORTAL));
        form.put("action", action);
        HttpResponse<String> r = postForm("/oauth/authorize", form);
        assertThat(r.statusCode()).isEqualTo(302);
        String location = r.headers().firstValue("Location").orElseThrow();
        assertThat(location).startsWith(REDIRECT + "?");
        return HubSpotSimulator.parseQuery(URI.create(location).getRawQuery()).entrySet().stream()
                .collect(LinkedHashMap::new, (m, e) -> m.put(e.getKey(), e.getValue().get(0)), Map::putAll);
    }

    private static Map<String, String> hiddenInputs(String html) {
        Matcher m = Pattern.compile("<input type=\"hidden\" name=\"([^\"]*)\" value=\"([^\"]*)\">").matcher(html);
        Map<String, String> out = new LinkedHashMap<>();
        while (m.find()) {
            out.put(unescape(m.group(1)), unescape(m.group(2)));
        }
        return out;
    }

    private static String unescape(String s) {
        return s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&");
    }

    private HttpResponse<String> exchange(String version, String code, String redirectUri) throws Exception {
        Map<String, String> form = new LinkedHashMap<>();
        form.put("grant_type", "authorization_code");
        form.put("client_id", CLIENT_ID);
        form.put("client_secret", SECRET);
        form.put("redirect_uri", redirectUri);
        form.put("code", code);
        return postForm("/oauth/" + version + "/token", form);
    }

    private static Map<String, String> refreshForm(String refreshToken) {
        Map<String, String> form = new LinkedHashMap<>();
        form.put("grant_type", "refresh_token");
        form.put("client_id", CLIENT_ID);
        form.put("client_secret", SECRET);
        form.put("refresh_token", refreshToken);
        return form;
    }

    private HttpResponse<String> refresh(String version, String refreshToken) throws Exception {
        return postForm("/oauth/" + version + "/token", refreshForm(refreshToken));
    }

    private HttpResponse<String> introspect(String token, String hint) throws Exception {
        Map<String, String> form = new LinkedHashMap<>();
        form.put("client_id", CLIENT_ID);
        form.put("client_secret", SECRET);
        form.put("token", token);
        form.put("token_type_hint", hint);
        return postForm("/oauth/2026-03/token/introspect", form);
    }

    private static void assertError(HttpResponse<String> r, int httpStatus, String hubspotStatus, String oauthError)
            throws IOException {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(httpStatus);
        JsonNode e = JSON.readTree(r.body());
        assertThat(e.path("status").asText()).as(r.body()).isEqualTo(hubspotStatus);
        assertThat(e.path("error").asText()).as(r.body()).isEqualTo(oauthError);
        assertThat(e.path("message").asText()).isNotEmpty();
        assertThat(e.path("correlationId").asText()).isNotEmpty();
    }

    private static List<String> texts(JsonNode array) {
        List<String> l = new ArrayList<>();
        array.forEach(n -> l.add(n.asText()));
        return l;
    }

    private URI uri(String pathAndQuery) {
        return URI.create(hub.baseUrl() + pathAndQuery);
    }

    private HttpResponse<String> get(String pathAndQuery) throws Exception {
        return send(HttpRequest.newBuilder(uri(pathAndQuery)).GET().build());
    }

    private HttpResponse<String> postForm(String path, Map<String, String> form) throws Exception {
        return send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(HubSpotSimulator.formEncode(form))).build());
    }

    private HttpResponse<String> send(HttpRequest request) throws Exception {
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private static String enc(String s) {
        return java.net.URLEncoder.encode(s, java.nio.charset.StandardCharsets.UTF_8);
    }
}
