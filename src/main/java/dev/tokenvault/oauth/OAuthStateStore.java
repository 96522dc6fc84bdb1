package dev.tokenvault.oauth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.ZoneOffset;
import java.util.Base64;

import jakarta.enterprise.context.ApplicationScoped;

import dev.tokenvault.db.ScheduledJobs;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * OAuth install state: 256 random bits, stored only as a SHA-256 hash, single use (consumed by one atomic DELETE),
 * valid for 10 minutes and bound to the browser that started the install by a second random value kept in an
 * HttpOnly cookie.
 */
@ApplicationScoped
class OAuthStateStore {

    static final Duration LIFETIME = Duration.ofMinutes(10);

    /** A new state and the browser binding to put in the cookie. */
    record Issued(String state, String browserBinding) {
        @Override
        public String toString() {
            return "Issued[<redacted>]";
        }
    }

    enum Outcome {
        VALID,
        /** Never issued, or already used. */
        UNKNOWN,
        EXPIRED,
        /** Issued to another browser (cookie missing or different). */
        OTHER_BROWSER,
        /** Issued for another app. */
        OTHER_APP
    }

    private final Pool pool;
    private final InstantSource clock;
    /** Created with the bean at run time: a native image never carries a seeded random source in its heap. */
    private final SecureRandom random = new SecureRandom();

    private final ScheduledJobs jobs;

    OAuthStateStore(Pool pool, InstantSource clock, ScheduledJobs jobs) {
        this.pool = pool;
        this.clock = clock;
        this.jobs = jobs;
    }

    Uni<Issued> issue(String app) {
        String state = random();
        String binding = random();
        Instant now = clock.instant();
        return pool.preparedQuery("insert into oauth_state (state_hash, app, browser_hash, created_at, expires_at) "
                + "values ($1, $2, $3, $4, $5)")
                .execute(Tuple.of(io.vertx.core.buffer.Buffer.buffer(sha256(state)), app,
                        io.vertx.core.buffer.Buffer.buffer(sha256(binding)), now.atOffset(ZoneOffset.UTC),
                        now.plus(LIFETIME).atOffset(ZoneOffset.UTC)))
                .replaceWith(new Issued(state, binding));
    }

    /** Consumes the state (whatever the outcome, it cannot be used again) and says whether it was valid. */
    Uni<Outcome> consume(String app, String state, String browserBinding) {
        if (state == null || state.isEmpty() || state.length() > 200) {
            return Uni.createFrom().item(Outcome.UNKNOWN);
        }
        return pool.preparedQuery("delete from oauth_state where state_hash = $1 "
                + "returning app, browser_hash, expires_at")
                .execute(Tuple.of(io.vertx.core.buffer.Buffer.buffer(sha256(state))))
                .map(rows -> {
                    var it = rows.iterator();
                    if (!it.hasNext()) {
                        return Outcome.UNKNOWN;
                    }
                    Row row = it.next();
                    if (!row.getOffsetDateTime("expires_at").toInstant().isAfter(clock.instant())) {
                        return Outcome.EXPIRED;
                    }
                    if (!app.equals(row.getString("app"))) {
                        return Outcome.OTHER_APP;
                    }
                    byte[] expected = row.getBuffer("browser_hash").getBytes();
                    byte[] given = browserBinding == null ? new byte[0] : sha256(browserBinding);
                    return MessageDigest.isEqual(expected, given) ? Outcome.VALID : Outcome.OTHER_BROWSER;
                });
    }

    @Scheduled(every = "10m", delayed = "1m", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> purgeExpired() {
        return jobs.run("oauth state purge", () -> pool.preparedQuery("delete from oauth_state where expires_at < $1")
                .execute(Tuple.of(clock.instant().atOffset(ZoneOffset.UTC))));
    }

    private String random() {
        byte[] b = new byte[32];
        random.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    static byte[] sha256(String value) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
