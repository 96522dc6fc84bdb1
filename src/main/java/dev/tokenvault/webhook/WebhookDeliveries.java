package dev.tokenvault.webhook;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.ZoneOffset;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.db.ScheduledJobs;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Uni;
import io.vertx.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * What every replica remembers of processed webhooks (table {@code webhook_delivery}): deliveries, keyed by a SHA-256
 * of their signature and timestamp, for {@link #DELIVERY_RETENTION}; uninstall events, keyed by a SHA-256 of portal,
 * event id and occurrence time, for {@link #EVENT_RETENTION}. Expired rows are purged every minute.
 */
@ApplicationScoped
class WebhookDeliveries {

    /**
     * How long a delivery is remembered: longer than any timestamp the verifier accepts (5 minutes past, at most 5
     * minutes future skew), with room for replica clocks that disagree by a few minutes.
     */
    static final Duration DELIVERY_RETENTION = Duration.ofMinutes(15);
    /** How long a processed uninstall event is remembered: HubSpot retries a delivery for up to 24 hours. */
    static final Duration EVENT_RETENTION = Duration.ofHours(48);

    private final Pool pool;
    private final InstantSource clock;
    private final ScheduledJobs jobs;
    private final TokenVaultConfig config;

    WebhookDeliveries(Pool pool, InstantSource clock, ScheduledJobs jobs, TokenVaultConfig config) {
        this.pool = pool;
        this.clock = clock;
        this.jobs = jobs;
        this.config = config;
    }

    /** Fails start-up, naming the key, when the webhook settings cannot be honoured. */
    void validate(@Observes StartupEvent event) {
        WebhookResource.futureSkew(config);
    }

    /**
     * Claims a delivery: true for the first request with this key, false for a replay (or a concurrent duplicate,
     * which loses the insert).
     */
    Uni<Boolean> claimDelivery(String app, byte[] key, Duration retention) {
        return insert(app, key, "delivery", retention);
    }

    /** Forgets a claimed delivery whose processing failed, so that the same request, sent again, is processed. */
    Uni<Void> releaseDelivery(String app, byte[] key) {
        return pool.preparedQuery("delete from webhook_delivery where app = $1 and key_hash = $2 and kind = 'delivery'")
                .execute(Tuple.of(app, Buffer.buffer(key))).replaceWithVoid();
    }

    /** Whether this uninstall event was processed (and is still remembered). */
    Uni<Boolean> eventSeen(String app, byte[] key) {
        return pool.preparedQuery("select 1 from webhook_delivery where app = $1 and key_hash = $2 and kind = 'event' "
                + "and expires_at > $3")
                .execute(Tuple.of(app, Buffer.buffer(key), clock.instant().atOffset(ZoneOffset.UTC)))
                .map(rows -> rows.size() > 0);
    }

    /** Remembers a processed uninstall event (after it was acted on: a failure leaves it to HubSpot's retry). */
    Uni<Void> rememberEvent(String app, byte[] key) {
        return insert(app, key, "event", EVENT_RETENTION).replaceWithVoid();
    }

    private Uni<Boolean> insert(String app, byte[] key, String kind, Duration retention) {
        Instant now = clock.instant();
        return pool.preparedQuery("insert into webhook_delivery (app, key_hash, kind, seen_at, expires_at) "
                + "values ($1, $2, $3, $4, $5) on conflict (app, key_hash) do nothing")
                .execute(Tuple.of(app, Buffer.buffer(key), kind, now.atOffset(ZoneOffset.UTC),
                        now.plus(retention).atOffset(ZoneOffset.UTC)))
                .map(rows -> rows.rowCount() == 1);
    }

    @Scheduled(every = "60s", delayed = "45s", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> purgeExpired() {
        return jobs.run("webhook delivery purge", this::purge);
    }

    /** Deletes what expired; returns how many rows. */
    Uni<Integer> purge() {
        return pool.preparedQuery("delete from webhook_delivery where expires_at <= $1")
                .execute(Tuple.of(clock.instant().atOffset(ZoneOffset.UTC)))
                .map(rows -> rows.rowCount());
    }

    /** The key of an uninstall event: a retry of it carries the same portal, event id and occurrence time. */
    static byte[] eventKey(long portalId, long eventId, long occurredAt) {
        return sha256("event|" + portalId + "|" + eventId + "|" + occurredAt);
    }

    private static byte[] sha256(String value) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
