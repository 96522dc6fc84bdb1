package dev.tokenvault.callers;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import jakarta.inject.Inject;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.FakeIssuers;
import dev.tokenvault.testing.Jwts;
import dev.tokenvault.testing.LogCapture;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import io.smallrye.jwt.build.Jwt;

/**
 * Three issuers at once: the default one ({@code mp.jwt.verify.*}), a corporate identity provider trusted with its
 * {@code groups}/{@code portals} claims, and a Kubernetes cluster whose service-account tokens get their grants from
 * policies only. Every token here is real (signed with RSA keys whose public halves are served as JWKS over HTTP).
 */
@QuarkusTest
@TestProfile(CallerIssuersTest.Issuers.class)
class CallerIssuersTest {

    public static class Issuers implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.ofEntries(
                    Map.entry("tokenvault.callers.policies.crm-readers.issuer", "cluster"),
                    Map.entry("tokenvault.callers.policies.crm-readers.subject", "system:serviceaccount:crm:*"),
                    Map.entry("tokenvault.callers.policies.crm-readers.actions", "tokens.read,hubspot.proxy"),
                    Map.entry("tokenvault.callers.policies.crm-readers.apps", "default"),
                    Map.entry("tokenvault.callers.policies.crm-readers.portals", "3001"),
                    Map.entry("tokenvault.callers.policies.billing-admin.issuer", "cluster"),
                    Map.entry("tokenvault.callers.policies.billing-admin.subject", "system:serviceaccount:billing:api"),
                    Map.entry("tokenvault.callers.policies.billing-admin.claims.\"kubernetes.io/namespace\"", "billing"),
                    Map.entry("tokenvault.callers.policies.billing-admin.actions", "tokens.admin"),
                    Map.entry("tokenvault.callers.policies.billing-admin.apps", "*"),
                    Map.entry("tokenvault.callers.policies.billing-admin.portals", "*"),
                    Map.entry("tokenvault.callers.policies.ops-refresh.issuer", "corp"),
                    Map.entry("tokenvault.callers.policies.ops-refresh.claims.department", "ops"),
                    Map.entry("tokenvault.callers.policies.ops-refresh.actions", "tokens.refresh"),
                    Map.entry("tokenvault.callers.policies.ops-refresh.apps", "default"),
                    Map.entry("tokenvault.callers.policies.ops-refresh.portals", "3001,3002"));
        }

        @Override
        public List<TestResourceEntry> testResources() {
            return List.of(new TestResourceEntry(FakeIssuers.class));
        }
    }

    static final long PORTAL = 3001;
    static final long OTHER = 3002;
    static final String STATIC_TOKEN = "pat-na1-" + UUID.randomUUID();

    @Inject
    AuditLog audit;

    static boolean stored;

    @BeforeEach
    void storeAToken() {
        if (stored) {
            return;
        }
        stored = true;
        String other = "pat-na1-" + UUID.randomUUID();
        FakeHubSpotResource.sim().registerPrivateAppToken(PORTAL, STATIC_TOKEN).registerPrivateAppToken(OTHER, other);
        for (long portal : new long[] { PORTAL, OTHER }) {
            given().auth().oauth2(Jwts.admin()).contentType(ContentType.JSON)
                    .body("{\"token\":\"" + (portal == PORTAL ? STATIC_TOKEN : other) + "\"}")
                    .put("/v1/apps/default/portals/" + portal + "/private-app-token").then().statusCode(200);
        }
    }

    static String token(long portal) {
        return "/v1/apps/default/portals/" + portal + "/token";
    }

    @Test
    void aServiceAccountOfAMatchingPolicyGetsTheTokenAndCallsTheProxy() {
        String sa = FakeIssuers.serviceAccountToken("crm", "sync-worker");
        given().auth().oauth2(sa).get(token(PORTAL)).then().statusCode(200).body("accessToken", equalTo(STATIC_TOKEN));
        given().auth().oauth2(sa).get("/v1/apps/default/portals/" + PORTAL + "/hubspot/crm/v3/objects/contacts")
                .then().statusCode(200);
        // the cluster's JWKS was fetched with the pod's own token, as the API server wants
        assertThat(FakeIssuers.CLUSTER_BEARERS).contains("Bearer " + FakeIssuers.POD_TOKEN);
    }

    @Test
    void whoamiShowsTheIssuerAndWhereEachGrantComesFrom() {
        JsonPath sa = given().auth().oauth2(FakeIssuers.serviceAccountToken("crm", "sync-worker")).get("/v1/whoami")
                .then().statusCode(200).extract().jsonPath();
        assertThat(sa.getString("sub")).isEqualTo("system:serviceaccount:crm:sync-worker");
        assertThat(sa.getString("issuer")).isEqualTo("cluster");
        assertThat(sa.getList("groups")).isEmpty();
        assertThat(sa.getList("grants")).hasSize(1);
        assertThat(sa.getList("grants.actions[0]")).containsExactly("hubspot.proxy", "tokens.read");
        assertThat(sa.getList("grants.apps[0]")).containsExactly("default");
        assertThat(sa.getList("grants.portals[0]")).containsExactly("3001");
        assertThat(sa.getString("grants.source[0]")).isEqualTo("policy:crm-readers");

        // a corporate token: its claims (trusted for this issuer) and a policy on another claim, side by side
        String corp = FakeIssuers.sign(FakeIssuers.corp("alice@corp.test").groups(Set.of("tokens.read"))
                .claim("portals", List.of("3002")).claim("department", "ops"), FakeIssuers.CORP, "corp-1");
        JsonPath c = given().auth().oauth2(corp).get("/v1/whoami").then().statusCode(200).extract().jsonPath();
        assertThat(c.getString("issuer")).isEqualTo("corp");
        assertThat(c.getList("grants.source")).containsExactly("claims", "policy:ops-refresh");
        assertThat(c.getList("portals")).containsExactly("3002");

        // the default issuer is unchanged
        JsonPath d = given().auth().oauth2(Jwts.reader("3001")).get("/v1/whoami").then().statusCode(200).extract()
                .jsonPath();
        assertThat(d.getString("issuer")).isEqualTo("default");
        assertThat(d.getList("grants.source")).containsExactly("claims");
    }

    @Test
    void whatNoPolicyGrantsIsRefusedAndTheRefusalIsAuditedWithTheDecision() {
        String sa = FakeIssuers.serviceAccountToken("crm", "sync-worker");
        // another portal than the policy's
        given().auth().oauth2(sa).get(token(OTHER)).then().statusCode(403).contentType("application/problem+json")
                .body("detail", containsString("policy:crm-readers"));
        // another action (admin) than the policy's
        given().auth().oauth2(sa).get("/v1/apps/default/portals/" + PORTAL).then().statusCode(403);
        // another app than the policy's
        given().auth().oauth2(sa).get("/v1/apps/ops/portals/" + PORTAL + "/token").then().statusCode(403);
        // a namespace that only starts like the glob's ("crm:*" is not "crm*")
        String crmx = FakeIssuers.serviceAccountToken("crmx", "sync-worker");
        given().auth().oauth2(crmx).get(token(PORTAL)).then().statusCode(403)
                .body("detail", containsString("matches no policy"));
        audit.flush().await().indefinitely();
        Response records = given().auth().oauth2(Jwts.admin()).queryParam("sub", "system:serviceaccount:crmx:sync-worker")
                .get("/v1/admin/audit");
        records.then().statusCode(200).body("items.outcome", hasItem("forbidden"))
                .body("items.detail", hasItem(containsString("issuer cluster: the token matches no policy")));
    }

    @Test
    void aPolicyOnAClaimAndAnExactSubject() {
        // billing:api with its namespace claim: admin of everything
        given().auth().oauth2(FakeIssuers.serviceAccountToken("billing", "api")).get("/v1/admin/rewrap").then()
                .statusCode(200);
        given().auth().oauth2(FakeIssuers.serviceAccountToken("billing", "api")).get("/v1/apps/default/portals")
                .then().statusCode(200).body("items.portalId", hasItem((int) PORTAL));
        // the exact subject is exact
        given().auth().oauth2(FakeIssuers.serviceAccountToken("billing", "api2")).get("/v1/admin/rewrap").then()
                .statusCode(403);
        // tokens.refresh without tokens.read: a forced refresh is allowed, the answer has no token
        String ops = FakeIssuers.sign(FakeIssuers.corp("bob@corp.test").claim("department", "ops"), FakeIssuers.CORP,
                "corp-1");
        given().auth().oauth2(ops).get(token(PORTAL)).then().statusCode(403);
        Response refreshed = given().auth().oauth2(ops).post(token(PORTAL) + "/refresh");
        // a private-app token cannot be refreshed (409), which still shows the action was allowed, not refused
        assertThat(refreshed.statusCode()).isEqualTo(409);
        assertThat(refreshed.asString()).doesNotContain(STATIC_TOKEN);
        given().auth().oauth2(FakeIssuers.sign(FakeIssuers.corp("eve@corp.test").claim("department", "sales"),
                FakeIssuers.CORP, "corp-1")).post(token(PORTAL) + "/refresh").then().statusCode(403);
    }

    @Test
    void claimsOfAnIssuerNotTrustedWithThemGrantNothing() {
        String sa = FakeIssuers.sign(FakeIssuers.serviceAccount("tools", "debug", "tokenvault")
                .groups(Set.of("tokens.admin", "tokens.read")).claim("portals", List.of("*")), FakeIssuers.CLUSTER,
                "cluster-1");
        given().auth().oauth2(sa).get(token(PORTAL)).then().statusCode(403);
        given().auth().oauth2(sa).get("/v1/whoami").then().statusCode(200).body("groups", equalTo(List.of()))
                .body("grants", equalTo(List.of()));
    }

    @Test
    void tokensThatAreNotValidForTheirIssuerAre401() {
        String path = token(PORTAL);
        // the API server's audience, not ours (every pod's default token carries it)
        given().auth().oauth2(FakeIssuers.sign(FakeIssuers.serviceAccount("crm", "w", "https://kubernetes.default.svc"),
                FakeIssuers.CLUSTER, "cluster-1")).get(path).then().statusCode(401).contentType("application/problem+json");
        // claiming the cluster as issuer, signed with the corporate key (its kid is not in the cluster's set)
        given().auth().oauth2(FakeIssuers.sign(FakeIssuers.serviceAccount("crm", "w", "tokenvault"), FakeIssuers.CORP,
                "corp-1")).get(path).then().statusCode(401);
        // the cluster's kid on a token signed by another key
        FakeIssuers.CORP.add("impostor", false);
        given().auth().oauth2(FakeIssuers.serviceAccount("crm", "w", "tokenvault").jws().keyId("cluster-1")
                .sign(FakeIssuers.CORP.privateKey("impostor"))).get(path).then().statusCode(401);
        // expired (beyond the leeway)
        given().auth().oauth2(FakeIssuers.sign(FakeIssuers.serviceAccount("crm", "w", "tokenvault")
                .issuedAt(Instant.now().minusSeconds(7200)).expiresAt(Instant.now().minusSeconds(3600)),
                FakeIssuers.CLUSTER, "cluster-1")).get(path).then().statusCode(401);
        // an issuer nobody trusts, with a key nobody knows: verified as the default issuer's, and refused
        FakeIssuers.CORP.add("rogue", false);
        given().auth().oauth2(Jwt.issuer("https://rogue.test").subject("x").groups(Set.of("tokens.read"))
                .claim("portals", List.of("*")).expiresAt(Instant.now().plusSeconds(600)).jws().keyId("rogue")
                .sign(FakeIssuers.CORP.privateKey("rogue"))).get(path).then().statusCode(401);
        // a service-account subject whose kubernetes.io claim names another namespace
        given().auth().oauth2(FakeIssuers.sign(FakeIssuers.serviceAccount("crm", "w", "tokenvault")
                .subject("system:serviceaccount:billing:api"), FakeIssuers.CLUSTER, "cluster-1")).get(path).then()
                .statusCode(401);
        // a corporate token without our audience
        given().auth().oauth2(FakeIssuers.sign(FakeIssuers.corp("a").audience(Set.of("other")).groups(Set.of(
                "tokens.read")).claim("portals", List.of("*")), FakeIssuers.CORP, "corp-1")).get(path).then()
                .statusCode(401);
        // the proxy route decides the same way
        given().auth().oauth2(FakeIssuers.sign(FakeIssuers.serviceAccount("crm", "w", "kube"), FakeIssuers.CLUSTER,
                "cluster-1")).get("/v1/apps/default/portals/" + PORTAL + "/hubspot/crm/v3/objects/contacts").then()
                .statusCode(401).contentType("application/problem+json");
    }

    @Test
    void aRotatedKeyIsFetchedOnFirstSightAndUnknownKidsCannotHammerTheJwks() {
        FakeIssuers.CLUSTER.add("cluster-2", false);
        String rotated = FakeIssuers.sign(FakeIssuers.serviceAccount("crm", "rotated", "tokenvault"),
                FakeIssuers.CLUSTER, "cluster-2");
        given().auth().oauth2(rotated).get(token(PORTAL)).then().statusCode(401); // not published yet
        FakeIssuers.CLUSTER.publish("cluster-2");
        // the next fetch (at most one per jwks-min-refresh-interval) finds it
        Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(300))
                .until(() -> given().auth().oauth2(rotated).get(token(PORTAL)).statusCode() == 200);

        // tokens naming kids that do not exist: fetches stay within the rate limit (1 s in this profile)
        int before = FakeIssuers.CLUSTER.fetches.get();
        long started = System.nanoTime();
        for (int i = 0; i < 40; i++) {
            String bogus = FakeIssuers.serviceAccount("crm", "w" + i, "tokenvault").jws().keyId("nope-" + i)
                    .sign(FakeIssuers.CLUSTER.privateKey("cluster-1"));
            given().auth().oauth2(bogus).get(token(PORTAL)).then().statusCode(401);
        }
        long seconds = Duration.ofNanos(System.nanoTime() - started).toSeconds();
        assertThat(FakeIssuers.CLUSTER.fetches.get() - before).isLessThanOrEqualTo((int) seconds + 2);
    }

    @Test
    void anUnreachableJwksKeepsTheLastGoodKeysAndSaysSoOnce() throws Exception {
        try (LogCapture log = LogCapture.install()) {
            FakeIssuers.CLUSTER.failWith = 503;
            int before = FakeIssuers.CLUSTER.fetches.get();
            // new tokens (not remembered) keep being verified with the keys fetched before the outage, while the
            // refresh (every 2 s in this profile) keeps failing
            Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(500)).until(() -> {
                String fresh = FakeIssuers.serviceAccountToken("crm", "w-" + UUID.randomUUID());
                given().auth().oauth2(fresh).get(token(PORTAL)).then().statusCode(200);
                return FakeIssuers.CLUSTER.fetches.get() >= before + 2;
            });
            assertThat(log.lines().stream().filter(l -> l.contains("caller keys of issuer cluster could not be fetched"))
                    .count()).isEqualTo(1);
            assertThat(log.all()).doesNotContain(FakeIssuers.POD_TOKEN);
        } finally {
            FakeIssuers.CLUSTER.failWith = 0;
        }
    }

    @Test
    void noTokenReachesTheLogOrTheProblem() {
        try (LogCapture log = LogCapture.install()) {
            String bad = FakeIssuers.sign(FakeIssuers.serviceAccount("crm", "w", "other-audience"), FakeIssuers.CLUSTER,
                    "cluster-1");
            String body = given().auth().oauth2(bad).get(token(PORTAL)).then().statusCode(401).extract().asString();
            assertThat(body).doesNotContain(bad).doesNotContain(bad.split("\\.")[1]);
            assertThat(log.all()).doesNotContain(bad.split("\\.")[1]).doesNotContain(bad.split("\\.")[2]);
            given().auth().oauth2(FakeIssuers.serviceAccountToken("crm", "w")).get(token(OTHER)).then()
                    .statusCode(403).body(not(containsString("eyJ")));
        }
    }
}
