package dev.tokenvault.testing;

import java.util.Map;

import io.quarkus.test.junit.QuarkusTestProfile;

/**
 * The service as dev mode runs it: the built-in HubSpot sandbox under {@code /sandbox/hubspot} on the service's own
 * port, dev-only pages and caller tokens (signed with the test key pair).
 */
public class SandboxProfile implements QuarkusTestProfile {

    public static final String BASE = "http://localhost:8081";

    @Override
    public Map<String, String> getConfigOverrides() {
        return Map.of(
                "tokenvault.sandbox.enabled", "true",
                "tokenvault.hubspot.api-base-url", BASE + "/sandbox/hubspot",
                "tokenvault.hubspot.authorize-url", BASE + "/sandbox/hubspot/oauth/authorize",
                "smallrye.jwt.sign.key.location", Jwts.PRIVATE_KEY,
                "smallrye.jwt.new-token.issuer", Jwts.ISSUER);
    }

    @Override
    public String getConfigProfile() {
        return "test";
    }
}
