package dev.tokenvault.testing;

import java.util.List;
import java.util.Map;

import io.quarkus.test.junit.QuarkusTestProfile;

/** The service with {@code tokenvault.crypto.provider=vault} against {@link FakeVault}, data-key cache off. */
public class VaultProviderProfile implements QuarkusTestProfile {

    @Override
    public Map<String, String> getConfigOverrides() {
        return Map.of("tokenvault.crypto.data-key-cache-size", "0",
                "tokenvault.apps.kvapp.client-id", FakeVaultResource.KV_CLIENT_ID,
                "tokenvault.apps.kvapp.client-secret-vault-path", FakeVaultResource.KV_PATH,
                "tokenvault.apps.kvapp.secret-rotation-grace", "10M");
    }

    @Override
    public List<TestResourceEntry> testResources() {
        return List.of(new TestResourceEntry(FakeVaultResource.class));
    }
}
