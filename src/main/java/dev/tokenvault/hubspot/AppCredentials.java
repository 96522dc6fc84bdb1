package dev.tokenvault.hubspot;

import java.time.Instant;
import java.time.InstantSource;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;

import org.jboss.logging.Logger;

import dev.tokenvault.config.Apps;
import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.crypto.KeyServiceUnavailableException;
import dev.tokenvault.web.ApiException;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.vault.VaultKVSecretReactiveEngine;
import io.smallrye.mutiny.Uni;

/**
 * The client id and secret of each configured public app. The secret comes from configuration, or from Vault KV v2
 * ({@code client-secret-vault-path}), cached for {@code client-secret-vault-ttl} and re-read at once after HubSpot
 * answered {@code BAD_CLIENT_ID}. During a rotation the previous secret stays valid for webhook signatures for a grace
 * period (configured, or {@code secret-rotation-grace} after Vault's value changed).
 */
@ApplicationScoped
public class AppCredentials {

    private static final Logger LOG = Logger.getLogger(AppCredentials.class);
    static final String KV_KEY = "client-secret";
    static final String KV_PREVIOUS_KEY = "previous-client-secret";
    static final java.time.Duration REREAD_AFTER = java.time.Duration.ofSeconds(30);

    private final Apps apps;
    private final Instance<VaultKVSecretReactiveEngine> kv;
    private final InstantSource clock;
    private final Map<String, VaultSecret> fromVault = new ConcurrentHashMap<>();

    /** A secret read from Vault, and the one it replaced with the end of that one's grace period. */
    private record VaultSecret(String current, String previous, Instant previousUntil, Instant readAt) {
        @Override
        public String toString() {
            return "VaultSecret[readAt=" + readAt + "]";
        }
    }

    AppCredentials(Apps apps, Instance<VaultKVSecretReactiveEngine> kv, InstantSource clock) {
        this.apps = apps;
        this.kv = kv;
        this.clock = clock;
    }

    void validate(@Observes StartupEvent event) {
        apps.all().forEach((name, app) -> {
            app.previousClientSecretValidUntil().ifPresent(v -> validUntil(name, v));
            if (app.clientSecretVaultPath().isPresent() && !kv.isResolvable()) {
                throw new IllegalStateException("tokenvault.apps." + name
                        + ".client-secret-vault-path needs the Vault client: set quarkus.vault.url");
            }
        });
    }

    /** The app's OAuth credentials; 404 when the app is unknown or is not a public (OAuth) app. */
    public Uni<ClientCredentials> require(String app) {
        TokenVaultConfig.App config = apps.require(app);
        if (config.clientId().isEmpty() || (config.clientSecret().isEmpty() && config.clientSecretVaultPath().isEmpty())) {
            return Uni.createFrom().failure(ApiException.notFound("app '" + app
                    + "' has no OAuth client configured (tokenvault.apps." + app + ".client-id / .client-secret)"));
        }
        if (config.clientSecret().isPresent()) {
            return Uni.createFrom().item(new ClientCredentials(config.clientId().get(), config.clientSecret().get()));
        }
        return vaultSecret(app, config).map(s -> new ClientCredentials(config.clientId().get(), s.current()));
    }

    /**
     * The secrets a webhook signature may be made with: the current client secret and, during a rotation's grace
     * period, the previous one. 404 when the app has no client secret.
     */
    public Uni<List<String>> webhookSecrets(String app) {
        TokenVaultConfig.App config = apps.require(app);
        return require(app).chain(current -> {
            List<String> secrets = new ArrayList<>(List.of(current.clientSecret()));
            Instant now = clock.instant();
            config.previousClientSecret().ifPresent(previous -> {
                Instant until = config.previousClientSecretValidUntil().map(v -> validUntil(app, v)).orElse(Instant.MAX);
                if (now.isBefore(until)) {
                    secrets.add(previous);
                }
            });
            VaultSecret v = fromVault.get(app);
            if (v != null && v.previous() != null && now.isBefore(v.previousUntil())) {
                secrets.add(v.previous());
            }
            return Uni.createFrom().item(secrets);
        });
    }

    /** HubSpot rejected the client credentials ({@code BAD_CLIENT_ID}): read the secret again on next use. */
    public void rejected(String app) {
        forget(app, false);
    }

    /**
     * A webhook signature did not match: read the secret again on next use, at most every 30 seconds, so that
     * forged requests cannot turn into a stream of Vault reads.
     */
    public void signatureMismatch(String app) {
        forget(app, true);
    }

    private void forget(String app, boolean rateLimited) {
        VaultSecret v = fromVault.get(app);
        if (v != null && (!rateLimited || v.readAt().plus(REREAD_AFTER).isBefore(clock.instant()))) {
            fromVault.put(app, new VaultSecret(v.current(), v.previous(), v.previousUntil(), Instant.EPOCH));
            LOG.infof("the client secret of app %s will be read from Vault again", app);
        }
    }

    /** Whether the app's secret comes from Vault (and so may have changed since it was read). */
    public boolean fromVault(String app) {
        TokenVaultConfig.App config = apps.require(app);
        return config.clientSecret().isEmpty() && config.clientSecretVaultPath().isPresent();
    }

    private Uni<VaultSecret> vaultSecret(String app, TokenVaultConfig.App config) {
        Instant now = clock.instant();
        VaultSecret cached = fromVault.get(app);
        if (cached != null && cached.readAt().plus(config.clientSecretVaultTtl()).isAfter(now)) {
            return Uni.createFrom().item(cached);
        }
        String path = config.clientSecretVaultPath().get();
        return kv.get().readSecret(path)
                .map(data -> {
                    String secret = data == null ? null : data.get(KV_KEY);
                    if (secret == null || secret.isBlank()) {
                        throw new KeyServiceUnavailableException("Vault KV path " + path + " has no '" + KV_KEY
                                + "' (tokenvault.apps." + app + ".client-secret-vault-path)", null);
                    }
                    VaultSecret previous = fromVault.get(app);
                    String kvPrevious = data.get(KV_PREVIOUS_KEY);
                    VaultSecret next;
                    if (previous != null && !previous.current().equals(secret)) {
                        LOG.infof("client secret of app %s changed in Vault; the previous one is accepted for webhook "
                                + "signatures for %s", app, config.secretRotationGrace());
                        next = new VaultSecret(secret, previous.current(), now.plus(config.secretRotationGrace()), now);
                    } else if (kvPrevious != null && !kvPrevious.isBlank()) {
                        next = new VaultSecret(secret, kvPrevious, now.plus(config.secretRotationGrace()), now);
                    } else {
                        next = new VaultSecret(secret, previous == null ? null : previous.previous(),
                                previous == null ? Instant.EPOCH : previous.previousUntil(), now);
                    }
                    fromVault.put(app, next);
                    return next;
                })
                .onFailure(e -> !(e instanceof KeyServiceUnavailableException))
                .transform(e -> new KeyServiceUnavailableException("cannot read the client secret of app " + app
                        + " from Vault (" + e.getClass().getSimpleName() + ")", null))
                .onFailure().recoverWithUni(e -> {
                    if (cached == null) {
                        return Uni.createFrom().failure(e);
                    }
                    // Vault unreachable: keep using the secret we have, and try Vault again in 30 seconds
                    LOG.warnf("%s; keeping the client secret read at %s", e.getMessage(), cached.readAt());
                    VaultSecret kept = new VaultSecret(cached.current(), cached.previous(), cached.previousUntil(),
                            now.minus(config.clientSecretVaultTtl()).plus(REREAD_AFTER));
                    fromVault.put(app, kept);
                    return Uni.createFrom().item(kept);
                });
    }

    private static Instant validUntil(String app, String value) {
        try {
            return Instant.parse(value.trim());
        } catch (DateTimeParseException e) {
            throw new IllegalStateException("tokenvault.apps." + app + ".previous-client-secret-valid-until must be an "
                    + "ISO-8601 instant such as 2026-12-01T00:00:00Z");
        }
    }
}
