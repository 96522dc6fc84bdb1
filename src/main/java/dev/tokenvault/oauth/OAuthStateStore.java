package dev.tokenvault.oauth;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import jakarta.enterprise.context.ApplicationScoped;

import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.db.ScheduledJobs;
import dev.tokenvault.hubspot.AppCredentials;
import dev.tokenvault.metrics.Metrics;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * OAuth install state that needs no row until the callback. A state is {@code base64url(version ‖ issued-at ‖ 256
 * random bits ‖ SHA-256(browser binding) ‖ HMAC-SHA256)}: random, valid for 10 minutes from the signed issue time,
 * and bound to the browser that started the install by a second random value kept in an HttpOnly cookie (only its
 * hash is in the state). The MAC key is derived from the app's client secret ({@code HMAC-SHA256(secret,
 * "tokenvault/oauth-state/v1|" + app)}), which every replica has, so a callback may land on any replica; during a
 * secret rotation the previous secret still verifies. Single use: the first callback that presents a valid, unexpired
 * state inserts its hash into {@code oauth_state_used} (whatever the outcome after that, as before), so issuing a
 * state writes nothing and anonymous install starts cannot grow a table.
 */
@ApplicationScoped
class OAuthStateStore {

    static final Duration LIFETIME = Duration.ofMinutes(10);
    /** Issue times further ahead than this (replica clocks apart) are refused. */
    static final Duration SKEW = Duration.ofMinutes(1);
    static final byte VERSION = 1;
    static final int NONCE = 32;
    static final int HASH = 32;
    /** version, issued-at (epoch seconds), nonce, binding hash; then the MAC. */
    static final int PAYLOAD = 1 + 8 + NONCE + HASH;
    static final int LENGTH = PAYLOAD + HASH;

    /** A new state and the browser binding to put in the cookie. */
    record Issued(String state, String browserBinding) {
        @Override
        public String toString() {
            return "Issued[<redacted>]";
        }
    }

    enum Outcome {
        VALID,
        /** Never issued by this service for this app (forged, damaged, another app's), or already used. */
        UNKNOWN,
        EXPIRED,
        /** Issued to another browser (cookie missing or different). */
        OTHER_BROWSER,
        /** This replica already used its share of states in this second: nothing consumed, try again shortly. */
        BUSY
    }

    private final Pool pool;
    private final InstantSource clock;
    private final AppCredentials credentials;
    private final Metrics metrics;
    private final ScheduledJobs jobs;
    private final int callbacksPerSecond;
    /** Created with the bean at run time: a native image never carries a seeded random source in its heap. */
    private final SecureRandom random = new SecureRandom();
    private long windowSecond = Long.MIN_VALUE;
    private int windowUsed;

    OAuthStateStore(Pool pool, InstantSource clock, AppCredentials credentials, Metrics metrics, ScheduledJobs jobs,
            TokenVaultConfig config) {
        this.pool = pool;
        this.clock = clock;
        this.credentials = credentials;
        this.metrics = metrics;
        this.jobs = jobs;
        this.callbacksPerSecond = config.oauth().callbacksPerSecond();
    }

    /** Issues a state signed with the app's current client secret. Writes nothing. */
    Uni<Issued> issue(String app) {
        return credentials.require(app).map(client -> {
            byte[] nonce = new byte[NONCE];
            byte[] bindingBytes = new byte[32];
            random.nextBytes(nonce);
            random.nextBytes(bindingBytes);
            String binding = Base64.getUrlEncoder().withoutPadding().encodeToString(bindingBytes);
            ByteBuffer b = ByteBuffer.allocate(LENGTH);
            b.put(VERSION).putLong(clock.instant().getEpochSecond()).put(nonce).put(sha256(binding));
            byte[] state = b.array();
            System.arraycopy(mac(key(client.clientSecret(), app), state), 0, state, PAYLOAD, HASH);
            return new Issued(Base64.getUrlEncoder().withoutPadding().encodeToString(state), binding);
        });
    }

    /**
     * Checks the state and, when it is genuine and unexpired, uses it up (whatever the outcome after that, it cannot
     * be used again); says whether it was valid for this browser.
     */
    Uni<Outcome> consume(String app, String state, String browserBinding) {
        byte[] decoded = decode(state);
        if (decoded == null) {
            return Uni.createFrom().item(Outcome.UNKNOWN);
        }
        return credentials.webhookSecrets(app).chain(secrets -> {
            if (!signed(app, decoded, secrets)) {
                return Uni.createFrom().item(Outcome.UNKNOWN);
            }
            Instant issuedAt = Instant.ofEpochSecond(ByteBuffer.wrap(decoded, 1, 8).getLong());
            Instant now = clock.instant();
            Instant expiresAt = issuedAt.plus(LIFETIME);
            if (!expiresAt.isAfter(now)) {
                return Uni.createFrom().item(Outcome.EXPIRED);
            }
            if (issuedAt.isAfter(now.plus(SKEW))) {
                return Uni.createFrom().item(Outcome.UNKNOWN);
            }
            if (!admit(now.getEpochSecond())) {
                metrics.oauthCallbackLimited();
                return Uni.createFrom().item(Outcome.BUSY);
            }
            byte[] expected = Arrays.copyOfRange(decoded, 1 + 8 + NONCE, PAYLOAD);
            return pool.preparedQuery("insert into oauth_state_used (state_hash, expires_at) values ($1, $2) "
                    + "on conflict (state_hash) do nothing")
                    .execute(Tuple.of(io.vertx.core.buffer.Buffer.buffer(sha256(decoded)),
                            expiresAt.atOffset(ZoneOffset.UTC)))
                    .map(rows -> {
                        if (rows.rowCount() == 0) {
                            return Outcome.UNKNOWN; // used before
                        }
                        byte[] given = browserBinding == null ? new byte[0] : sha256(browserBinding);
                        return MessageDigest.isEqual(expected, given) ? Outcome.VALID : Outcome.OTHER_BROWSER;
                    });
        });
    }

    /** At most {@code tokenvault.oauth.callbacks-per-second} states are used per second by this replica. */
    private synchronized boolean admit(long second) {
        if (second != windowSecond) {
            windowSecond = second;
            windowUsed = 0;
        }
        if (windowUsed >= callbacksPerSecond) {
            return false;
        }
        windowUsed++;
        return true;
    }

    @Scheduled(every = "1m", delayed = "1m", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> purgeExpired() {
        var now = Tuple.of(clock.instant().atOffset(ZoneOffset.UTC));
        return jobs.run("oauth state purge", () -> pool.preparedQuery("delete from oauth_state_used where expires_at < $1")
                .execute(now)
                // rows of the previous version's stored states (kept for rolling upgrades)
                .chain(ignored -> pool.preparedQuery("delete from oauth_state where expires_at < $1").execute(now)));
    }

    /** The decoded state when it has the right shape, else null (never throws on what a browser sends). */
    private static byte[] decode(String state) {
        if (state == null || state.length() != (LENGTH * 4 + 2) / 3) {
            return null;
        }
        try {
            byte[] b = Base64.getUrlDecoder().decode(state);
            return b.length == LENGTH && b[0] == VERSION ? b : null;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static boolean signed(String app, byte[] state, List<String> secrets) {
        byte[] given = Arrays.copyOfRange(state, PAYLOAD, LENGTH);
        boolean ok = false;
        for (String secret : secrets) {
            ok |= MessageDigest.isEqual(mac(key(secret, app), state), given);
        }
        return ok;
    }

    /**
     * The PKCE {@code code_verifier} of a state (RFC 7636: 43 characters of base64url): an HMAC of the state under the
     * app's state key, so no row holds it and every replica derives the same one, while whoever sees the state and the
     * code (both pass through the browser) cannot. A client secret rotated between the consent and the callback makes
     * that one install fail at the exchange; the user starts it again.
     */
    static String pkceVerifier(String clientSecret, String app, String state) {
        byte[] v = hmac(key(clientSecret, app), ("pkce|" + state).getBytes(StandardCharsets.US_ASCII), 0, -1);
        return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(v);
    }

    /** The S256 {@code code_challenge} of a verifier: base64url(SHA-256(verifier)). */
    static String pkceChallenge(String verifier) {
        return java.util.Base64.getUrlEncoder().withoutPadding()
                .encodeToString(sha256(verifier.getBytes(StandardCharsets.US_ASCII)));
    }

    /** The state-signing key of an app: derived from its client secret, so every replica has the same. */
    static byte[] key(String clientSecret, String app) {
        return hmac(clientSecret.getBytes(StandardCharsets.UTF_8),
                ("tokenvault/oauth-state/v1|" + app).getBytes(StandardCharsets.UTF_8), 0, -1);
    }

    /** The MAC over a state's payload (its first {@link #PAYLOAD} bytes). */
    static byte[] mac(byte[] key, byte[] state) {
        return hmac(key, state, 0, PAYLOAD);
    }

    private static byte[] hmac(byte[] key, byte[] data, int offset, int length) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            mac.update(data, offset, length < 0 ? data.length : length);
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] sha256(String value) {
        return sha256(value.getBytes(StandardCharsets.UTF_8));
    }

    static byte[] sha256(byte[] value) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(value);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
