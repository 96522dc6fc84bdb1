package dev.tokenvault.connection;

import java.util.Optional;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;
import jakarta.enterprise.event.Observes;

import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.pgclient.pubsub.PgSubscriber;
import io.vertx.pgclient.PgConnectOptions;

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
        PgConnectOptions options = PgConnectOptions.fromUri(url.get().replaceFirst("^vertx-reactive:", ""));
        username.ifPresent(options::setUser);
        password.ifPresent(options::setPassword);
        subscriber = PgSubscriber.subscriber(vertx, options)
                .reconnectPolicy(retries -> retries < 1_000_000 ? 1000L : -1L);
        subscriber.channel(ConnectionRepository.CHANNEL).handler(this::onNotification)
                .subscribeHandler(() -> events.fire(ConnectionChanged.everything()));
        subscriber.connect().subscribe().with(
                ignored -> LOG.debug("listening for connection changes"),
                e -> LOG.warnf("cannot listen for connection changes yet (%s); retrying",
                        e.getClass().getSimpleName()));
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
