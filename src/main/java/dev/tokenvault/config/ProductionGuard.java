package dev.tokenvault.config;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import io.quarkus.runtime.LaunchMode;
import io.quarkus.runtime.StartupEvent;

/** Refuses to start a production process with settings meant for a laptop. */
@ApplicationScoped
class ProductionGuard {

    void check(@Observes StartupEvent event, TokenVaultConfig config) {
        if (LaunchMode.current() == LaunchMode.NORMAL && config.sandbox().enabled()) {
            throw new IllegalStateException("tokenvault.sandbox.enabled=true is refused in production: the HubSpot "
                    + "sandbox and dev-only routes are for dev mode only");
        }
    }
}
