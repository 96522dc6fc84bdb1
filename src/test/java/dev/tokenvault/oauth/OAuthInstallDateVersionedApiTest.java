package dev.tokenvault.oauth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;

import dev.tokenvault.connection.ConnectionService;
import dev.tokenvault.crypto.SecretField;
import dev.tokenvault.sandbox.HubSpotSimulator;
import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.InstallFlow;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;

/** The install flow on HubSpot's date-versioned OAuth API ({@code tokenvault.hubspot.oauth-api=2026-03}). */
@QuarkusTest
@TestProfile(OAuthInstallDateVersionedApiTest.DateVersioned.class)
class OAuthInstallDateVersionedApiTest {

    public static class DateVersioned implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tokenvault.hubspot.oauth-api", "2026-03");
        }
    }

    @Inject
    ConnectionService connections;

    @Test
    void installsThroughTheDateVersionedEndpoints() {
        HubSpotSimulator sim = FakeHubSpotResource.sim();
        int codeV1 = sim.count("code", "v1");
        int introspectV1 = sim.count("introspect", "v1");
        int code = sim.count("code", "2026-03");
        int introspect = sim.count("introspect", "2026-03");

        assertThat(InstallFlow.install("default", 6001).statusCode()).isEqualTo(200);

        assertThat(sim.count("code", "2026-03")).isEqualTo(code + 1);
        assertThat(sim.count("introspect", "2026-03")).isEqualTo(introspect + 1);
        assertThat(sim.count("code", "v1")).isEqualTo(codeV1);
        assertThat(sim.count("introspect", "v1")).isEqualTo(introspectV1);
        var c = connections.open("default", 6001).await().indefinitely().orElseThrow();
        assertThat(c.connection().hubDomain()).isEqualTo(sim.portal(6001).orElseThrow().hubDomain());
        assertThat(sim.activeRefreshTokens(6001)).contains(c.secret(SecretField.REFRESH_TOKEN).orElseThrow());
    }

    @Test
    void camelCaseTokenResponsesAreReadToo() {
        HubSpotSimulator sim = FakeHubSpotResource.sim();
        sim.tokenResponseStyle(HubSpotSimulator.TokenResponseStyle.CAMEL_CASE);
        try {
            assertThat(InstallFlow.install("default", 6002).statusCode()).isEqualTo(200);
            assertThat(connections.open("default", 6002).await().indefinitely()).isPresent();
        } finally {
            sim.tokenResponseStyle(HubSpotSimulator.TokenResponseStyle.SNAKE_CASE);
        }
    }
}
