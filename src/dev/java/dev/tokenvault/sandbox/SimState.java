package dev.tokenvault.sandbox;

import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import dev.tokenvault.sandbox.HubSpotSimulator.App;
import dev.tokenvault.sandbox.HubSpotSimulator.Portal;
import dev.tokenvault.sandbox.HubSpotSimulator.TokenResponseStyle;

/**
 * The simulator's shared state: clock, settings, apps, portals, authorization codes, refresh and access tokens,
 * private-app tokens. Every map is concurrent; settings are volatile.
 */
final class SimState {

    static final class AuthCode {
        final String code;
        final String clientId;
        final String redirectUri;
        final long hubId;
        final List<String> scopes;
        final Instant expiresAt;
        final String codeChallenge;
        final String codeChallengeMethod;

        AuthCode(String code, String clientId, String redirectUri, long hubId, List<String> scopes, Instant expiresAt,
                String codeChallenge, String codeChallengeMethod) {
            this.code = code;
            this.clientId = clientId;
            this.redirectUri = redirectUri;
            this.hubId = hubId;
            this.scopes = scopes;
            this.expiresAt = expiresAt;
            this.codeChallenge = codeChallenge;
            this.codeChallengeMethod = codeChallengeMethod;
        }
    }

    static final class RefreshTok {
        final String token;
        final String clientId;
        final long appId;
        final long hubId;
        final List<String> scopes;
        final Instant createdAt;
        volatile boolean revoked;

        RefreshTok(String token, String clientId, long appId, long hubId, List<String> scopes, Instant createdAt) {
            this.token = token;
            this.clientId = clientId;
            this.appId = appId;
            this.hubId = hubId;
            this.scopes = scopes;
            this.createdAt = createdAt;
        }
    }

    static final class AccessTok {
        final String token;
        final String clientId;
        final long appId;
        final long hubId;
        final List<String> scopes;
        final Instant issuedAt;
        final Instant expiresAt;
        final String refreshToken;
        volatile boolean revoked;

        AccessTok(String token, String clientId, long appId, long hubId, List<String> scopes, Instant issuedAt,
                Instant expiresAt, String refreshToken) {
            this.token = token;
            this.clientId = clientId;
            this.appId = appId;
            this.hubId = hubId;
            this.scopes = scopes;
            this.issuedAt = issuedAt;
            this.expiresAt = expiresAt;
            this.refreshToken = refreshToken;
        }
    }

    final InstantSource clock;
    final SecureRandom random = new SecureRandom();
    final Map<String, App> apps = new ConcurrentHashMap<>();
    final Map<Long, Portal> portals = new ConcurrentHashMap<>();
    final Map<String, AuthCode> codes = new ConcurrentHashMap<>();
    final Map<String, RefreshTok> refreshTokens = new ConcurrentHashMap<>();
    final Map<String, AccessTok> accessTokens = new ConcurrentHashMap<>();
    /** Static tokens (private-app tokens and service keys) that CRM calls accept: token to portal id. */
    final Map<String, Long> privateAppTokens = new ConcurrentHashMap<>();
    /** What the simulator knows of each static token: kind, account, app, user, scopes. */
    final Map<String, StaticTok> staticTokens = new ConcurrentHashMap<>();
    final Map<Long, AtomicLong> generations = new ConcurrentHashMap<>();
    private final AtomicLong issued = new AtomicLong();

    volatile Duration accessTokenLifetime = HubSpotSimulator.DEFAULT_ACCESS_TOKEN_LIFETIME;
    volatile Duration authCodeLifetime = HubSpotSimulator.DEFAULT_AUTH_CODE_LIFETIME;
    volatile boolean rotateRefreshTokens = false;
    volatile boolean revokeCascadesToAccessTokens = false;
    volatile boolean autoCreatePortals = true;
    volatile TokenResponseStyle tokenResponseStyle = TokenResponseStyle.SNAKE_CASE;
    volatile long defaultPortalId = 0;

    SimState(InstantSource clock) {
        this.clock = clock;
    }

    App requireApp(String clientId) {
        App app = apps.get(clientId);
        if (app == null) {
            throw new IllegalArgumentException("unknown client_id " + clientId);
        }
        return app;
    }

    Portal portalOf(long hubId) {
        Portal p = portals.get(hubId);
        return p != null ? p : Portal.of(hubId);
    }

    long defaultPortal() {
        if (defaultPortalId > 0) {
            return defaultPortalId;
        }
        return portals.keySet().stream().min(Long::compare).orElse(0L);
    }

    AuthCode newCode(App app, String redirectUri, long hubId, List<String> scopes, String challenge, String method) {
        Instant now = clock.instant();
        String code = UUID.randomUUID().toString();
        AuthCode ac = new AuthCode(code, app.clientId(), redirectUri, hubId, scopes, now.plus(authCodeLifetime), challenge,
                method);
        codes.put(code, ac);
        return ac;
    }

    RefreshTok newRefreshToken(App app, long hubId, List<String> scopes, Instant now) {
        RefreshTok rt = new RefreshTok(newRefreshTokenValue(), app.clientId(), app.appId(), hubId, scopes, now);
        refreshTokens.put(rt.token, rt);
        return rt;
    }

    AccessTok newAccessToken(App app, long hubId, List<String> scopes, Instant now, String refreshToken) {
        AccessTok at = new AccessTok(newAccessTokenValue(), app.clientId(), app.appId(), hubId, scopes, now,
                now.plus(accessTokenLifetime), refreshToken);
        accessTokens.put(at.token, at);
        generations.computeIfAbsent(hubId, k -> new AtomicLong()).incrementAndGet();
        if (issued.incrementAndGet() % 1024 == 0) {
            prune(now);
        }
        return at;
    }

    void revoke(RefreshTok rt) {
        rt.revoked = true;
        if (revokeCascadesToAccessTokens) {
            for (AccessTok at : accessTokens.values()) {
                if (rt.token.equals(at.refreshToken)) {
                    at.revoked = true;
                }
            }
        }
    }

    static boolean active(AccessTok at, Instant now) {
        return !at.revoked && now.isBefore(at.expiresAt);
    }

    /** Forgets codes, tokens and generations (apps, portals, private-app tokens and settings are kept). */
    void reset() {
        codes.clear();
        refreshTokens.clear();
        accessTokens.clear();
        generations.clear();
    }

    /** Drops access tokens and codes that expired more than an hour ago (keeps memory flat under the benchmark). */
    private void prune(Instant now) {
        Instant cutoff = now.minus(Duration.ofHours(1));
        accessTokens.values().removeIf(at -> at.expiresAt.isBefore(cutoff));
        codes.values().removeIf(c -> c.expiresAt.isBefore(cutoff));
    }

    /** Looks like HubSpot's opaque access tokens ("C..." base64url, well under the documented 300 chars). */
    private String newAccessTokenValue() {
        byte[] b = new byte[48];
        random.nextBytes(b);
        return "CK" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** Looks like HubSpot's refresh tokens: {@code na1-xxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}. */
    private String newRefreshTokenValue() {
        byte[] b = new byte[14];
        random.nextBytes(b);
        String hex = HexFormat.of().formatHex(b);
        return "na1-" + hex.substring(0, 4) + "-" + hex.substring(4, 8) + "-" + hex.substring(8, 12) + "-"
                + hex.substring(12, 16) + "-" + hex.substring(16, 28);
    }

    /** A static token: a private-app token ({@code serviceKey} false) or a service key, of one account. */
    record StaticTok(String token, long hubId, boolean serviceKey, long appId, long userId, List<String> scopes) {
        @Override
        public String toString() {
            return "StaticTok[" + (serviceKey ? "service_key" : "private_app") + ", hub " + hubId + "]";
        }
    }
}
