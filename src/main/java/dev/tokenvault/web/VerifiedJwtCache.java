package dev.tokenvault.web;

import java.security.PrivateKey;
import java.security.PublicKey;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;

import javax.crypto.SecretKey;

import jakarta.annotation.Priority;
import jakarta.decorator.Decorator;
import jakarta.decorator.Delegate;
import jakarta.inject.Inject;

import org.eclipse.microprofile.jwt.JsonWebToken;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Expiry;

import dev.tokenvault.config.Caches;
import dev.tokenvault.config.TokenVaultConfig;
import io.smallrye.jwt.auth.principal.JWTAuthContextInfo;
import io.smallrye.jwt.auth.principal.JWTParser;
import io.smallrye.jwt.auth.principal.ParseException;

/**
 * Remembers caller JWTs that smallrye-jwt has verified, so a service that sends the same token with every request pays
 * for one RS256 check and one JSON parse per token, not per request (they were most of the CPU and allocation of a
 * cached hand-out: see docs/performance.md).
 * <p>
 * The key is the whole raw token, compared in full: a hit means these exact bytes, signature included, passed every
 * check ({@code mp.jwt.verify.*}) before. An entry lives until the token's {@code exp} (checked again on every hit) or
 * {@code tokenvault.jwt-cache.ttl}, whichever comes first; the TTL bounds how long a token stays accepted after its
 * signing key was withdrawn from the verification key set. Failures are never remembered. Only
 * {@link JWTParser#parse(String)}, the call Quarkus makes for a bearer token, is cached; every other method goes
 * straight to smallrye-jwt.
 */
@Decorator
@Priority(10)
public class VerifiedJwtCache implements JWTParser {

    private final JWTParser delegate;
    private final InstantSource clock;
    private final Duration ttl;
    private final Cache<String, Verified> verified;

    private record Verified(JsonWebToken jwt, Instant until) {
    }

    @Inject
    VerifiedJwtCache(@Delegate JWTParser delegate, TokenVaultConfig config, InstantSource clock) {
        this(delegate, config.jwtCache().size(), config.jwtCache().ttl(), clock);
    }

    VerifiedJwtCache(JWTParser delegate, int size, Duration ttl, InstantSource clock) {
        this.delegate = delegate;
        this.clock = clock;
        this.ttl = ttl;
        this.verified = size <= 0 || ttl.isZero() || ttl.isNegative() ? null
                : Caches.expiring(size, new Expiry<String, Verified>() {
                    @Override
                    public long expireAfterCreate(String key, Verified value, long currentTime) {
                        return Math.max(0, Duration.between(clock.instant(), value.until()).toNanos());
                    }

                    @Override
                    public long expireAfterUpdate(String key, Verified value, long currentTime, long currentDuration) {
                        return expireAfterCreate(key, value, currentTime);
                    }

                    @Override
                    public long expireAfterRead(String key, Verified value, long currentTime, long currentDuration) {
                        return currentDuration;
                    }
                });
    }

    @Override
    public JsonWebToken parse(String token) throws ParseException {
        if (verified == null || token == null) {
            return delegate.parse(token);
        }
        Instant now = clock.instant();
        Verified hit = verified.getIfPresent(token);
        if (hit != null && now.isBefore(hit.until())) {
            return hit.jwt();
        }
        JsonWebToken jwt = delegate.parse(token);
        Instant until = now.plus(ttl);
        long exp = jwt.getExpirationTime();
        if (exp > 0 && Instant.ofEpochSecond(exp).isBefore(until)) {
            until = Instant.ofEpochSecond(exp);
        }
        if (now.isBefore(until)) {
            verified.put(token, new Verified(jwt, until));
        }
        return jwt;
    }

    /** Tokens remembered now (for tests and diagnostics). */
    long size() {
        if (verified == null) {
            return 0;
        }
        verified.cleanUp();
        return verified.estimatedSize();
    }

    @Override
    public JsonWebToken parse(String token, JWTAuthContextInfo context) throws ParseException {
        return delegate.parse(token, context);
    }

    @Override
    public JsonWebToken verify(String token, PublicKey key) throws ParseException {
        return delegate.verify(token, key);
    }

    @Override
    public JsonWebToken verify(String token, SecretKey key) throws ParseException {
        return delegate.verify(token, key);
    }

    @Override
    public JsonWebToken verify(String token, String secret) throws ParseException {
        return delegate.verify(token, secret);
    }

    @Override
    public JsonWebToken decrypt(String token, PrivateKey key) throws ParseException {
        return delegate.decrypt(token, key);
    }

    @Override
    public JsonWebToken decrypt(String token, SecretKey key) throws ParseException {
        return delegate.decrypt(token, key);
    }

    @Override
    public JsonWebToken decrypt(String token, String secret) throws ParseException {
        return delegate.decrypt(token, secret);
    }

    @Override
    public JsonWebToken parseOnly(String token) throws ParseException {
        return delegate.parseOnly(token);
    }
}
