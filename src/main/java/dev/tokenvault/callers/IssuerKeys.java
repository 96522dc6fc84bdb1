package dev.tokenvault.callers;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

import org.jboss.logging.Logger;
import org.jose4j.jwk.JsonWebKey;
import org.jose4j.jwk.JsonWebKeySet;
import org.jose4j.lang.JoseException;

import io.smallrye.jwt.auth.principal.JWTParser;

/**
 * The verification keys of one trusted issuer, fetched from its JWKS URL (or re-read from its key file) and kept as the
 * last good set: fetched again on a schedule ({@code jwks-refresh-interval}) and when a token names a {@code kid} the
 * set does not hold (at most once per {@code jwks-min-refresh-interval}); a source that cannot be reached or answers
 * something that is not a key set leaves the last good keys in place (one WARN per failure streak, one INFO on
 * recovery). Each key set gets its own smallrye-jwt parser, so a token is verified with this issuer's keys only.
 * <p>
 * Fetching blocks (at most the request timeout); callers are on worker threads (see {@link CallerVerifier}).
 */
final class IssuerKeys {

    private static final Logger LOG = Logger.getLogger(IssuerKeys.class);
    static final int MAX_BYTES = 1 << 20;
    static final Duration TIMEOUT = Duration.ofSeconds(5);

    /** Where keys come from. */
    interface Source {
        String fetch() throws IOException;

        /** For logs: where, never a credential. */
        String describe();
    }

    record Snapshot(Set<String> kids, JWTParser parser, Instant fetchedAt) {
    }

    private final String issuerName;
    private final Source source;
    private final Function<String, JWTParser> parserFor;
    private final Duration refreshInterval;
    private final Duration minRefreshInterval;
    private final InstantSource clock;
    private volatile Snapshot current;
    private volatile Instant lastAttempt;
    private boolean failing;

    IssuerKeys(String issuerName, Source source, Function<String, JWTParser> parserFor, Duration refreshInterval,
            Duration minRefreshInterval, InstantSource clock) {
        this.issuerName = issuerName;
        this.source = source;
        this.parserFor = parserFor;
        this.refreshInterval = refreshInterval;
        this.minRefreshInterval = minRefreshInterval;
        this.clock = clock;
    }

    /**
     * The parser of the keys to verify a token signed with {@code kid} (null when the token names none): the current
     * set, fetched again first when it is due or does not hold the kid and the rate limit allows.
     *
     * @return null when no key set was ever fetched
     */
    JWTParser parserFor(String kid) {
        Snapshot snap = current;
        Instant now = clock.instant();
        boolean due = snap == null || !now.isBefore(snap.fetchedAt().plus(refreshInterval))
                || kid != null && !snap.kids().isEmpty() && !snap.kids().contains(kid);
        if (due && mayAttempt(now)) {
            snap = refresh(snap);
        }
        return snap == null ? null : snap.parser();
    }

    /** The scheduled refresh: fetch again when the set is due (or was never fetched), within the rate limit. */
    void refreshIfDue() {
        Snapshot snap = current;
        Instant now = clock.instant();
        if ((snap == null || !now.isBefore(snap.fetchedAt().plus(refreshInterval))) && mayAttempt(now)) {
            refresh(snap);
        }
    }

    boolean loaded() {
        return current != null;
    }

    Optional<Instant> fetchedAt() {
        Snapshot s = current;
        return s == null ? Optional.empty() : Optional.of(s.fetchedAt());
    }

    private boolean mayAttempt(Instant now) {
        Instant last = lastAttempt;
        return last == null || !now.isBefore(last.plus(minRefreshInterval));
    }

    private synchronized Snapshot refresh(Snapshot seen) {
        if (current != seen) {
            return current; // another thread fetched while this one waited
        }
        Instant now = clock.instant();
        if (!mayAttempt(now)) {
            return current;
        }
        lastAttempt = now;
        try {
            String content = source.fetch();
            Set<String> kids = kids(content);
            Snapshot fresh = new Snapshot(kids, parserFor.apply(content), now);
            current = fresh;
            if (failing) {
                LOG.infof("caller keys of issuer %s fetched again from %s (%d keys)", issuerName, source.describe(),
                        kids.size());
            }
            failing = false;
            return fresh;
        } catch (IOException | RuntimeException e) {
            String kept = seen == null ? "no keys yet: its tokens are refused until a fetch succeeds"
                    : "keeping the keys fetched at " + seen.fetchedAt();
            if (!failing) {
                LOG.warnf("caller keys of issuer %s could not be fetched from %s (%s); %s", issuerName,
                        source.describe(), reason(e), kept);
            } else {
                LOG.debugf("caller keys of issuer %s still not fetched from %s (%s)", issuerName, source.describe(),
                        reason(e));
            }
            failing = true;
            return current;
        }
    }

    private static String reason(Exception e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null ? "" : ": " + (m.length() > 200 ? m.substring(0, 200) : m));
    }

    /** The key ids of a JWKS (empty for a PEM key); anything else is not a key set. */
    static Set<String> kids(String content) throws IOException {
        String text = content.strip();
        if (text.startsWith("{")) {
            try {
                Set<String> kids = new HashSet<>();
                var keys = new JsonWebKeySet(text).getJsonWebKeys();
                if (keys.isEmpty()) {
                    throw new IOException("the JWKS holds no keys");
                }
                for (JsonWebKey k : keys) {
                    if (k.getKeyId() != null) {
                        kids.add(k.getKeyId());
                    }
                }
                return Set.copyOf(kids);
            } catch (JoseException e) {
                throw new IOException("not a JWKS: " + e.getMessage());
            }
        }
        if (text.startsWith("-----BEGIN PUBLIC KEY-----")) {
            return Set.of();
        }
        throw new IOException("neither a JWKS nor a PEM public key");
    }

    /** Keys from a JWKS URL, optionally with a bearer token read from a file on every fetch and a CA to trust. */
    static Source url(URI url, Optional<Path> bearerTokenFile, Optional<Path> caFile) {
        HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(TIMEOUT)
                .followRedirects(HttpClient.Redirect.NEVER);
        caFile.ifPresent(ca -> builder.sslContext(trusting(ca)));
        HttpClient client = builder.build();
        return new Source() {
            @Override
            public String fetch() throws IOException {
                HttpRequest.Builder req = HttpRequest.newBuilder(url).timeout(TIMEOUT).header("Accept",
                        "application/jwk-set+json, application/json");
                if (bearerTokenFile.isPresent()) {
                    req.header("Authorization", "Bearer " + Files.readString(bearerTokenFile.get()).strip());
                }
                HttpResponse<InputStream> res;
                try {
                    res = client.send(req.GET().build(), HttpResponse.BodyHandlers.ofInputStream());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted");
                }
                try (InputStream body = res.body()) {
                    byte[] bytes = body.readNBytes(MAX_BYTES + 1);
                    if (res.statusCode() != 200) {
                        throw new IOException("HTTP " + res.statusCode());
                    }
                    if (bytes.length > MAX_BYTES) {
                        throw new IOException("the key set is larger than " + MAX_BYTES + " bytes");
                    }
                    return new String(bytes, StandardCharsets.UTF_8);
                }
            }

            @Override
            public String describe() {
                return url.toString();
            }
        };
    }

    /** Keys from a file (a PEM public key or a JWKS; a mounted ConfigMap is picked up on the next refresh). */
    static Source file(Path path) {
        return new Source() {
            @Override
            public String fetch() throws IOException {
                if (Files.size(path) > MAX_BYTES) {
                    throw new IOException("the key file is larger than " + MAX_BYTES + " bytes");
                }
                return Files.readString(path);
            }

            @Override
            public String describe() {
                return path.toString();
            }
        };
    }

    private static SSLContext trusting(Path caFile) {
        try (InputStream in = Files.newInputStream(caFile)) {
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            int i = 0;
            for (Certificate cert : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                store.setCertificateEntry("ca-" + i++, cert);
            }
            if (i == 0) {
                throw new IllegalStateException(caFile + " holds no certificate");
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(store);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot read the CA certificates in " + caFile + ": " + e.getMessage());
        }
    }
}
