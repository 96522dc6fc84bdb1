package dev.tokenvault.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.security.PrivateKey;
import java.security.PublicKey;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import javax.crypto.SecretKey;

import org.eclipse.microprofile.jwt.JsonWebToken;
import org.jose4j.jwt.JwtClaims;
import org.jose4j.jwt.NumericDate;
import org.junit.jupiter.api.Test;

import dev.tokenvault.testing.TestClock;
import io.smallrye.jwt.auth.principal.DefaultJWTCallerPrincipal;
import io.smallrye.jwt.auth.principal.JWTAuthContextInfo;
import io.smallrye.jwt.auth.principal.JWTParser;
import io.smallrye.jwt.auth.principal.ParseException;

/** The verified-JWT cache in front of smallrye-jwt, against a counting stand-in for the real parser. */
class VerifiedJwtCacheTest {

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

    VerifiedJwtCache cache(int size, Duration ttl) {
        return new VerifiedJwtCache(parser, size, ttl, clock);
    }

    @Test
    void aReusedTokenIsVerifiedOnce() throws Exception {
        parser.accepted.put("a.b.c", inSeconds(600));
        VerifiedJwtCache cache = cache(100, Duration.ofSeconds(60));
        JsonWebToken first = cache.parse("a.b.c");
        JsonWebToken second = cache.parse(new String("a.b.c".toCharArray())); // equal content, other instance
        assertSame(first, second);
        assertEquals(1, parser.parses);
        assertEquals(1, cache.size());
    }

    @Test
    void anyOtherTokenIsVerifiedEvenWhenItDiffersOnlyInTheSignature() throws Exception {
        parser.accepted.put("a.b.c", inSeconds(600));
        VerifiedJwtCache cache = cache(100, Duration.ofSeconds(60));
        cache.parse("a.b.c");
        assertThrows(ParseException.class, () -> cache.parse("a.b.X"));
        assertThrows(ParseException.class, () -> cache.parse("a.b.X"));
        assertEquals(3, parser.parses, "a rejected token is never remembered");
        assertEquals(1, cache.size());
    }

    @Test
    void aTokenIsNotServedFromTheCachePastItsExpiry() throws Exception {
        parser.accepted.put("a.b.c", inSeconds(30));
        VerifiedJwtCache cache = cache(100, Duration.ofSeconds(60));
        JsonWebToken first = cache.parse("a.b.c");
        clock.advance(Duration.ofSeconds(29));
        assertSame(first, cache.parse("a.b.c"));
        clock.advance(Duration.ofSeconds(2));
        parser.accepted.remove("a.b.c"); // the real parser now refuses it as expired
        assertThrows(ParseException.class, () -> cache.parse("a.b.c"));
        assertEquals(2, parser.parses);
    }

    @Test
    void aTokenIsVerifiedAgainAfterTheTtlEvenIfItLivesLonger() throws Exception {
        parser.accepted.put("a.b.c", inSeconds(3600));
        VerifiedJwtCache cache = cache(100, Duration.ofSeconds(60));
        JsonWebToken first = cache.parse("a.b.c");
        clock.advance(Duration.ofSeconds(61));
        JsonWebToken again = cache.parse("a.b.c");
        assertNotSame(first, again);
        assertEquals(2, parser.parses);
        assertSame(again, cache.parse("a.b.c"));
        assertEquals(2, parser.parses);
    }

    @Test
    void aTokenAcceptedOnlyThanksToClockSkewIsNotRemembered() throws Exception {
        parser.accepted.put("a.b.c", inSeconds(-10)); // smallrye-jwt allows 60 s of skew by default
        VerifiedJwtCache cache = cache(100, Duration.ofSeconds(60));
        cache.parse("a.b.c");
        cache.parse("a.b.c");
        assertEquals(2, parser.parses);
        assertEquals(0, cache.size());
    }

    @Test
    void theCacheIsBoundedAndCanBeTurnedOff() throws Exception {
        for (int i = 0; i < 50; i++) {
            parser.accepted.put("t" + i, inSeconds(600));
        }
        VerifiedJwtCache bounded = cache(10, Duration.ofSeconds(60));
        for (int i = 0; i < 50; i++) {
            bounded.parse("t" + i);
        }
        assertEquals(10, bounded.size());

        parser.parses = 0;
        VerifiedJwtCache off = cache(0, Duration.ofSeconds(60));
        off.parse("t1");
        off.parse("t1");
        VerifiedJwtCache noTtl = cache(10, Duration.ZERO);
        noTtl.parse("t1");
        noTtl.parse("t1");
        assertEquals(4, parser.parses);
    }

    @Test
    void onlyTheBearerTokenCallIsCached() throws Exception {
        parser.accepted.put("a.b.c", inSeconds(600));
        VerifiedJwtCache cache = cache(100, Duration.ofSeconds(60));
        cache.parse("a.b.c", null);
        cache.parse("a.b.c", null);
        assertEquals(2, parser.parses);
        assertEquals(0, cache.size());
    }
}
