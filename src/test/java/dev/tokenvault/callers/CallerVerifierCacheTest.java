package dev.tokenvault.callers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

import javax.crypto.SecretKey;

import org.eclipse.microprofile.jwt.JsonWebToken;
import org.jose4j.jwt.JwtClaims;
import org.jose4j.jwt.NumericDate;
import org.junit.jupiter.api.Test;

import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.testing.TestClock;
import dev.tokenvault.web.ApiException;
import io.smallrye.jwt.auth.principal.DefaultJWTCallerPrincipal;
import io.smallrye.jwt.auth.principal.JWTAuthContextInfo;
import io.smallrye.jwt.auth.principal.JWTParser;
import io.smallrye.jwt.auth.principal.ParseException;

/**
 * The verified-token cache of {@link CallerVerifier} in front of smallrye-jwt (the default issuer), against a counting
 * stand-in for the real parser.
 */
class CallerVerifierCacheTest {

    /** Accepts the tokens it was told about (as smallrye-jwt would after checking them), rejects anything else. */
    static final class CountingParser implements JWTParser {
        final Map<String, Long> accepted = new HashMap<>(); // raw token -> exp (epoch seconds, 0 = none)
        int parses;

        @Override
        public JsonWebToken parse(String token) throws ParseException {
            parses++;
            Long exp = accepted.get(token);
            if (exp == null) {
                throw new ParseException("signature check failed");
            }
            JwtClaims claims = new JwtClaims();
            claims.setSubject("svc");
            if (exp > 0) {
                claims.setExpirationTime(NumericDate.fromSeconds(exp));
            }
            return new DefaultJWTCallerPrincipal(token, "JWT", claims);
        }

        @Override
        public JsonWebToken parse(String token, JWTAuthContextInfo context) throws ParseException {
            return parse(token);
        }

        @Override
        public JsonWebToken verify(String token, PublicKey key) {
            throw new UnsupportedOperationException();
        }

        @Override
        public JsonWebToken verify(String token, SecretKey key) {
            throw new UnsupportedOperationException();
        }

        @Override
        public JsonWebToken verify(String token, String secret) {
            throw new UnsupportedOperationException();
        }

        @Override
        public JsonWebToken decrypt(String token, PrivateKey key) {
            throw new UnsupportedOperationException();
        }

        @Override
        public JsonWebToken decrypt(String token, SecretKey key) {
            throw new UnsupportedOperationException();
        }

        @Override
        public JsonWebToken decrypt(String token, String secret) {
            throw new UnsupportedOperationException();
        }

        @Override
        public JsonWebToken parseOnly(String token) {
            throw new UnsupportedOperationException();
        }
    }

    final TestClock clock = new TestClock();
    final CountingParser parser = new CountingParser();

    long inSeconds(long s) {
        return clock.instant().plusSeconds(s).getEpochSecond();
    }

    /** A compact JWS the verifier can route (header and payload are JSON); only the signature part varies. */
    static String tok(String signature) {
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        return b64.encodeToString("{\"alg\":\"RS256\"}".getBytes(StandardCharsets.UTF_8)) + "."
                + b64.encodeToString("{\"sub\":\"svc\"}".getBytes(StandardCharsets.UTF_8)) + "." + signature;
    }

    static final String A = tok("c");
    static final String A_OTHER_SIGNATURE = tok("X");

    CallerVerifier cache(int size, Duration ttl) {
        return new CallerVerifier(parser, null, NoCallers.INSTANCE, Set.of(), size, ttl, clock);
    }

    /** No issuers besides default, no policies. */
    enum NoCallers implements TokenVaultConfig.Callers {
        INSTANCE;

        @Override
        public Map<String, Issuer> issuers() {
            return Map.of();
        }

        @Override
        public Map<String, Policy> policies() {
            return Map.of();
        }

        @Override
        public Duration keysCheckInterval() {
            return Duration.ofSeconds(30);
        }
    }

    @Test
    void aReusedTokenIsVerifiedOnce() throws Exception {
        parser.accepted.put(A, inSeconds(600));
        CallerVerifier cache = cache(100, Duration.ofSeconds(60));
        Object first = cache.verify(A);
        Object second = cache.verify(new String(A.toCharArray())); // equal content, other instance
        assertSame(first, second);
        assertEquals(1, parser.parses);
        assertEquals(1, cache.cachedCount());
    }

    @Test
    void anyOtherTokenIsVerifiedEvenWhenItDiffersOnlyInTheSignature() throws Exception {
        parser.accepted.put(A, inSeconds(600));
        CallerVerifier cache = cache(100, Duration.ofSeconds(60));
        cache.verify(A);
        assertThrows(ApiException.class, () -> cache.verify(A_OTHER_SIGNATURE));
        assertThrows(ApiException.class, () -> cache.verify(A_OTHER_SIGNATURE));
        assertEquals(3, parser.parses, "a rejected token is never remembered");
        assertEquals(1, cache.cachedCount());
    }

    @Test
    void aTokenIsNotServedFromTheCachePastItsExpiry() throws Exception {
        parser.accepted.put(A, inSeconds(30));
        CallerVerifier cache = cache(100, Duration.ofSeconds(60));
        Object first = cache.verify(A);
        clock.advance(Duration.ofSeconds(29));
        assertSame(first, cache.verify(A));
        clock.advance(Duration.ofSeconds(2));
        parser.accepted.remove(A); // the real parser now refuses it as expired
        assertThrows(ApiException.class, () -> cache.verify(A));
        assertEquals(2, parser.parses);
    }

    @Test
    void aTokenIsVerifiedAgainAfterTheTtlEvenIfItLivesLonger() throws Exception {
        parser.accepted.put(A, inSeconds(3600));
        CallerVerifier cache = cache(100, Duration.ofSeconds(60));
        Object first = cache.verify(A);
        clock.advance(Duration.ofSeconds(61));
        Object again = cache.verify(A);
        assertNotSame(first, again);
        assertEquals(2, parser.parses);
        assertSame(again, cache.verify(A));
        assertEquals(2, parser.parses);
    }

    @Test
    void aTokenAcceptedOnlyThanksToClockSkewIsNotRemembered() throws Exception {
        parser.accepted.put(A, inSeconds(-10)); // smallrye-jwt allows 60 s of skew by default
        CallerVerifier cache = cache(100, Duration.ofSeconds(60));
        cache.verify(A);
        cache.verify(A);
        assertEquals(2, parser.parses);
        assertEquals(0, cache.cachedCount());
    }

    @Test
    void theCacheIsBoundedAndCanBeTurnedOff() throws Exception {
        for (int i = 0; i < 50; i++) {
            parser.accepted.put(tok("t" + i), inSeconds(600));
        }
        CallerVerifier bounded = cache(10, Duration.ofSeconds(60));
        for (int i = 0; i < 50; i++) {
            bounded.verify(tok("t" + i));
        }
        assertEquals(10, bounded.cachedCount());

        parser.parses = 0;
        CallerVerifier off = cache(0, Duration.ofSeconds(60));
        off.verify(tok("t1"));
        off.verify(tok("t1"));
        CallerVerifier noTtl = cache(10, Duration.ZERO);
        noTtl.verify(tok("t1"));
        noTtl.verify(tok("t1"));
        assertEquals(4, parser.parses);
    }
}
