package dev.tokenvault.sandbox;

import static dev.tokenvault.sandbox.HubSpotSimulator.OP_CODE;
import static dev.tokenvault.sandbox.HubSpotSimulator.OP_INTROSPECT;
import static dev.tokenvault.sandbox.HubSpotSimulator.OP_REFRESH;
import static dev.tokenvault.sandbox.HubSpotSimulator.OP_REVOKE;
import static dev.tokenvault.sandbox.HubSpotSimulator.OP_TOKEN;
import static dev.tokenvault.sandbox.HubSpotSimulator.V1;
import static dev.tokenvault.sandbox.SimHttp.base64;
import static dev.tokenvault.sandbox.SimHttp.constantTimeEquals;
import static dev.tokenvault.sandbox.SimHttp.first;
import static dev.tokenvault.sandbox.SimHttp.isBlank;
import static dev.tokenvault.sandbox.SimHttp.json;
import static dev.tokenvault.sandbox.SimHttp.merged;
import static dev.tokenvault.sandbox.SimHttp.ordered;
import static dev.tokenvault.sandbox.SimHttp.percentDecode;
import static dev.tokenvault.sandbox.SimHttp.sha256;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import dev.tokenvault.sandbox.HubSpotSimulator.App;
import dev.tokenvault.sandbox.HubSpotSimulator.Portal;
import dev.tokenvault.sandbox.HubSpotSimulator.SimRequest;
import dev.tokenvault.sandbox.HubSpotSimulator.SimResponse;
import dev.tokenvault.sandbox.HubSpotSimulator.TokenResponseStyle;
import dev.tokenvault.sandbox.SimRoute.Handled;
import dev.tokenvault.sandbox.SimState.AccessTok;
import dev.tokenvault.sandbox.SimState.AuthCode;
import dev.tokenvault.sandbox.SimState.RefreshTok;

/**
 * HubSpot's OAuth token API for both generations: the legacy {@code /oauth/v1/token}, token metadata and revoke
 * endpoints, and the date-versioned {@code /oauth/{version}/token}, {@code .../introspect} and {@code .../revoke}
 * (form bodies only). The consent step lives in {@link SimConsent}.
 */
final class SimOAuth {

    private static final Pattern DATED_TOKEN_PATH = Pattern
            .compile("^/oauth/(v3|\\d{4}-\\d{2}(?:-beta)?)/token(?:/(introspect|revoke))?$");
    private static final Pattern V1_METADATA_PATH = Pattern.compile("^/oauth/v1/(access-tokens|refresh-tokens)/([^/]+)$");

    private final SimState s;

    SimOAuth(SimState state) {
        this.s = state;
    }

    /** The route of a token API request, or null when the path is not one of these endpoints. */
    SimRoute route(SimRequest req) {
        String path = req.path();
        String method = req.method();
        if (path.equals("/oauth/v1/token")) {
            if (!method.equals("POST")) {
                return SimRoute.methodNotAllowed("POST");
            }
            // v1 historically accepts parameters in the query string too (the spec lists client_secret/refresh_token
            // as query parameters); the body wins.
            return tokenRoute(V1, merged(req.query(), req.form()));
        }
        Matcher meta = V1_METADATA_PATH.matcher(path);
        if (meta.matches()) {
            String kind = meta.group(1);
            String token = percentDecode(meta.group(2));
            if (kind.equals("access-tokens")) {
                if (!method.equals("GET")) {
                    return SimRoute.methodNotAllowed("GET");
                }
                return new SimRoute(OP_INTROSPECT, V1, null, null, () -> v1AccessTokenInfo(token));
            }
            if (method.equals("GET")) {
                return new SimRoute(OP_INTROSPECT, V1, null, null, () -> v1RefreshTokenInfo(token));
            }
            if (method.equals("DELETE")) {
                return new SimRoute(OP_REVOKE, V1, null, null, () -> v1Revoke(token));
            }
            return SimRoute.methodNotAllowed("GET, DELETE");
        }
        Matcher dated = DATED_TOKEN_PATH.matcher(path);
        if (dated.matches()) {
            String version = dated.group(1);
            String sub = dated.group(2);
            if (!method.equals("POST")) {
                return SimRoute.methodNotAllowed("POST");
            }
            // Dated versions take every parameter from the form body only.
            Map<String, String> p = first(req.form());
            if (sub == null) {
                return tokenRoute(version, p);
            }
            if (sub.equals("introspect")) {
                return new SimRoute(OP_INTROSPECT, version, null, p.get("client_id"),
                        () -> Handled.of(introspect(version, p)));
            }
            return new SimRoute(OP_REVOKE, version, null, p.get("client_id"), () -> Handled.of(datedRevoke(version, p)));
        }
        return null;
    }

    private SimRoute tokenRoute(String version, Map<String, String> p) {
        String grant = p.get("grant_type");
        String op = "authorization_code".equals(grant) ? OP_CODE : "refresh_token".equals(grant) ? OP_REFRESH : OP_TOKEN;
        return new SimRoute(op, version, grant, p.get("client_id"), () -> token(version, p));
    }

    private Handled token(String version, Map<String, String> p) {
        String grant = p.get("grant_type");
        if (isBlank(grant)) {
            return Handled.of(error(version, 400, "BAD_GRANT_TYPE", "invalid_request", "missing grant_type"));
        }
        if (!grant.equals("authorization_code") && !grant.equals("refresh_token")) {
            return Handled.of(error(version, 400, "BAD_GRANT_TYPE", "unsupported_grant_type",
                    "unsupported grant_type: " + grant));
        }
        Object clientCheck = authenticateClient(version, p);
        if (clientCheck instanceof SimResponse) {
            return Handled.of((SimResponse) clientCheck);
        }
        App app = (App) clientCheck;
        Instant now = s.clock.instant();
        return grant.equals("authorization_code") ? codeGrant(version, app, p, now) : refreshGrant(version, app, p, now);
    }

    /** Returns the {@link App} or an error {@link SimResponse}. */
    private Object authenticateClient(String version, Map<String, String> p) {
        String clientId = p.get("client_id");
        if (isBlank(clientId)) {
            return error(version, 400, "BAD_CLIENT_ID", "invalid_client", "missing or invalid client id");
        }
        App app = s.apps.get(clientId);
        if (app == null) {
            return error(version, 400, "BAD_CLIENT_ID", "invalid_client", "missing or invalid client id");
        }
        String secret = p.get("client_secret");
        if (isBlank(secret) || !constantTimeEquals(secret, app.clientSecret())) {
            return error(version, 400, "BAD_CLIENT_ID", "invalid_client",
                    "client_secret is missing or does not match the client id");
        }
        return app;
    }

    private Handled codeGrant(String version, App app, Map<String, String> p, Instant now) {
        String code = p.get("code");
        AuthCode ac = isBlank(code) ? null : s.codes.get(code);
        if (ac == null || !ac.clientId.equals(app.clientId())) {
            return Handled.of(error(version, 400, "BAD_AUTH_CODE", "invalid_grant", "missing or unknown auth code"));
        }
        if (!now.isBefore(ac.expiresAt)) {
            s.codes.remove(code, ac);
            return Handled.of(error(version, 400, "EXPIRED_AUTH_CODE", "invalid_grant", "auth code is expired"));
        }
        String redirectUri = p.get("redirect_uri");
        if (isBlank(redirectUri) || !redirectUri.equals(ac.redirectUri)) {
            return Handled.of(error(version, 400, "BAD_REDIRECT_URI", "invalid_grant",
                    "redirect_uri does not match the redirect_uri used to obtain the auth code"));
        }
        if (ac.codeChallenge != null && !pkceMatches(ac, p.get("code_verifier"))) {
            return Handled.of(error(version, 400, "BAD_AUTH_CODE", "invalid_grant", "code_verifier does not match"));
        }
        if (!s.codes.remove(code, ac)) { // single use, also under concurrency
            return Handled.of(error(version, 400, "BAD_AUTH_CODE", "invalid_grant", "missing or unknown auth code"));
        }
        RefreshTok rt = s.newRefreshToken(app, ac.hubId, ac.scopes, now);
        AccessTok at = s.newAccessToken(app, ac.hubId, ac.scopes, now, rt.token);
        return new Handled(json(200, tokenBody(at, rt)), ac.hubId);
    }

    private Handled refreshGrant(String version, App app, Map<String, String> p, Instant now) {
        String token = p.get("refresh_token");
        RefreshTok rt = isBlank(token) ? null : s.refreshTokens.get(token);
        if (rt == null || rt.revoked) {
            return Handled.of(error(version, 400, "BAD_REFRESH_TOKEN", "invalid_grant", "missing or invalid refresh token"));
        }
        if (!rt.clientId.equals(app.clientId())) {
            return Handled.of(error(version, 400, "BAD_REFRESH_TOKEN", "invalid_grant",
                    "refresh token was not issued to this client"));
        }
        RefreshTok current = rt;
        if (s.rotateRefreshTokens) {
            current = s.newRefreshToken(app, rt.hubId, rt.scopes, now);
            s.revoke(rt);
        }
        AccessTok at = s.newAccessToken(app, rt.hubId, rt.scopes, now, current.token);
        return new Handled(json(200, tokenBody(at, current)), rt.hubId);
    }

    private static boolean pkceMatches(AuthCode ac, String verifier) {
        if (isBlank(verifier)) {
            return false;
        }
        if ("plain".equalsIgnoreCase(ac.codeChallengeMethod)) {
            return constantTimeEquals(verifier, ac.codeChallenge);
        }
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(verifier.getBytes(StandardCharsets.US_ASCII));
            return constantTimeEquals(Base64.getUrlEncoder().withoutPadding().encodeToString(d), ac.codeChallenge);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private Map<String, Object> tokenBody(AccessTok at, RefreshTok rt) {
        long expiresIn = Math.max(0, Duration.between(at.issuedAt, at.expiresAt).toSeconds());
        Portal portal = s.portals.get(at.hubId);
        long userId = portal == null ? 0 : portal.userId();
        Map<String, Object> m = new LinkedHashMap<>();
        if (s.tokenResponseStyle == TokenResponseStyle.CAMEL_CASE) {
            m.put("tokenType", "bearer");
            m.put("refreshToken", rt.token);
            m.put("hubId", at.hubId);
            m.put("userId", userId);
            m.put("scopes", at.scopes);
            m.put("accessToken", at.token);
            m.put("expiresIn", expiresIn);
        } else {
            m.put("token_type", "bearer");
            m.put("refresh_token", rt.token);
            m.put("hub_id", at.hubId);
            m.put("user_id", userId);
            m.put("scopes", at.scopes);
            m.put("access_token", at.token);
            m.put("expires_in", expiresIn);
            m.put("token_use", "access_token");
        }
        return m;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Metadata / introspection / revoke
    // ------------------------------------------------------------------------------------------------------------

    private Handled v1AccessTokenInfo(String token) {
        AccessTok at = s.accessTokens.get(token);
        Instant now = s.clock.instant();
        if (at == null || !SimState.active(at, now)) {
            return Handled.of(error(V1, 404, "NOT_FOUND", "invalid_token", "access token not found or expired"));
        }
        Portal portal = s.portalOf(at.hubId);
        long expiresIn = Math.max(0, Duration.between(now, at.expiresAt).toSeconds());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("token", at.token);
        m.put("user", portal.userEmail());
        m.put("hub_domain", portal.hubDomain());
        m.put("scopes", at.scopes);
        m.put("scope_to_scope_group_pks", scopeGroupPks(at.scopes));
        m.put("trial_scopes", List.of());
        m.put("trial_scope_to_scope_group_pks", List.of());
        m.put("hub_id", at.hubId);
        m.put("app_id", at.appId);
        m.put("expires_in", expiresIn);
        m.put("user_id", portal.userId());
        m.put("token_type", "access");
        m.put("is_private_distribution", false);
        m.put("signed_access_token", signedAccessToken(at, portal));
        return new Handled(json(200, m), at.hubId);
    }

    private Handled v1RefreshTokenInfo(String token) {
        RefreshTok rt = s.refreshTokens.get(token);
        if (rt == null || rt.revoked) {
            return Handled.of(error(V1, 404, "NOT_FOUND", "invalid_grant", "refresh token not found or revoked"));
        }
        Portal portal = s.portalOf(rt.hubId);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("token", rt.token);
        m.put("user", portal.userEmail());
        m.put("hub_domain", portal.hubDomain());
        m.put("scopes", rt.scopes);
        m.put("hub_id", rt.hubId);
        m.put("client_id", rt.clientId);
        m.put("user_id", portal.userId());
        m.put("token_type", "refresh");
        return new Handled(json(200, m), rt.hubId);
    }

    private Handled v1Revoke(String token) {
        RefreshTok rt = s.refreshTokens.get(token);
        if (rt == null || rt.revoked) {
            return Handled.of(error(V1, 404, "NOT_FOUND", "invalid_grant", "refresh token not found or revoked"));
        }
        s.revoke(rt);
        return new Handled(new SimResponse(204, Map.of("X-HubSpot-Correlation-Id", UUID.randomUUID().toString()), null),
                rt.hubId);
    }

    private SimResponse introspect(String version, Map<String, String> p) {
        Object clientCheck = authenticateClient(version, p);
        if (clientCheck instanceof SimResponse) {
            return (SimResponse) clientCheck;
        }
        App app = (App) clientCheck;
        String token = p.get("token");
        if (isBlank(token)) {
            return error(version, 400, "BAD_REQUEST", "invalid_request", "missing token");
        }
        Instant now = s.clock.instant();
        boolean refreshFirst = "refresh_token".equals(p.get("token_type_hint"));
        Map<String, Object> body = null;
        for (int i = 0; i < 2 && body == null; i++) {
            boolean lookRefresh = (i == 0) == refreshFirst;
            if (lookRefresh) {
                RefreshTok rt = s.refreshTokens.get(token);
                if (rt != null && !rt.revoked && rt.clientId.equals(app.clientId())) {
                    Portal portal = s.portalOf(rt.hubId);
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("active", true);
                    m.put("token", rt.token);
                    m.put("token_type", "refresh");
                    m.put("token_use", "refresh_token");
                    m.put("client_id", rt.clientId);
                    m.put("app_id", rt.appId);
                    m.put("hub_id", rt.hubId);
                    m.put("hub_domain", portal.hubDomain());
                    m.put("user_id", portal.userId());
                    m.put("user", portal.userEmail());
                    m.put("scopes", rt.scopes);
                    body = m;
                }
            } else {
                AccessTok at = s.accessTokens.get(token);
                if (at != null && SimState.active(at, now) && at.clientId.equals(app.clientId())) {
                    Portal portal = s.portalOf(at.hubId);
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("active", true);
                    m.put("token", at.token);
                    m.put("token_type", "access");
                    m.put("token_use", "access_token");
                    m.put("client_id", at.clientId);
                    m.put("app_id", at.appId);
                    m.put("hub_id", at.hubId);
                    m.put("hub_domain", portal.hubDomain());
                    m.put("user_id", portal.userId());
                    m.put("user", portal.userEmail());
                    m.put("scopes", at.scopes);
                    m.put("expires_in", Math.max(0, Duration.between(now, at.expiresAt).toSeconds()));
                    m.put("is_private_distribution", false);
                    m.put("signed_access_token", signedAccessToken(at, portal));
                    body = m;
                }
            }
        }
        // RFC 7662: unknown, expired, revoked or foreign tokens are simply inactive.
        return json(200, body != null ? body : ordered("active", false));
    }

    private SimResponse datedRevoke(String version, Map<String, String> p) {
        Object clientCheck = authenticateClient(version, p);
        if (clientCheck instanceof SimResponse) {
            return (SimResponse) clientCheck;
        }
        App app = (App) clientCheck;
        String token = p.get("token");
        if (isBlank(token)) {
            return error(version, 400, "BAD_REQUEST", "invalid_request", "missing token");
        }
        RefreshTok rt = s.refreshTokens.get(token);
        if (rt != null && rt.clientId.equals(app.clientId())) {
            s.revoke(rt);
        } else {
            AccessTok at = s.accessTokens.get(token);
            if (at != null && at.clientId.equals(app.clientId())) {
                at.revoked = true;
            }
        }
        // RFC 7009 2.2: 200 also for unknown / already revoked tokens.
        return new SimResponse(200, Map.of("X-HubSpot-Correlation-Id", UUID.randomUUID().toString()), null);
    }

    private static List<Integer> scopeGroupPks(List<String> scopes) {
        List<Integer> pks = new ArrayList<>();
        for (String s : scopes) {
            pks.add(Math.floorMod(s.hashCode(), 90_000) + 10_000);
        }
        return pks;
    }

    private Map<String, Object> signedAccessToken(AccessTok at, Portal portal) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("expiresAt", at.expiresAt.toEpochMilli());
        s.put("scopes", String.join(",", at.scopes));
        s.put("hubId", at.hubId);
        s.put("userId", portal.userId());
        s.put("appId", at.appId);
        s.put("signature", base64(sha256(("sig:" + at.token).getBytes(StandardCharsets.UTF_8))));
        s.put("scopeToScopeGroupPks", scopeGroupPks(at.scopes).stream().map(String::valueOf).collect(Collectors.joining(",")));
        s.put("newSignature", base64(sha256(("new:" + at.token).getBytes(StandardCharsets.UTF_8))));
        s.put("hublet", "na1");
        s.put("trialScopes", "");
        s.put("trialScopeToScopeGroupPks", "");
        s.put("isUserLevel", false);
        s.put("isServiceAccount", false);
        s.put("isPrivateDistribution", false);
        s.put("installingUserId", portal.userId());
        s.put("appInstallId", at.appId + ":" + at.hubId);
        s.put("audience", "");
        return s;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------------------------

    /**
     * HubSpot OAuth error: legacy {@code status}/{@code message}, RFC 6749 {@code error}/{@code error_description}
     * (added to v1 and newer versions alike) and {@code correlationId}; dated versions also carry {@code category}.
     */
    private static SimResponse error(String version, int httpStatus, String hubspotStatus, String oauthError,
            String message) {
        return json(httpStatus, errorBody(version, hubspotStatus, oauthError, message, null));
    }

    static Map<String, Object> errorBody(String version, String hubspotStatus, String oauthError, String message,
            String category) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("status", hubspotStatus);
        m.put("message", message);
        m.put("correlationId", UUID.randomUUID().toString());
        if (oauthError != null) {
            m.put("error", oauthError);
            m.put("error_description", message);
        }
        if (category != null) {
            m.put("category", category);
        } else if (version != null && !version.equals(V1)) {
            m.put("category", categoryFor(oauthError));
        }
        return m;
    }

    private static String categoryFor(String oauthError) {
        if (oauthError == null) {
            return "ERROR";
        }
        switch (oauthError) {
            case "invalid_client":
                return "INVALID_AUTHENTICATION";
            case "server_error":
            case "temporarily_unavailable":
                return "INTERNAL_ERROR";
            default:
                return "VALIDATION_ERROR";
        }
    }

    static String oauthErrorFor(String hubspotStatus, int httpStatus) {
        if (hubspotStatus != null) {
            switch (hubspotStatus) {
                case "BAD_AUTH_CODE":
                case "EXPIRED_AUTH_CODE":
                case "BAD_REFRESH_TOKEN":
                case "BAD_REDIRECT_URI":
                    return "invalid_grant";
                case "BAD_CLIENT_ID":
                    return "invalid_client";
                case "BAD_GRANT_TYPE":
                    return "unsupported_grant_type";
                default:
                    break;
            }
        }
        if (httpStatus == 503) {
            return "temporarily_unavailable";
        }
        return httpStatus >= 500 ? "server_error" : "invalid_request";
    }

    static String messageFor(String hubspotStatus) {
        switch (hubspotStatus) {
            case "BAD_AUTH_CODE":
                return "missing or unknown auth code";
            case "EXPIRED_AUTH_CODE":
                return "auth code is expired";
            case "BAD_REFRESH_TOKEN":
                return "missing or invalid refresh token";
            case "BAD_REDIRECT_URI":
                return "redirect_uri does not match the redirect_uri used to obtain the auth code";
            case "BAD_CLIENT_ID":
                return "missing or invalid client id";
            default:
                return hubspotStatus.toLowerCase(Locale.ROOT).replace('_', ' ') + " (injected)";
        }
    }
}
