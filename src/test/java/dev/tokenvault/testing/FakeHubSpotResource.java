package dev.tokenvault.testing;

import java.util.List;
import java.util.Map;
import java.util.Set;

import dev.tokenvault.sandbox.HubSpotSimulator;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

/**
 * Starts the HubSpot simulator on its own port ({@link FakeHubSpot}) and points {@code tokenvault.hubspot.*} at it.
 * The test apps {@code default} and {@code strict} share one HubSpot app (client id {@value #CLIENT_ID}, app id
 * {@value #APP_ID}).
 */
public class FakeHubSpotResource implements QuarkusTestResourceLifecycleManager {

    public static final String CLIENT_ID = "test-client-id";
    public static final String CLIENT_SECRET = "test-client-secret-value";
    public static final long APP_ID = 424242;
    public static final String PUBLIC_BASE_URL = "http://localhost:8081";
    private static FakeHubSpot hubspot;

    public static FakeHubSpot hubspot() {
        return hubspot;
    }

    public static HubSpotSimulator sim() {
        return hubspot.sim();
    }

    @Override
    public Map<String, String> start() {
        if (hubspot == null) {
            hubspot = FakeHubSpot.start();
            hubspot.sim().registerApp(new HubSpotSimulator.App(CLIENT_ID, CLIENT_SECRET, APP_ID,
                    List.of(PUBLIC_BASE_URL + "/oauth/"), Set.of(), Set.of()));
        }
        return Map.of(
                "tokenvault.hubspot.api-base-url", hubspot.baseUrl(),
                "tokenvault.hubspot.authorize-url", hubspot.baseUrl() + "/oauth/authorize",
                "tokenvault.hubspot.timeout", "2S",
                "tokenvault.public-base-url", PUBLIC_BASE_URL);
    }

    @Override
    public void stop() {
        // shared by every application start in this JVM
    }
}
