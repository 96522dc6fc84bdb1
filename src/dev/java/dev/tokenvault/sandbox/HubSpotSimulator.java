package dev.tokenvault.sandbox;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import dev.tokenvault.sandbox.SimRoute.Handled;
import dev.tokenvault.sandbox.SimState.AccessTok;
import dev.tokenvault.sandbox.SimState.RefreshTok;

/**
 * Transport-agnostic simulator of HubSpot's public OAuth 2.0 API for a public app (see
 * {@code docs/hubspot-oauth-api.md} for the API facts and their sources).
 *
 * <p>
 * One instance serves tests (through {@code FakeHubSpot}, a JDK {@code HttpServer} on its own port), dev mode
 * (mounted under {@code /sandbox/hubspot}) and the benchmark. Every HTTP request is mapped to a {@link SimRequest} whose
 * {@code path} is relative to the HubSpot roots ({@code api.hubapi.com} and {@code app.hubspot.com} share one root
 * here), and answered by {@link #handle(SimRequest)}.
 *
 * <p>
 * Supported endpoints:
 * <ul>
 * <li>{@code GET  /oauth/authorize}, {@code GET /oauth/{portalId}/authorize} - HTML consent page (no JavaScript)</li>
 * <li>{@code POST /oauth/authorize} - consent form submit: 302 to {@code redirect_uri} with {@code code}+{@code state}
 * or {@code error=access_denied}+{@code state}</li>
 * <li>{@code POST /oauth/v1/token} - legacy token endpoint (form body; v1 also accepts query parameters)</li>
 * <li>{@code GET /oauth/v1/access-tokens/{token}}, {@code GET /oauth/v1/refresh-tokens/{token}} - legacy metadata</li>
 * <li>{@code DELETE /oauth/v1/refresh-tokens/{token}} - legacy revoke (204)</li>
 * <li>{@code POST /oauth/{version}/token}, {@code .../token/introspect}, {@code .../token/revoke} for {@code version}
 * {@code 2026-03} (and the aliases {@code v3}, {@code 2026-09}, any {@code yyyy-mm}) - form body only</li>
 * <li>{@code POST /oauth/v2/private-apps/get/access-token-info} - what a private-app token belongs to (JSON body
 * {@code tokenKey}; see {@code SimStaticTokens}); CRM calls accept private-app tokens and service keys</li>
 * <li>{@code /crm/v3/objects/{contacts|companies|deals}}: list, get, create, update, archive, {@code batch/read} and
 * {@code search}, with a bearer token, HubSpot's error bodies, rate-limit headers and rolling windows (see
 * {@code SimCrm}, {@code SimCrmSearch}, {@code SimRateLimits})</li>
 * </ul>
 *
 * <p>
 * The areas live in package-private classes: {@code SimState} (apps, portals, codes, tokens), {@code SimOAuth} and
 * {@code SimConsent} (OAuth), {@code SimCrm} (CRM objects), {@code SimWebhooks} (webhook signing), {@code SimFaults}
 * (fault injection and recording); this class is the facade that routes requests and holds the public API.
 *
 * <p>
 * State (apps, portals, codes, tokens) lives in concurrent maps; every public method is thread-safe. Time comes from
 * the injected {@link InstantSource} (see {@link ManualClock}); only {@link #stallNext stalls} use real time.
 */
public final class HubSpotSimulator {

    /** Operation names used by {@link #count(String)}, {@link #requests(String)} and fault targets. */
    public static final String OP_AUTHORIZE = "authorize";
    public static final String OP_CONSENT = "consent";
    public static final String OP_CODE = "code";
    public static final String OP_REFRESH = "refresh";
    /** Token endpoint call with a missing / unsupported grant type. As a fault target, "token" matches code+refresh. */
    public static final String OP_TOKEN = "token";
    public static final String OP_INTROSPECT = "introspect";
    public static final String OP_REVOKE = "revoke";
    public static final String OP_UNKNOWN = "unknown";
    /** {@code POST /oauth/v2/private-apps/get/access-token-info}. */
    public static final String OP_TOKEN_INFO = "token_info";
    /** CRM objects API operations ({@code /crm/v3/objects/...}); a fault target may also be a path like /crm/. */
    public static final String OP_CRM_LIST = "crm.list";
    public static final String OP_CRM_GET = "crm.get";
    public static final String OP_CRM_CREATE = "crm.create";
    public static final String OP_CRM_UPDATE = "crm.update";
    public static final String OP_CRM_DELETE = "crm.delete";
    public static final String OP_CRM_BATCH_READ = "crm.batch_read";
    public static final String OP_CRM_SEARCH = "crm.search";

    public static final String V1 = "v1";
    public static final String V2026_03 = "2026-03";

    public static final Duration DEFAULT_ACCESS_TOKEN_LIFETIME = Duration.ofMinutes(30);
    public static final Duration DEFAULT_AUTH_CODE_LIFETIME = Duration.ofMinutes(5);

    private static final String FORM_TYPE = SimHttp.FORM_TYPE;

    // ------------------------------------------------------------------------------------------------------------
    // Public value types
    // ------------------------------------------------------------------------------------------------------------

    /**
     * A request as seen by the simulator.
     *
     * @param method HTTP method
     * @param path path relative to the HubSpot API root, e.g. {@code /oauth/v1/token}; may be raw
     *        (percent-encoded) - token path segments are decoded by the simulator. A {@code ?query} suffix
     *        is split off and merged into {@code query}.
     * @param query decoded query parameters
     * @param headers request headers (names matched case-insensitively)
     * @param body raw request body (form bodies must be {@code application/x-www-form-urlencoded})
     * @param mountPrefix public path prefix under which the simulator is mounted ("" for its own server,
     *        {@code /sandbox/hubspot} in dev mode); used to build the consent form's action URL
     */
    public record SimRequest(String method, String path, Map<String, List<String>> query,
            Map<String, List<String>> headers, byte[] body, String mountPrefix) {

        public SimRequest {
            method = method == null ? "GET" : method.toUpperCase(Locale.ROOT);
            Map<String, List<String>> q = new LinkedHashMap<>();
            if (query != null) {
                query.forEach((k, v) -> q.computeIfAbsent(k, x -> new ArrayList<>()).addAll(v == null ? List.of() : v));
            }
            path = path == null || path.isEmpty() ? "/" : path;
            int qm = path.indexOf('?');
            if (qm >= 0) {
                parseQuery(path.substring(qm + 1)).forEach((k, v) -> q.computeIfAbsent(k, x -> new ArrayList<>()).addAll(v));
                path = path.substring(0, qm);
            }
            if (!path.startsWith("/")) {
                path = "/" + path;
            }
            if (path.length() > 1 && path.endsWith("/")) {
                path = path.substring(0, path.length() - 1);
            }
            query = Collections.unmodifiableMap(q);
            headers = headers == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(headers));
            body = body == null ? new byte[0] : body;
            mountPrefix = mountPrefix == null ? ""
                    : (mountPrefix.endsWith("/") ? mountPrefix.substring(0, mountPrefix.length() - 1) : mountPrefix);
        }

        public SimRequest(String method, String path, Map<String, List<String>> query,
                Map<String, List<String>> headers, byte[] body) {
            this(method, path, query, headers, body, "");
        }

        /** {@code GET} of a path that may carry a query string. */
        public static SimRequest get(String pathAndQuery) {
            return new SimRequest("GET", pathAndQuery, null, null, null);
        }

        /** {@code DELETE} of a path. */
        public static SimRequest delete(String path) {
            return new SimRequest("DELETE", path, null, null, null);
        }

        /** {@code POST} with an {@code application/x-www-form-urlencoded} body built from {@code form}. */
        public static SimRequest postForm(String path, Map<String, String> form) {
            return new SimRequest("POST", path, null, Map.of("Content-Type", List.of(FORM_TYPE)),
                    formEncode(form).getBytes(StandardCharsets.UTF_8));
        }

        public SimRequest withMountPrefix(String prefix) {
            return new SimRequest(method, path, query, headers, body, prefix);
        }

        /** First value of a header, case-insensitive, or {@code null}. */
        public String header(String name) {
            for (Map.Entry<String, List<String>> e : headers.entrySet()) {
                if (e.getKey() != null && e.getKey().equalsIgnoreCase(name) && e.getValue() != null
                        && !e.getValue().isEmpty()) {
                    return e.getValue().get(0);
                }
            }
            return null;
        }

        /** First value of a query parameter or {@code null}. */
        public String queryParam(String name) {
            List<String> v = query.get(name);
            return v == null || v.isEmpty() ? null : v.get(0);
        }

        /** The body decoded as a form if the content type is form-urlencoded (or absent); otherwise empty. */
        public Map<String, List<String>> form() {
            String ct = header("Content-Type");
            if (body.length == 0 || (ct != null && !ct.toLowerCase(Locale.ROOT).startsWith(FORM_TYPE))) {
                return Map.of();
            }
            return parseQuery(new String(body, StandardCharsets.UTF_8));
        }
    }

    /** A response: status, single-valued headers (insertion ordered) and body bytes. */
    public record SimResponse(int status, Map<String, String> headers, byte[] body) {
        public SimResponse {
            headers = headers == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(headers));
            body = body == null ? new byte[0] : body;
        }

        public String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }

        /** Header value, case-insensitive, or {@code null}. */
        public String header(String name) {
            for (Map.Entry<String, String> e : headers.entrySet()) {
                if (e.getKey().equalsIgnoreCase(name)) {
                    return e.getValue();
                }
            }
            return null;
        }
    }

    /**
     * A registered public app.
     *
     * @param redirectUriPrefixes a {@code redirect_uri} is accepted if it equals or starts with one of these
     * @param requiredScopes scopes that must all appear in {@code scope}; if both scope sets are empty any scopes
     *        are accepted
     * @param optionalScopes scopes allowed in {@code optional_scope}
     */
    public record App(String clientId, String clientSecret, long appId, List<String> redirectUriPrefixes,
            Set<String> requiredScopes, Set<String> optionalScopes) {
        public App {
            Objects.requireNonNull(clientId, "clientId");
            Objects.requireNonNull(clientSecret, "clientSecret");
            redirectUriPrefixes = List.copyOf(redirectUriPrefixes == null ? List.of() : redirectUriPrefixes);
            requiredScopes = Collections
                    .unmodifiableSet(new LinkedHashSet<>(requiredScopes == null ? Set.of() : requiredScopes));
            optionalScopes = Collections
                    .unmodifiableSet(new LinkedHashSet<>(optionalScopes == null ? Set.of() : optionalScopes));
        }

        /** App accepting any scopes. */
        public App(String clientId, String clientSecret, long appId, String... redirectUriPrefixes) {
            this(clientId, clientSecret, appId, List.of(redirectUriPrefixes), Set.of(), Set.of());
        }

        public App withClientSecret(String newSecret) {
            return new App(clientId, newSecret, appId, redirectUriPrefixes, requiredScopes, optionalScopes);
        }

        boolean acceptsRedirect(String uri) {
            for (String p : redirectUriPrefixes) {
                if (uri.equals(p) || uri.startsWith(p)) {
                    return true;
                }
            }
            return false;
        }
    }

    /** A HubSpot account ("portal"/"hub") with the user who installs apps into it. */
    public record Portal(long hubId, String hubDomain, String userEmail, long userId) {
        public Portal {
            Objects.requireNonNull(hubDomain, "hubDomain");
            Objects.requireNonNull(userEmail, "userEmail");
        }

        /** Portal with simulator defaults: {@code portal-{id}.hubspot.com}, {@code admin@portal-{id}.example.com}. */
        public static Portal of(long hubId) {
            return new Portal(hubId, "portal-" + hubId + ".hubspot.com", "admin@portal-" + hubId + ".example.com",
                    100_000L + Math.floorMod(hubId, 900_000L));
        }
    }

    /**
     * One handled request. {@code grantType}/{@code clientId} are null where not applicable; {@code headerNames} are
     * the request's header names in lower case (never values); {@code bearerFingerprint} is the first 6 hex characters
     * of the SHA-256 of the {@code Authorization: Bearer} token, or null (the token itself is never kept).
     */
    public record RecordedRequest(Instant at, String operation, String apiVersion, String method, String path,
            String grantType, String clientId, Long hubId, int status, List<String> headerNames,
            String bearerFingerprint) {

        public RecordedRequest {
            headerNames = headerNames == null ? List.of() : List.copyOf(headerNames);
        }

        public RecordedRequest(Instant at, String operation, String apiVersion, String method, String path,
                String grantType, String clientId, Long hubId, int status) {
            this(at, operation, apiVersion, method, path, grantType, clientId, hubId, status, List.of(), null);
        }

        /** Whether a header of this name (case-insensitive) arrived. */
        public boolean hasHeader(String name) {
            return headerNames.contains(name.toLowerCase(Locale.ROOT));
        }
    }

    /** Tokens created directly by {@link #install}. */
    public record TokenGrant(String accessToken, String refreshToken, long hubId, List<String> scopes, long expiresInSeconds) {
    }

    /** A webhook request ready to be sent: body plus HubSpot's signature headers. */
    public record SignedWebhook(String method, String url, String body, long timestampMillis, Map<String, String> headers) {
    }

    /** Field naming of token endpoint success bodies (HubSpot's spec and changelog use snake_case). */
    public enum TokenResponseStyle {
        /** {@code access_token, refresh_token, expires_in, token_type, hub_id, user_id, scopes, token_use}. */
        SNAKE_CASE,
        /** {@code accessToken, refreshToken, expiresIn, tokenType, hubId, userId, scopes} (seen on some doc pages). */
        CAMEL_CASE
    }

    /** A settable clock for tests and the benchmark. */
    public static final class ManualClock implements InstantSource {
        private final AtomicReference<Instant> now;

        public ManualClock(Instant start) {
            now = new AtomicReference<>(Objects.requireNonNull(start));
        }

        public ManualClock() {
            this(Instant.parse("2026-01-01T00:00:00Z"));
        }

        @Override
        public Instant instant() {
            return now.get();
        }

        public Instant advance(Duration d) {
            return now.updateAndGet(i -> i.plus(d));
        }

        public void set(Instant instant) {
            now.set(Objects.requireNonNull(instant));
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Areas
    // ------------------------------------------------------------------------------------------------------------

    private final SimState state;
    private final SimOAuth oauth;
    private final SimConsent consent;
    private final SimWebhooks webhooks;
    private final SimFaults faults = new SimFaults();
    private final SimCrm crm;
    private final SimStaticTokens statics;

    public HubSpotSimulator() {
        this(InstantSource.system());
    }

    public HubSpotSimulator(InstantSource clock) {
        this.state = new SimState(Objects.requireNonNull(clock, "clock"));
        this.oauth = new SimOAuth(state);
        this.consent = new SimConsent(state);
        this.webhooks = new SimWebhooks(state);
        this.crm = new SimCrm(state);
        this.statics = new SimStaticTokens(state);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Configuration
    // ------------------------------------------------------------------------------------------------------------

    /** Access token lifetime reported as {@code expires_in} (HubSpot today: 30 min; older docs: 6 h). */
    public HubSpotSimulator accessTokenLifetime(Duration lifetime) {
        if (lifetime == null || lifetime.isNegative()) {
            throw new IllegalArgumentException("lifetime must be >= 0");
        }
        state.accessTokenLifetime = lifetime;
        return this;
    }

    public Duration accessTokenLifetime() {
        return state.accessTokenLifetime;
    }

    /** How long an authorization code may be exchanged (HubSpot: "a short window", undocumented; default 5 min). */
    public HubSpotSimulator authCodeLifetime(Duration lifetime) {
        state.authCodeLifetime = Objects.requireNonNull(lifetime);
        return this;
    }

    /** If true, the refresh grant returns a new refresh token and revokes the old one (HubSpot does not). */
    public HubSpotSimulator rotateRefreshTokens(boolean rotate) {
        state.rotateRefreshTokens = rotate;
        return this;
    }

    /** If true, revoking a refresh token also revokes access tokens minted from it (undocumented at HubSpot). */
    public HubSpotSimulator revokeCascadesToAccessTokens(boolean cascade) {
        state.revokeCascadesToAccessTokens = cascade;
        return this;
    }

    /** If true (default) the consent form accepts any numeric portal id and creates the portal on the fly. */
    public HubSpotSimulator autoCreatePortals(boolean auto) {
        state.autoCreatePortals = auto;
        return this;
    }

    /** Naming style of token endpoint success bodies; default {@link TokenResponseStyle#SNAKE_CASE}. */
    public HubSpotSimulator tokenResponseStyle(TokenResponseStyle style) {
        state.tokenResponseStyle = Objects.requireNonNull(style);
        return this;
    }

    /** Portal id prefilled on the consent page (default: the lowest registered portal id). */
    public HubSpotSimulator defaultPortalId(long portalId) {
        state.defaultPortalId = portalId;
        return this;
    }

    /** {@code subscriptionId} used in generated webhook events. */
    public HubSpotSimulator webhookSubscriptionId(long subscriptionId) {
        webhooks.subscriptionId = subscriptionId;
        return this;
    }

    /** Maximum number of {@link RecordedRequest}s kept (oldest dropped); counters are never dropped. */
    public HubSpotSimulator recordLimit(int limit) {
        faults.recordLimit = Math.max(0, limit);
        return this;
    }

    public InstantSource clock() {
        return state.clock;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Apps and portals
    // ------------------------------------------------------------------------------------------------------------

    public HubSpotSimulator registerApp(App app) {
        state.apps.put(app.clientId(), app);
        return this;
    }

    /** Registers an app that accepts any scopes. */
    public HubSpotSimulator registerApp(String clientId, String clientSecret, long appId, String... redirectUriPrefixes) {
        return registerApp(new App(clientId, clientSecret, appId, redirectUriPrefixes));
    }

    public Optional<App> app(String clientId) {
        return Optional.ofNullable(state.apps.get(clientId));
    }

    public Optional<App> appById(long appId) {
        return state.apps.values().stream().filter(a -> a.appId() == appId).findFirst();
    }

    /** Changes an app's client secret; requests with the old secret then fail with {@code BAD_CLIENT_ID}. */
    public HubSpotSimulator setClientSecret(String clientId, String newSecret) {
        App app = state.requireApp(clientId);
        state.apps.put(clientId, app.withClientSecret(newSecret));
        return this;
    }

    public HubSpotSimulator registerPortal(Portal portal) {
        state.portals.put(portal.hubId(), portal);
        return this;
    }

    public HubSpotSimulator registerPortal(long hubId) {
        return registerPortal(Portal.of(hubId));
    }

    public Optional<Portal> portal(long hubId) {
        return Optional.ofNullable(state.portals.get(hubId));
    }

    public Set<Long> portalIds() {
        return Set.copyOf(state.portals.keySet());
    }

    // ------------------------------------------------------------------------------------------------------------
    // Harness operations (no HTTP)
    // ------------------------------------------------------------------------------------------------------------

    /** Issues an authorization code as if the user had approved the consent page (not recorded). */
    public String issueAuthorizationCode(String clientId, String redirectUri, long portalId, Collection<String> scopes) {
        App app = state.requireApp(clientId);
        state.portals.computeIfAbsent(portalId, Portal::of);
        return state.newCode(app, redirectUri, portalId, List.copyOf(scopes), null, null).code;
    }

    /** Creates an install directly: a refresh token and an access token for {@code portalId} (not recorded). */
    public TokenGrant install(String clientId, long portalId, Collection<String> scopes) {
        App app = state.requireApp(clientId);
        state.portals.computeIfAbsent(portalId, Portal::of);
        Instant now = state.clock.instant();
        RefreshTok rt = state.newRefreshToken(app, portalId, List.copyOf(scopes), now);
        AccessTok at = state.newAccessToken(app, portalId, rt.scopes, now, rt.token);
        return new TokenGrant(at.token, rt.token, portalId, rt.scopes, state.accessTokenLifetime.toSeconds());
    }

    /** Revokes every refresh token of a portal (all apps); the next refresh answers 400 {@code BAD_REFRESH_TOKEN}. */
    public int revokeRefreshTokens(long portalId) {
        int n = 0;
        for (RefreshTok rt : state.refreshTokens.values()) {
            if (rt.hubId == portalId && !rt.revoked) {
                state.revoke(rt);
                n++;
            }
        }
        return n;
    }

    /** Revokes one refresh token; returns false if unknown or already revoked. */
    public boolean revokeRefreshToken(String refreshToken) {
        RefreshTok rt = state.refreshTokens.get(refreshToken);
        if (rt == null || rt.revoked) {
            return false;
        }
        state.revoke(rt);
        return true;
    }

    /** Invalidates all access tokens of a portal before their expiry. */
    public int expireAccessTokens(long portalId) {
        int n = 0;
        for (AccessTok at : state.accessTokens.values()) {
            if (at.hubId == portalId && !at.revoked) {
                at.revoked = true;
                n++;
            }
        }
        return n;
    }

    /**
     * Simulates the user uninstalling the app from the portal: revokes the app's refresh and access tokens for the
     * portal and returns the uninstall webhook body (see {@link #uninstallWebhookBody}).
     */
    public String uninstall(long portalId, long appId) {
        state.refreshTokens.values().stream().filter(rt -> rt.hubId == portalId && rt.appId == appId)
                .forEach(rt -> rt.revoked = true);
        state.accessTokens.values().stream().filter(at -> at.hubId == portalId && at.appId == appId)
                .forEach(at -> at.revoked = true);
        return uninstallWebhookBody(portalId, appId);
    }

    public boolean isAccessTokenActive(String accessToken) {
        AccessTok at = state.accessTokens.get(accessToken);
        return at != null && SimState.active(at, state.clock.instant());
    }

    public boolean isRefreshTokenActive(String refreshToken) {
        RefreshTok rt = state.refreshTokens.get(refreshToken);
        return rt != null && !rt.revoked;
    }

    /** Active (non-revoked) refresh tokens of a portal. */
    public List<String> activeRefreshTokens(long portalId) {
        return state.refreshTokens.values().stream().filter(rt -> rt.hubId == portalId && !rt.revoked)
                .sorted((a, b) -> a.createdAt.compareTo(b.createdAt)).map(rt -> rt.token).collect(Collectors.toList());
    }

    /** Number of access tokens minted for a portal so far (code exchanges + refreshes + installs). */
    public long tokenGeneration(long portalId) {
        AtomicLong g = state.generations.get(portalId);
        return g == null ? 0 : g.get();
    }

    // ------------------------------------------------------------------------------------------------------------
    // CRM objects and rate limits
    // ------------------------------------------------------------------------------------------------------------

    /** Scopes given to static tokens registered without any. */
    public static final List<String> DEFAULT_STATIC_SCOPES = List.of("crm.objects.contacts.read",
            "crm.objects.contacts.write");

    /**
     * Registers a private-app (static) token of a portal, with {@link #DEFAULT_STATIC_SCOPES}: CRM calls with it act
     * on that portal, and the token-info endpoint tells its account and scopes.
     */
    public HubSpotSimulator registerPrivateAppToken(long portalId, String token) {
        return registerPrivateAppToken(portalId, token, DEFAULT_STATIC_SCOPES);
    }

    /** Registers a private-app token of a portal with the given scopes. */
    public HubSpotSimulator registerPrivateAppToken(long portalId, String token, List<String> scopes) {
        statics.register(new SimState.StaticTok(requireToken(token), portalId, false, 1_000_000L + (portalId % 1000),
                Portal.of(portalId).userId(), List.copyOf(scopes)));
        return this;
    }

    /**
     * Registers a service key of a portal with the given scopes (none: {@link #DEFAULT_STATIC_SCOPES}): CRM calls
     * accept it; the private-app token-info endpoint does not know it (HubSpot documents no such endpoint for keys).
     */
    public HubSpotSimulator registerServiceKey(long portalId, String key, String... scopes) {
        statics.register(new SimState.StaticTok(requireToken(key), portalId, true, 0, Portal.of(portalId).userId(),
                scopes.length == 0 ? DEFAULT_STATIC_SCOPES : List.of(scopes)));
        return this;
    }

    /** Creates and registers a new private-app token of a portal (format {@code pat-na1-<uuid>}); returns it. */
    public String issuePrivateAppToken(long portalId) {
        String token = "pat-na1-" + java.util.UUID.randomUUID();
        registerPrivateAppToken(portalId, token);
        return token;
    }

    /**
     * Creates and registers a new service key of a portal; returns it. HubSpot documents no format for keys: the
     * simulator's start with {@code sim-service-key-}.
     */
    public String issueServiceKey(long portalId) {
        String key = "sim-service-key-" + java.util.UUID.randomUUID();
        registerServiceKey(portalId, key);
        return key;
    }

    /** Expires a static token now (as HubSpot does at the end of a rotation): CRM calls with it answer 401. */
    public boolean revokeStaticToken(String token) {
        return statics.revoke(token);
    }

    private static String requireToken(String token) {
        if (token == null || token.isBlank()) {
            throw new IllegalArgumentException("token must not be blank");
        }
        return token;
    }

    /** The rolling window of OAuth apps per (app, account): at most {@code max} calls in any {@code interval}. */
    public HubSpotSimulator rateLimit(int max, Duration interval) {
        crm.limits.max = positive(max);
        crm.limits.interval = positive(interval);
        return this;
    }

    /** Private-app tokens' rolling window per account and their daily quota (HubSpot Free: 100 per 10 s, 250,000). */
    public HubSpotSimulator privateAppRateLimit(int max, Duration interval, long dailyMax) {
        crm.limits.privateMax = positive(max);
        crm.limits.privateInterval = positive(interval);
        crm.limits.privateDailyMax = positive((int) Math.min(Integer.MAX_VALUE, dailyMax));
        return this;
    }

    /** The search endpoints' own rolling window per (app, account) (HubSpot: 5 per second). */
    public HubSpotSimulator searchRateLimit(int max, Duration interval) {
        crm.limits.searchMax = positive(max);
        crm.limits.searchInterval = positive(interval);
        return this;
    }

    /** Simulator-clock times of every authenticated CRM call to a portal, 429s included, oldest first. */
    public List<Instant> crmRequestTimes(long portalId) {
        return crm.limits.requestTimes(portalId);
    }

    /** Number of CRM calls to a portal the rate limits answered 429 (injected faults not included). */
    public int crmRateLimited(long portalId) {
        return crm.limits.rateLimited(portalId);
    }

    /** Number of CRM calls the rate limits answered 429, all portals. */
    public int crmRateLimited() {
        return crm.limits.rateLimited();
    }

    /** Creates an object directly (not recorded, no budget spent); returns its id. */
    public String createCrmObject(long portalId, String objectType, Map<String, String> properties) {
        String type = SimCrm.canonicalType(objectType);
        if (type == null) {
            throw new IllegalArgumentException("unsupported object type " + objectType);
        }
        return Long.toString(crm.insert(portalId, type, properties).id);
    }

    /** An object's current properties (archived ones too), or empty. */
    public Optional<Map<String, String>> crmObject(long portalId, String objectType, String id) {
        String type = SimCrm.canonicalType(objectType);
        SimCrm.CrmObject o = type == null ? null : crm.find(portalId, type, id);
        if (o == null) {
            return Optional.empty();
        }
        synchronized (o) {
            return Optional.of(Map.copyOf(o.properties));
        }
    }

    private static int positive(int n) {
        if (n <= 0) {
            throw new IllegalArgumentException("must be > 0");
        }
        return n;
    }

    private static Duration positive(Duration d) {
        if (d == null || d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException("interval must be > 0");
        }
        return d;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Failure injection
    // ------------------------------------------------------------------------------------------------------------

    /**
     * The next request matching {@code target} answers {@code status} with a HubSpot error body.
     *
     * @param target an operation ({@code code}, {@code refresh}, {@code token} = code or refresh,
     *        {@code introspect}, {@code revoke}, {@code authorize}, {@code consent}, {@code *} = any) or a
     *        path prefix starting with {@code /} (e.g. {@code /oauth/2026-03/})
     * @param hubspotStatus value of the body's {@code status} field, e.g. {@code BAD_REFRESH_TOKEN}; null for a default
     * @param retryAfter if non-null, sent as {@code Retry-After} (whole seconds, rounded up)
     */
    public HubSpotSimulator failNext(String target, int status, String hubspotStatus, Duration retryAfter) {
        return failNext(1, target, status, hubspotStatus, retryAfter);
    }

    /** Like {@link #failNext(String, int, String, Duration)} for the next {@code times} matching requests. */
    public HubSpotSimulator failNext(int times, String target, int status, String hubspotStatus, Duration retryAfter) {
        if (status < 400 || status > 599) {
            throw new IllegalArgumentException("status must be 4xx/5xx");
        }
        faults.add(new SimFaults.Fault(target, times, status, hubspotStatus, retryAfter, null));
        return this;
    }

    /** The next {@code times} requests answer 429 with HubSpot's rate-limit body and {@code Retry-After}. */
    public HubSpotSimulator rateLimitNext(int times, String target, Duration retryAfter) {
        return failNext(times, target, 429, "RATE_LIMIT", retryAfter);
    }

    /** The next matching request is held for {@code stall} (real time) before being processed normally. */
    public HubSpotSimulator stallNext(String target, Duration stall) {
        return stallNext(1, target, stall);
    }

    public HubSpotSimulator stallNext(int times, String target, Duration stall) {
        faults.add(new SimFaults.Fault(target, times, 0, null, null, Objects.requireNonNull(stall)));
        return this;
    }

    /** The next matching request is held for {@code stall}, then answers {@code status}. */
    public HubSpotSimulator stallThenFailNext(String target, Duration stall, int status, String hubspotStatus) {
        faults.add(new SimFaults.Fault(target, 1, status, hubspotStatus, null, Objects.requireNonNull(stall)));
        return this;
    }

    /** Removes all pending faults. */
    public HubSpotSimulator clearFaults() {
        faults.clear();
        return this;
    }

    public int pendingFaults() {
        return faults.pending();
    }

    // ------------------------------------------------------------------------------------------------------------
    // Recording
    // ------------------------------------------------------------------------------------------------------------

    /** Number of handled requests of an operation (see the {@code OP_*} constants; "token" = code + refresh + token). */
    public int count(String operation) {
        if (operation.equalsIgnoreCase(OP_TOKEN)) {
            return (int) (faults.counter(OP_CODE) + faults.counter(OP_REFRESH) + faults.counter(OP_TOKEN));
        }
        return (int) faults.counter(operation.toLowerCase(Locale.ROOT));
    }

    /** Number of handled requests of an operation on one API version ({@code v1} or {@code 2026-03}, ...). */
    public int count(String operation, String apiVersion) {
        return (int) faults.counter(apiVersion + ":" + operation.toLowerCase(Locale.ROOT));
    }

    /** Recorded requests, oldest first (bounded by {@link #recordLimit(int)}). */
    public List<RecordedRequest> requests() {
        return faults.requests();
    }

    public List<RecordedRequest> requests(String operation) {
        return requests().stream().filter(r -> r.operation().equalsIgnoreCase(operation)).collect(Collectors.toList());
    }

    /** Clears recorded requests and counters (state and faults are kept). */
    public HubSpotSimulator clearRecording() {
        faults.clearRecording();
        return this;
    }

    /**
     * Forgets codes, tokens, generations, CRM objects, rate-limit windows, faults and recordings; keeps apps, portals,
     * private-app tokens and configuration.
     */
    public HubSpotSimulator reset() {
        state.reset();
        crm.reset();
        clearFaults();
        clearRecording();
        return this;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Request handling
    // ------------------------------------------------------------------------------------------------------------

    /** Handles one request. Never throws for bad input; may block for an injected stall. */
    public SimResponse handle(SimRequest req) {
        Objects.requireNonNull(req, "req");
        Instant at = state.clock.instant();
        SimRoute route;
        Handled handled;
        try {
            route = route(req);
            SimFaults.Fault fault = faults.take(route.op(), req.path());
            if (fault != null && fault.stall != null) {
                SimFaults.sleep(fault.stall);
            }
            if (fault != null && fault.status > 0) {
                handled = Handled.of(SimFaults.injectedError(route, fault));
            } else {
                handled = route.handler().get();
            }
        } catch (RuntimeException e) {
            route = new SimRoute(OP_UNKNOWN, null, null, null, null);
            handled = Handled.of(SimHttp.json(500,
                    SimOAuth.errorBody(null, "error", "server_error", "internal simulator error: " + e, null)));
        }
        faults.record(route, req, handled, at);
        return handled.response();
    }

    private SimRoute route(SimRequest req) {
        SimRoute r = consent.route(req);
        if (r == null) {
            r = oauth.route(req);
        }
        if (r == null) {
            r = statics.route(req);
        }
        if (r == null) {
            r = crm.route(req);
        }
        if (r != null) {
            return r;
        }
        return new SimRoute(OP_UNKNOWN, null, null, null, () -> Handled.of(SimHttp.json(404, SimHttp.ordered("status",
                "error", "message", "Resource not found: " + req.method() + " " + req.path(), "correlationId",
                java.util.UUID.randomUUID().toString(), "category", "OBJECT_NOT_FOUND"))));
    }

    // ------------------------------------------------------------------------------------------------------------
    // Webhooks
    // ------------------------------------------------------------------------------------------------------------

    /**
     * JSON body of an uninstall webhook delivery (an array with one event), shaped like HubSpot webhook events:
     * {@code [{"eventId","subscriptionId","portalId","appId","occurredAt","subscriptionType":"app.uninstall",
     * "attemptNumber":0}]}. {@code occurredAt} comes from the simulator clock.
     */
    public String uninstallWebhookBody(long portalId, long appId) {
        return webhooks.uninstallWebhookBody(portalId, appId);
    }

    /** Uninstall webhook for {@code targetUrl}, signed with the app's current client secret (v1 and v3 headers). */
    public SignedWebhook signedUninstallWebhook(String targetUrl, long portalId, long appId) {
        return webhooks.signedUninstallWebhook(targetUrl, portalId, appId);
    }

    /**
     * Builds the headers HubSpot sends with a webhook: {@code Content-Type}, {@code X-HubSpot-Signature} (v1),
     * {@code X-HubSpot-Signature-Version: v1}, {@code X-HubSpot-Signature-v3} and {@code X-HubSpot-Request-Timestamp}.
     */
    public static SignedWebhook signWebhook(String clientSecret, String method, String url, String body, long timestampMillis) {
        return SimWebhooks.sign(clientSecret, method, url, body, timestampMillis);
    }

    /**
     * v3 signature: Base64(HMAC-SHA256(key = clientSecret, data = UTF-8(method + uri + body + timestampMillis))).
     * {@code uri} is used exactly as given (full URL including query string).
     */
    public static String signatureV3(String clientSecret, String method, String uri, String body, long timestampMillis) {
        return SimWebhooks.signatureV3(clientSecret, method, uri, body, timestampMillis);
    }

    /** v1 signature: lowercase hex SHA-256 of UTF-8(clientSecret + body). */
    public static String signatureV1(String clientSecret, String body) {
        return SimWebhooks.signatureV1(clientSecret, body);
    }

    /** v2 signature: lowercase hex SHA-256 of UTF-8(clientSecret + method + uri + body). */
    public static String signatureV2(String clientSecret, String method, String uri, String body) {
        return SimWebhooks.signatureV2(clientSecret, method, uri, body);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Helpers shared with transport adapters
    // ------------------------------------------------------------------------------------------------------------

    /** Parses a raw (percent-encoded) query string or form body into decoded multi-valued parameters. */
    public static Map<String, List<String>> parseQuery(String raw) {
        return SimHttp.parseQuery(raw);
    }

    /** {@code application/x-www-form-urlencoded} encoding of single-valued parameters (nulls skipped). */
    public static String formEncode(Map<String, String> params) {
        return SimHttp.formEncode(params);
    }

    static String percentDecode(String s) {
        return SimHttp.percentDecode(s);
    }

    static List<String> splitScopes(String s) {
        return SimHttp.splitScopes(s);
    }
}
