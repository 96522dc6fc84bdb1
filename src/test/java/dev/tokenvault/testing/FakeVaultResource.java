package dev.tokenvault.testing;

import java.util.Map;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

/** Starts {@link FakeVault} with a Transit mount and key, and points the service's Vault provider at it. */
public class FakeVaultResource implements QuarkusTestResourceLifecycleManager {

    public static final String TOKEN = "test-root-token";
    public static final String MOUNT = "transit";
    public static final String KEY = "tokenvault";
    public static final String KV_CLIENT_ID = "kv-client-id";
    public static final String KV_PATH = "tokenvault/kvapp";
    public static final String KV_SECRET = "kv-secret-1";
    public static final long KV_APP_ID = 777;
    private static FakeVault vault;

    public static FakeVault vault() {
        return vault;
    }

    @Override
    public Map<String, String> start() {
        vault = FakeVault.start(TOKEN);
        vault.enableTransit(MOUNT).createKey(MOUNT, KEY).enableKv("secret", 2);
        vault.putKv("secret", KV_PATH, Map.of("client-secret", KV_SECRET));
        FakeHubSpotResource.sim().registerApp(new dev.tokenvault.sandbox.HubSpotSimulator.App(KV_CLIENT_ID, KV_SECRET,
                KV_APP_ID, java.util.List.of(FakeHubSpotResource.PUBLIC_BASE_URL + "/oauth/"), java.util.Set.of(),
                java.util.Set.of()));
        return Map.of(
                "tokenvault.crypto.provider", "vault",
                "quarkus.vault.url", vault.url(),
                "quarkus.vault.authentication.client-token", TOKEN,
                "quarkus.vault.read-timeout", "2S",
                "quarkus.vault.connect-timeout", "1S");
    }

    @Override
    public void stop() {
        if (vault != null) {
            vault.close();
        }
    }
}
