package dev.tokenvault.testing;

import java.util.Map;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

/** Starts {@link FakeVault} with a Transit mount and key, and points the service's Vault provider at it. */
public class FakeVaultResource implements QuarkusTestResourceLifecycleManager {

    public static final String TOKEN = "test-root-token";
    public static final String MOUNT = "transit";
    public static final String KEY = "tokenvault";
    private static FakeVault vault;

    public static FakeVault vault() {
        return vault;
    }

    @Override
    public Map<String, String> start() {
        vault = FakeVault.start(TOKEN);
        vault.enableTransit(MOUNT).createKey(MOUNT, KEY).enableKv("secret", 2);
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
