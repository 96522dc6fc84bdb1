package dev.tokenvault.notify;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import jakarta.enterprise.context.ApplicationScoped;

import org.jboss.logging.Logger;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.metrics.Metrics;
import dev.tokenvault.refresh.Backoff;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlClient;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * Outgoing connection-event notifications through a transactional outbox: {@link #enqueue} writes the event in the
 * caller's transaction; a scheduled dispatcher POSTs pending events as JSON signed with HMAC-SHA256
 * ({@code X-Tokenvault-Signature}, hex), retrying with backoff until the receiver answers 2xx. Redeliveries carry the
 * same {@code id}. Deliveries are made one at a time in event order, so a receiver sees a connection's events in the
 * order they happened (unless one of them has to be retried).
 */
@ApplicationScoped
public class Notifier {

    private static final Logger LOG = Logger.getLogger(Notifier.class);
    static final int BATCH = 50;
    static final Duration LEASE = Duration.ofSeconds(60);

    private final Pool pool;
    private final InstantSource clock;
    private final Optional<URI> url;
    private final Optional<String> secret;
    private final Metrics metrics;
    private final ObjectMapper json;
    private final HttpClient http;
    private final String owner = "notifier-" + UUID.randomUUID().toString().substring(0, 8);
    private final Duration deliveredRetention;

    private final dev.tokenvault.db.ScheduledJobs jobs;

    Notifier(Pool pool, InstantSource clock, TokenVaultConfig config, Metrics metrics, ObjectMapper json,
            dev.tokenvault.db.ScheduledJobs jobs) {
        this.jobs = jobs;
        this.pool = pool;
        this.clock = clock;
        this.url = config.notifications().url();
        this.secret = config.notifications().secret();
        this.deliveredRetention = config.notifications().deliveredRetention();
        this.metrics = metrics;
        this.json = json;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        if (url.isPresent() && secret.isEmpty()) {
            throw new IllegalStateException("tokenvault.notify.secret must be set when tokenvault.notify.url is set");
        }
    }

    public boolean enabled() {
        return url.isPresent();
    }

    /** Records an event in the caller's transaction (nothing when notifications are off). */
    public Uni<Void> enqueue(SqlClient tx, ConnectionEvent event, String app, long portalId) {
        if (!enabled()) {
            return Uni.createFrom().voidItem();
        }
        Instant now = clock.instant();
        return tx.preparedQuery("insert into notification_outbox (id, event, app, portal_id, at, next_attempt_at) "
                + "values ($1, $2, $3, $4, $5, $5)")
                .execute(Tuple.of(UUID.randomUUID(), event.value(), app, portalId, now.atOffset(ZoneOffset.UTC)))
                .replaceWithVoid();
    }

    @Scheduled(every = "1h", delayed = "7m", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> scheduledPurge() {
        return jobs.run("notification outbox purge", () -> purgeDeliveredBefore(clock.instant().minus(deliveredRetention)));
    }

    /** Deletes notifications delivered before {@code cutoff}; how many. Undelivered ones are never deleted. */
    public Uni<Integer> purgeDeliveredBefore(Instant cutoff) {
        return pool.preparedQuery("delete from notification_outbox where delivered_at < $1")
                .execute(Tuple.of(cutoff.atOffset(ZoneOffset.UTC))).map(rows -> rows.rowCount());
    }

    @Scheduled(every = "${tokenvault.notify.poll-interval:5s}", delayed = "3s", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> scheduledDispatch() {
        return enabled() ? jobs.run("notification delivery", this::dispatch) : Uni.createFrom().voidItem();
    }

    /** Delivers what is due now; returns the number of successful deliveries. */
    public Uni<Integer> dispatch() {
        Instant now = clock.instant();
        return pool.preparedQuery("update notification_outbox set lease_owner = $1, lease_until = $3 where id in "
                + "(select id from notification_outbox where delivered_at is null and next_attempt_at <= $2 "
                + "and (lease_until is null or lease_until < $2) order by at limit $4 for update skip locked) "
                + "returning id, event, app, portal_id, at, attempts")
                .execute(Tuple.of(owner, now.atOffset(ZoneOffset.UTC), now.plus(LEASE).atOffset(ZoneOffset.UTC),
                        BATCH))
                .chain(rows -> {
                    List<Row> claimed = new ArrayList<>();
                    rows.forEach(claimed::add);
                    if (claimed.isEmpty()) {
                        return Uni.createFrom().item(0);
                    }
                    // RETURNING does not keep the sub-select's order
                    claimed.sort(java.util.Comparator.comparing((Row r) -> r.getOffsetDateTime("at")));
                    return Multi.createFrom().iterable(claimed)
                            .onItem().transformToUniAndConcatenate(this::deliver)
                            .collect().asList()
                            .map(results -> (int) results.stream().filter(Boolean::booleanValue).count());
                });
    }

    private Uni<Boolean> deliver(Row row) {
        UUID id = row.getUUID("id");
        Map<String, Object> payload = new LinkedHashMap<>();
        payload.put("id", id.toString());
        payload.put("event", row.getString("event"));
        payload.put("app", row.getString("app"));
        payload.put("portalId", row.getLong("portal_id"));
        payload.put("at", row.getOffsetDateTime("at").toInstant().toString());
        String body;
        try {
            body = json.writeValueAsString(payload);
        } catch (JsonProcessingException e) {
            return Uni.createFrom().item(false);
        }
        HttpRequest request = HttpRequest.newBuilder(url.get())
                .timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json")
                .header("X-Tokenvault-Event-Id", id.toString())
                .header("X-Tokenvault-Signature", sign(secret.get(), body))
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
                .build();
        int attempts = row.getInteger("attempts") + 1;
        return Uni.createFrom().completionStage(() -> http.sendAsync(request, HttpResponse.BodyHandlers.discarding()))
                .map(HttpResponse::statusCode)
                .onFailure().recoverWithItem(-1)
                .chain(status -> {
                    Instant now = clock.instant();
                    if (status / 100 == 2) {
                        return pool.preparedQuery("update notification_outbox set delivered_at = $2, attempts = $3, "
                                + "lease_owner = null, lease_until = null, last_error = null where id = $1")
                                .execute(Tuple.of(id, now.atOffset(ZoneOffset.UTC), attempts)).replaceWith(true);
                    }
                    metrics.notifyFailed();
                    String error = status < 0 ? "receiver unreachable" : "receiver answered " + status;
                    Duration wait = Backoff.after(attempts, null);
                    LOG.debugf("notification %s failed (%s); attempt %d, next in %s", id, error, attempts, wait);
                    return pool.preparedQuery("update notification_outbox set attempts = $2, last_error = $3, "
                            + "next_attempt_at = $4, lease_owner = null, lease_until = null where id = $1")
                            .execute(Tuple.of(id, attempts, error, now.plus(wait).atOffset(ZoneOffset.UTC)))
                            .replaceWith(false);
                });
    }

    /** Hex HMAC-SHA256 of the body, the value of {@code X-Tokenvault-Signature}. */
    public static String sign(String secret, String body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return HexFormat.of().formatHex(mac.doFinal(body.getBytes(StandardCharsets.UTF_8)));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }
}
