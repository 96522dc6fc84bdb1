package dev.tokenvault.config;

import java.util.Map;
import java.util.regex.Pattern;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import dev.tokenvault.web.ApiException;
import io.quarkus.runtime.StartupEvent;

/** The configured HubSpot apps ({@code tokenvault.apps.<name>}), looked up by name. */
@ApplicationScoped
public class Apps {

    private static final Pattern NAME = Pattern.compile("[a-z0-9-]{1,40}");

    /**
     * Whether {@code name} has the shape of a configured name ({@code [a-z0-9-]{1,40}}: apps, caller issuers and
     * policies).
     */
    public static boolean isName(String name) {
        return name != null && NAME.matcher(name).matches();
    }

    private final Map<String, TokenVaultConfig.App> apps;

    Apps(TokenVaultConfig config) {
        this.apps = config.apps();
    }

    void validate(@Observes StartupEvent event) {
        apps.keySet().forEach(name -> {
            if (!NAME.matcher(name).matches()) {
                throw new IllegalStateException("tokenvault.apps." + name + ": an app name must match [a-z0-9-]{1,40}");
            }
        });
    }

    /** The app, or 404 (400 when the name cannot be an app name). */
    public TokenVaultConfig.App require(String name) {
        TokenVaultConfig.App known = name == null ? null : apps.get(name);
        if (known != null) {
            return known; // configured names were validated at start-up: no pattern match on the hot path
        }
        if (name == null || !NAME.matcher(name).matches()) {
            throw ApiException.badRequest("app must match [a-z0-9-]{1,40}");
        }
        TokenVaultConfig.App app = apps.get(name);
        if (app == null) {
            throw ApiException.notFound("no app named '" + name + "' is configured");
        }
        return app;
    }

    public Map<String, TokenVaultConfig.App> all() {
        return apps;
    }
}
