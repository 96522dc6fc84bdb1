package dev.tokenvault.crypto;

import java.time.Duration;

import jakarta.enterprise.context.ApplicationScoped;

import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

import io.smallrye.health.api.AsyncHealthCheck;
import io.smallrye.mutiny.Uni;

/** Ready only when the key-encryption provider answers (Vault reachable, unsealed, key present). */
@Readiness
@ApplicationScoped
class KeyServiceHealthCheck implements AsyncHealthCheck {

    private final KeyEncryptionProvider provider;

    KeyServiceHealthCheck(KeyEncryptionProvider provider) {
        this.provider = provider;
    }

    @Override
    public Uni<HealthCheckResponse> call() {
        return provider.currentKeyVersion()
                .ifNoItem().after(Duration.ofSeconds(3)).failWith(() -> new KeyServiceUnavailableException("timeout", null))
                .map(version -> HealthCheckResponse.named("key-service").up()
                        .withData("provider", provider.name()).withData("keyVersion", version).build())
                .onFailure().recoverWithItem(e -> HealthCheckResponse.named("key-service").down()
                        .withData("provider", provider.name())
                        .withData("error", e instanceof KeyServiceUnavailableException ? e.getMessage()
                                : e.getClass().getSimpleName())
                        .build());
    }
}
