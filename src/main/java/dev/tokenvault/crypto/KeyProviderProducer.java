package dev.tokenvault.crypto;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

import org.jboss.logging.Logger;

import dev.tokenvault.config.TokenVaultConfig;
import io.quarkus.runtime.LaunchMode;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.vault.VaultTransitSecretReactiveEngine;

/** Produces the one key-encryption provider named by {@code tokenvault.crypto.provider}, and checks it at start-up. */
@ApplicationScoped
class KeyProviderProducer {

    private static final Logger LOG = Logger.getLogger(KeyProviderProducer.class);

    @Produces
    @Singleton
    KeyEncryptionProvider provider(TokenVaultConfig config, Instance<VaultTransitSecretReactiveEngine> transit) {
        TokenVaultConfig.Crypto crypto = config.crypto();
        return switch (crypto.provider()) {
            case LOCAL -> {
                boolean devOrTest = LaunchMode.current().isDevOrTest();
                yield new LocalKeyProvider(crypto.local().keyFile(), crypto.local().previousKeyFile(), devOrTest,
                        !devOrTest);
            }
            case VAULT -> {
                if (!transit.isResolvable()) {
                    throw new IllegalStateException(
                            "tokenvault.crypto.provider=vault needs the Vault client: set quarkus.vault.url");
                }
                yield new VaultTransitKeyProvider(transit.get(), crypto.vault().keyName());
            }
        };
    }

    /** Fails start-up early, with a message naming the key, when the provider cannot be built. */
    void onStart(@Observes StartupEvent event, KeyEncryptionProvider provider) {
        LOG.infof("Key-encryption provider: %s", provider.name());
    }
}
