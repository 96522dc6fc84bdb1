package dev.tokenvault.token;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;

import jakarta.enterprise.context.ApplicationScoped;

import dev.tokenvault.connection.AuthType;
import dev.tokenvault.connection.Connection;
import dev.tokenvault.connection.ConnectionResponse;
import dev.tokenvault.connection.ConnectionService;
import dev.tokenvault.connection.ConnectionStatus;
import dev.tokenvault.connection.OpenedConnection;
import dev.tokenvault.crypto.SecretField;
import dev.tokenvault.oauth.InstallService;
import dev.tokenvault.refresh.FreshToken;
import dev.tokenvault.refresh.NeedsReauthException;
import dev.tokenvault.refresh.RefreshService;
import dev.tokenvault.refresh.RefreshUnavailableException;
import dev.tokenvault.token.TokenCache.Entry;
import dev.tokenvault.web.ApiException;
import io.smallrye.mutiny.Uni;

/**
 * The hot path: a usable access token for (app, portal). A cache hit does no I/O. On a miss the row is read and
 * opened; a token too old for the caller is refreshed once, through the single-flight refresh shared with the
 * scheduler.
 */
@ApplicationScoped
public class TokenService {

    private final TokenCache cache;
    private final ConnectionService connections;
    private final RefreshService refresher;
    private final InstallService installs;
    private final InstantSource clock;

    TokenService(TokenCache cache, ConnectionService connections, RefreshService refresher, InstallService installs,
            InstantSource clock) {
        this.cache = cache;
        this.connections = connections;
        this.refresher = refresher;
        this.installs = installs;
        this.clock = clock;
    }

    /** How a hand-out was served, for metrics and audit. */
    public enum Source {
        CACHE,
        STORE,
        REFRESHED,
        /** Refresh failed transiently; the still-valid token was served though it lives less than asked. */
        STALE
    }

    public record HandOut(TokenResponse token, Source source) {
    }

    public Uni<HandOut> handOut(String app, long portalId, int minValiditySeconds) {
        Instant now = clock.instant();
        Instant needed = now.plusSeconds(minValiditySeconds);
        Entry cached = cache.get(app, portalId);
        if (cached != null && (cached.expiresAt() == null || !cached.expiresAt().isBefore(needed))) {
            return Uni.createFrom().item(new HandOut(response(app, portalId, cached, now), Source.CACHE));
        }
        return connections.open(app, portalId).chain(found -> {
            OpenedConnection opened = found.orElseThrow(() -> notConnected(app, portalId));
            Connection c = opened.connection();
            if (c.authType().isStatic()) {
                Entry e = new Entry(opened.secret(SecretField.PRIVATE_APP_TOKEN)
                        .orElseThrow(() -> notConnected(app, portalId)), null, c.scopes(), c.authType().value(),
                        c.installedAt());
                cache.put(app, portalId, e);
                return Uni.createFrom().item(new HandOut(response(app, portalId, e, now), Source.STORE));
            }
            if (c.status() == ConnectionStatus.NEEDS_REAUTH) {
                cache.invalidate(app, portalId);
                throw ApiException.needsReauth(app, portalId, installs.installUrl(app));
            }
            String access = opened.secret(SecretField.ACCESS_TOKEN).orElse(null);
            Instant expiresAt = c.accessExpiresAt();
            if (access != null && expiresAt != null && !expiresAt.isBefore(needed)) {
                Entry e = new Entry(access, expiresAt, c.scopes(), AuthType.OAUTH.value());
                cache.put(app, portalId, e);
                return Uni.createFrom().item(new HandOut(response(app, portalId, e, now), Source.STORE));
            }
            if (access != null && expiresAt != null && expiresAt.isAfter(now) && c.refreshFailures() > 0
                    && c.nextRefreshAt() != null && c.nextRefreshAt().isAfter(now)) {
                // HubSpot failed recently and the retry is not due: serve the still-valid token, do not hammer
                Entry stale = new Entry(access, expiresAt, c.scopes(), AuthType.OAUTH.value());
                return Uni.createFrom().item(new HandOut(response(app, portalId, stale, now), Source.STALE));
            }
            return refresher.refresh(app, portalId, fresh -> fresh.accessExpiresAt() != null
                    && !fresh.accessExpiresAt().isBefore(needed))
                    .map(fresh -> new HandOut(cacheAndRespond(app, portalId, fresh), Source.REFRESHED))
                    .onFailure(RefreshUnavailableException.class).recoverWithUni(e -> {
                        if (access != null && expiresAt != null && expiresAt.isAfter(clock.instant())) {
                            Entry stale = new Entry(access, expiresAt, c.scopes(), AuthType.OAUTH.value());
                            return Uni.createFrom().item(
                                    new HandOut(response(app, portalId, stale, clock.instant()), Source.STALE));
                        }
                        return Uni.createFrom().failure(unavailable((RefreshUnavailableException) e));
                    })
                    .onFailure(NeedsReauthException.class).transform(e -> {
                        cache.invalidate(app, portalId);
                        return ApiException.needsReauth(app, portalId, installs.installUrl(app));
                    });
        });
    }

    /** Refreshes now, whatever the cached token's age. */
    public Uni<TokenResponse> forceRefresh(String app, long portalId) {
        Instant requested = clock.instant();
        return refresher.refresh(app, portalId, c -> c.lastRefreshAt() != null && !c.lastRefreshAt().isBefore(requested))
                .map(fresh -> cacheAndRespond(app, portalId, fresh))
                .onFailure(RefreshUnavailableException.class)
                .transform(e -> unavailable((RefreshUnavailableException) e))
                .onFailure(NeedsReauthException.class).transform(e -> {
                    cache.invalidate(app, portalId);
                    return ApiException.needsReauth(app, portalId, installs.installUrl(app));
                });
    }

    private TokenResponse cacheAndRespond(String app, long portalId, FreshToken fresh) {
        Entry e = new Entry(fresh.accessToken(), fresh.expiresAt(), fresh.scopes(), AuthType.OAUTH.value());
        if (fresh.accessToken() != null) {
            cache.put(app, portalId, e);
        }
        return response(app, portalId, e, clock.instant());
    }

    private static TokenResponse response(String app, long portalId, Entry e, Instant now) {
        Long expiresIn = e.expiresAt() == null ? null
                : Math.max(0, Duration.between(now, e.expiresAt()).getSeconds());
        Long tokenAge = e.storedAt() == null ? null : ConnectionResponse.tokenAge(e.storedAt(), now);
        return new TokenResponse(app, portalId, e.accessToken(), "bearer", e.expiresAt(), expiresIn, e.scopes(),
                e.authType(), tokenAge);
    }

    private static ApiException unavailable(RefreshUnavailableException e) {
        return ApiException.unavailable("the token could not be refreshed now: " + e.getMessage(), e.retryAfter(),
                null);
    }

    static ApiException notConnected(String app, long portalId) {
        return ApiException.notFound("portal " + portalId + " has no connection for app " + app);
    }
}
