package dev.tokenvault.hubspot;

import java.util.List;

import jakarta.enterprise.context.ApplicationScoped;

import dev.tokenvault.config.Apps;
import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.web.ApiException;
import io.smallrye.mutiny.Uni;

/** The client id and secret of a configured public app. */
@ApplicationScoped
public class AppCredentials {

    private final Apps apps;

    AppCredentials(Apps apps) {
        this.apps = apps;
    }

    /** The app's OAuth credentials; 404 when the app is unknown or is not a public (OAuth) app. */
    public Uni<ClientCredentials> require(String app) {
        TokenVaultConfig.App config = apps.require(app);
        if (config.clientId().isEmpty() || config.clientSecret().isEmpty()) {
            return Uni.createFrom().failure(ApiException.notFound("app '" + app
                    + "' has no OAuth client configured (tokenvault.apps." + app + ".client-id / .client-secret)"));
        }
        return Uni.createFrom().item(new ClientCredentials(config.clientId().get(), config.clientSecret().get()));
    }

    /**
     * The secrets a webhook signature may be made with: the current client secret and, during a rotation's grace
     * period, the previous one. 404 when the app has no client secret.
     */
    public Uni<List<String>> webhookSecrets(String app) {
        return require(app).map(c -> List.of(c.clientSecret()));
    }

    /** Whether the app runs OAuth at all. */
    public boolean isOAuthApp(String app) {
        TokenVaultConfig.App config = apps.require(app);
        return config.clientId().isPresent()
                && (config.clientSecret().isPresent() || config.clientSecretVaultPath().isPresent());
    }
}
