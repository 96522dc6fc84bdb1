package dev.tokenvault.connection;

import java.util.Optional;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;
import jakarta.enterprise.event.Observes;

import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.ConfigProvider;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.vertx.core.net.JksOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.net.PfxOptions;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.pgclient.pubsub.PgSubscriber;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.SslMode;

/**
 * Listens on PostgreSQL for connection changes made by any replica and fires {@link ConnectionChanged} locally, so
 * in-memory caches drop what another replica erased or replaced.
 */
@ApplicationScoped
class ConnectionChangeListener {

    private static final Logger LOG = Logger.getLogger(ConnectionChangeListener.class);

    private final Vertx vertx;
    private final Event<ConnectionChanged> events;
    private final Optional<String> url;
    private final Optional<String> username;
    private final Optional<String> password;
    private PgSubscriber subscriber;

    ConnectionChangeListener(Vertx vertx, Event<ConnectionChanged> events,
            @ConfigProperty(name = "quarkus.datasource.reactive.url") Optional<String> url,
            @ConfigProperty(name = "quarkus.datasource.username") Optional<String> username,
            @ConfigProperty(name = "quarkus.datasource.password") Optional<String> password) {
        this.vertx = vertx;
        this.events = events;
        this.url = url;
        this.username = username;
        this.password = password;
    }

    void start(@Observes StartupEvent event) {
        if (url.isEmpty()) {
            LOG.warn("no reactive datasource URL: cross-replica cache invalidation is off");
            return;
        }
        PgConnectOptions options = listenOptions(url.get(), username, password, ConfigProvider.getConfig());
        subscriber = PgSubscriber.subscriber(vertx, options)
                .reconnectPolicy(retries -> retries < 1_000_000 ? 1000L : -1L);
        subscriber.channel(ConnectionRepository.CHANNEL).handler(this::onNotification)
                .subscribeHandler(() -> events.fire(ConnectionChanged.everything()));
        subscriber.connect().subscribe().with(
                ignored -> LOG.debug("listening for connection changes"),
                e -> LOG.warnf("cannot listen for connection changes yet (%s); retrying",
                        e.getClass().getSimpleName()));
    }

    /**
     * The LISTEN connection's options: the reactive datasource's URL and credentials, and its TLS settings, so that
     * it connects the way the pool does ({@code quarkus.datasource.reactive.postgresql.ssl-mode},
     * {@code .trust-all}, {@code .trust-certificate-pem|jks|pfx}, {@code .hostname-verification-algorithm}). A
     * {@code sslmode} in the URL also applies. The TLS registry ({@code tls-configuration-name}) is not read.
     */
    static PgConnectOptions listenOptions(String url, Optional<String> username, Optional<String> password,
            Config config) {
        PgConnectOptions options = PgConnectOptions.fromUri(url.replaceFirst("^vertx-reactive:", ""));
        username.ifPresent(options::setUser);
        password.ifPresent(options::setPassword);
        String p = "quarkus.datasource.reactive.";
        config.getOptionalValue(p + "postgresql.ssl-mode", String.class)
                .ifPresent(mode -> options.setSslMode(SslMode.of(mode.toLowerCase(java.util.Locale.ROOT).replace('_', '-'))));
        config.getOptionalValue(p + "trust-all", Boolean.class).ifPresent(options::setTrustAll);
        if (config.getOptionalValue(p + "trust-certificate-pem.enabled", Boolean.class).orElse(false)) {
            PemTrustOptions pem = new PemTrustOptions();
            config.getOptionalValues(p + "trust-certificate-pem.certs", String.class)
                    .ifPresent(certs -> certs.forEach(pem::addCertPath));
            options.setPemTrustOptions(pem);
        }
        if (config.getOptionalValue(p + "trust-certificate-jks.enabled", Boolean.class).orElse(false)) {
            JksOptions jks = new JksOptions();
            config.getOptionalValue(p + "trust-certificate-jks.path", String.class).ifPresent(jks::setPath);
            config.getOptionalValue(p + "trust-certificate-jks.password", String.class).ifPresent(jks::setPassword);
            options.setTrustStoreOptions(jks);
        }
        if (config.getOptionalValue(p + "trust-certificate-pfx.enabled", Boolean.class).orElse(false)) {
            PfxOptions pfx = new PfxOptions();
            config.getOptionalValue(p + "trust-certificate-pfx.path", String.class).ifPresent(pfx::setPath);
            config.getOptionalValue(p + "trust-certificate-pfx.password", String.class).ifPresent(pfx::setPassword);
            options.setPfxTrustOptions(pfx);
        }
        config.getOptionalValue(p + "hostname-verification-algorithm", String.class)
                .filter(algorithm -> !"NONE".equalsIgnoreCase(algorithm))
                .ifPresent(options::setHostnameVerificationAlgorithm);
        return options;
    }

    private void onNotification(String payload) {
        int slash = payload.lastIndexOf('/');
        if (slash <= 0) {
            return;
        }
        try {
            events.fire(new ConnectionChanged(payload.substring(0, slash),
                    Long.parseLong(payload.substring(slash + 1))));
        } catch (NumberFormatException e) {
            LOG.debugf("ignoring malformed notification %s", payload);
        }
    }

    void stop(@Observes ShutdownEvent event) {
        if (subscriber != null) {
            subscriber.closeAndForget();
        }
    }
}
