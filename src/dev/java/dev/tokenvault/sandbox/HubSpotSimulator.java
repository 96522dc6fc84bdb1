package dev.tokenvault.sandbox;

import java.io.ByteArrayOutputStream;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collection;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

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
 * </ul>
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

    public static final String V1 = "v1";
    public static final String V2026_03 = "2026-03";

    public static final Duration DEFAULT_ACCESS_TOKEN_LIFETIME = Duration.ofMinutes(30);
    public static final Duration DEFAULT_AUTH_CODE_LIFETIME = Duration.ofMinutes(5);

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String JSON_TYPE = "application/json;charset=utf-8";
    private static final String HTML_TYPE = "text/html;charset=utf-8";
    private static final String FORM_TYPE = "application/x-www-form-urlencoded";

    private static final Pattern DATED_TOKEN_PATH = Pattern
            .compile("^/oauth/(v3|\\d{4}-\\d{2}(?:-beta)?)/token(?:/(introspect|revoke))?$");
    private static final Pattern V1_METADATA_PATH = Pattern.compile("^/oauth/v1/(access-tokens|refresh-tokens)/([^/]+)$");
    private static final Pattern AUTHORIZE_PATH = Pattern.compile("^/oauth(?:/(\\d{1,18}))?/authorize$");

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

    /** One handled request. {@code grantType}/{@code clientId} are null where not applicable. */
    public record RecordedRequest(Instant at, String operation, String apiVersion, String method, String path,
            String grantType, String clientId, Long hubId, int status) {
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
    // Internal state
    // ------------------------------------------------------------------------------------------------------------

    private static final class AuthCode {
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

    private static final class RefreshTok {
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

    private static final class AccessTok {
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

    private static final class Fault {
        final String target;
        int remaining;
        final int status;
        final String hubspotStatus;
        final Duration retryAfter;
        final Duration stall;

        Fault(String target, int times, int status, String hubspotStatus, Duration retryAfter, Duration stall) {
            this.target = target;
            this.remaining = times;
            this.status = status;
            this.hubspotStatus = hubspotStatus;
            this.retryAfter = retryAfter;
            this.stall = stall;
        }
    }

    /** Result of routing: operation name, API version and the handler. */
    private record Route(String op, String version, String grantType, String clientId, Supplier<Handled> handler) {
    }

    private record Handled(SimResponse response, Long hubId) {
        static Handled of(SimResponse r) {
            return new Handled(r, null);
        }
    }

    private final InstantSource clock;
    private final SecureRandom random = new SecureRandom();
    private final Map<String, App> apps = new ConcurrentHashMap<>();
    private final Map<Long, Portal> portals = new ConcurrentHashMap<>();
    private final Map<String, AuthCode> codes = new ConcurrentHashMap<>();
    private final Map<String, RefreshTok> refreshTokens = new ConcurrentHashMap<>();
    private final Map<String, AccessTok> accessTokens = new ConcurrentHashMap<>();
    private final Map<Long, AtomicLong> generations = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> counters = new ConcurrentHashMap<>();
    private final ArrayDeque<RecordedRequest> recorded = new ArrayDeque<>();
    private final List<Fault> faults = new ArrayList<>();
    private final AtomicLong issued = new AtomicLong();
    private final AtomicLong eventIds = new AtomicLong();

    private volatile Duration accessTokenLifetime = DEFAULT_ACCESS_TOKEN_LIFETIME;
    private volatile Duration authCodeLifetime = DEFAULT_AUTH_CODE_LIFETIME;
    private volatile boolean rotateRefreshTokens = false;
    private volatile boolean revokeCascadesToAccessTokens = false;
    private volatile boolean autoCreatePortals = true;
    private volatile TokenResponseStyle tokenResponseStyle = TokenResponseStyle.SNAKE_CASE;
    private volatile long defaultPortalId = 0;
    private volatile long webhookSubscriptionId = 1;
    private volatile int recordLimit = 10_000;

    public HubSpotSimulator() {
        this(InstantSource.system());
    }

    public HubSpotSimulator(InstantSource clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    // ------------------------------------------------------------------------------------------------------------
    // Configuration
    // ------------------------------------------------------------------------------------------------------------

    /** Access token lifetime reported as {@code expires_in} (HubSpot today: 30 min; older docs: 6 h). */
    public HubSpotSimulator accessTokenLifetime(Duration lifetime) {
        if (lifetime == null || lifetime.isNegative()) {
            throw new IllegalArgumentException("lifetime must be >= 0");
        }
        this.accessTokenLifetime = lifetime;
        return this;
    }

    public Duration accessTokenLifetime() {
        return accessTokenLifetime;
    }

    /** How long an authorization code may be exchanged (HubSpot: "a short window", undocumented; default 5 min). */
    public HubSpotSimulator authCodeLifetime(Duration lifetime) {
        this.authCodeLifetime = Objects.requireNonNull(lifetime);
        return this;
    }

    /** If true, the refresh grant returns a new refresh token and revokes the old one (HubSpot does not). */
    public HubSpotSimulator rotateRefreshTokens(boolean rotate) {
        this.rotateRefreshTokens = rotate;
        return this;
    }

    /** If true, revoking a refresh token also revokes access tokens minted from it (undocumented at HubSpot). */
    public HubSpotSimulator revokeCascadesToAccessTokens(boolean cascade) {
        this.revokeCascadesToAccessTokens = cascade;
        return this;
    }

    /** If true (default) the consent form accepts any numeric portal id and creates the portal on the fly. */
    public HubSpotSimulator autoCreatePortals(boolean auto) {
        this.autoCreatePortals = auto;
        return this;
    }

    /** Naming style of token endpoint success bodies; default {@link TokenResponseStyle#SNAKE_CASE}. */
    public HubSpotSimulator tokenResponseStyle(TokenResponseStyle style) {
        this.tokenResponseStyle = Objects.requireNonNull(style);
        return this;
    }

    /** Portal id prefilled on the consent page (default: the lowest registered portal id). */
    public HubSpotSimulator defaultPortalId(long portalId) {
        this.defaultPortalId = portalId;
        return this;
    }

    /** {@code subscriptionId} used in generated webhook events. */
    public HubSpotSimulator webhookSubscriptionId(long subscriptionId) {
        this.webhookSubscriptionId = subscriptionId;
        return this;
    }

    /** Maximum number of {@link RecordedRequest}s kept (oldest dropped); counters are never dropped. */
    public HubSpotSimulator recordLimit(int limit) {
        this.recordLimit = Math.max(0, limit);
        return this;
    }

    public InstantSource clock() {
        return clock;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Apps and portals
    // ------------------------------------------------------------------------------------------------------------

    public HubSpotSimulator registerApp(App app) {
        apps.put(app.clientId(), app);
        return this;
    }

    /** Registers an app that accepts any scopes. */
    public HubSpotSimulator registerApp(String clientId, String clientSecret, long appId, String... redirectUriPrefixes) {
        return registerApp(new App(clientId, clientSecret, appId, redirectUriPrefixes));
    }

    public Optional<App> app(String clientId) {
        return Optional.ofNullable(apps.get(clientId));
    }

    public Optional<App> appById(long appId) {
        return apps.values().stream().filter(a -> a.appId() == appId).findFirst();
    }

    /** Changes an app's client secret; requests with the old secret then fail with {@code BAD_CLIENT_ID}. */
    public HubSpotSimulator setClientSecret(String clientId, String newSecret) {
        App app = apps.get(clientId);
        if (app == null) {
            throw new IllegalArgumentException("unknown client_id " + clientId);
        }
        apps.put(clientId, app.withClientSecret(newSecret));
        return this;
    }

    public HubSpotSimulator registerPortal(Portal portal) {
        portals.put(portal.hubId(), portal);
        return this;
    }

    public HubSpotSimulator registerPortal(long hubId) {
        return registerPortal(Portal.of(hubId));
    }

    public Optional<Portal> portal(long hubId) {
        return Optional.ofNullable(portals.get(hubId));
    }

    public Set<Long> portalIds() {
        return Set.copyOf(portals.keySet());
    }

    // ------------------------------------------------------------------------------------------------------------
    // Harness operations (no HTTP)
    // ------------------------------------------------------------------------------------------------------------

    /** Issues an authorization code as if the user had approved the consent page (not recorded). */
    public String issueAuthorizationCode(String clientId, String redirectUri, long portalId, Collection<String> scopes) {
        App app = requireApp(clientId);
        portals.computeIfAbsent(portalId, Portal::of);
        AuthCode c = newCode(app, redirectUri, portalId, List.copyOf(scopes), null, null);
        return c.code;
    }

    /** Creates an install directly: a refresh token and an access token for {@code portalId} (not recorded). */
    public TokenGrant install(String clientId, long portalId, Collection<String> scopes) {
        App app = requireApp(clientId);
        portals.computeIfAbsent(portalId, Portal::of);
        Instant now = clock.instant();
        RefreshTok rt = newRefreshToken(app, portalId, List.copyOf(scopes), now);
        AccessTok at = newAccessToken(app, portalId, rt.scopes, now, rt.token);
        return new TokenGrant(at.token, rt.token, portalId, rt.scopes, accessTokenLifetime.toSeconds());
    }

    /** Revokes every refresh token of a portal (all apps); the next refresh answers 400 {@code BAD_REFRESH_TOKEN}. */
    public int revokeRefreshTokens(long portalId) {
        int n = 0;
        for (RefreshTok rt : refreshTokens.values()) {
            if (rt.hubId == portalId && !rt.revoked) {
                revoke(rt);
                n++;
            }
        }
        return n;
    }

    /** Revokes one refresh token; returns false if unknown or already revoked. */
    public boolean revokeRefreshToken(String refreshToken) {
        RefreshTok rt = refreshTokens.get(refreshToken);
        if (rt == null || rt.revoked) {
            return false;
        }
        revoke(rt);
        return true;
    }

    /** Invalidates all access tokens of a portal before their expiry. */
    public int expireAccessTokens(long portalId) {
        int n = 0;
        for (AccessTok at : accessTokens.values()) {
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
        for (RefreshTok rt : refreshTokens.values()) {
            if (rt.hubId == portalId && rt.appId == appId) {
                rt.revoked = true;
            }
        }
        for (AccessTok at : accessTokens.values()) {
            if (at.hubId == portalId && at.appId == appId) {
                at.revoked = true;
            }
        }
        return uninstallWebhookBody(portalId, appId);
    }

    public boolean isAccessTokenActive(String accessToken) {
        AccessTok at = accessTokens.get(accessToken);
        return at != null && active(at, clock.instant());
    }

    public boolean isRefreshTokenActive(String refreshToken) {
        RefreshTok rt = refreshTokens.get(refreshToken);
        return rt != null && !rt.revoked;
    }

    /** Active (non-revoked) refresh tokens of a portal. */
    public List<String> activeRefreshTokens(long portalId) {
        return refreshTokens.values().stream().filter(rt -> rt.hubId == portalId && !rt.revoked)
                .sorted((a, b) -> a.createdAt.compareTo(b.createdAt)).map(rt -> rt.token).collect(Collectors.toList());
    }

    /** Number of access tokens minted for a portal so far (code exchanges + refreshes + installs). */
    public long tokenGeneration(long portalId) {
        AtomicLong g = generations.get(portalId);
        return g == null ? 0 : g.get();
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
        addFault(new Fault(target, times, status, hubspotStatus, retryAfter, null));
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
        addFault(new Fault(target, times, 0, null, null, Objects.requireNonNull(stall)));
        return this;
    }

    /** The next matching request is held for {@code stall}, then answers {@code status}. */
    public HubSpotSimulator stallThenFailNext(String target, Duration stall, int status, String hubspotStatus) {
        addFault(new Fault(target, 1, status, hubspotStatus, null, Objects.requireNonNull(stall)));
        return this;
    }

    /** Removes all pending faults. */
    public HubSpotSimulator clearFaults() {
        synchronized (faults) {
            faults.clear();
        }
        return this;
    }

    public int pendingFaults() {
        synchronized (faults) {
            return faults.stream().mapToInt(f -> f.remaining).sum();
        }
    }

    private void addFault(Fault f) {
        Objects.requireNonNull(f.target, "target");
        if (f.remaining <= 0) {
            throw new IllegalArgumentException("times must be > 0");
        }
        synchronized (faults) {
            faults.add(f);
        }
    }

    private Fault takeFault(String op, String path) {
        synchronized (faults) {
            for (int i = 0; i < faults.size(); i++) {
                Fault f = faults.get(i);
                if (matches(f.target, op, path)) {
                    if (--f.remaining <= 0) {
                        faults.remove(i);
                    }
                    return f;
                }
            }
        }
        return null;
    }

    private static boolean matches(String target, String op, String path) {
        if (target.equals("*") || target.equalsIgnoreCase("any")) {
            return true;
        }
        if (target.startsWith("/")) {
            return path.startsWith(target);
        }
        if (target.equalsIgnoreCase(OP_TOKEN)) {
            return op.equals(OP_CODE) || op.equals(OP_REFRESH) || op.equals(OP_TOKEN);
        }
        return target.equalsIgnoreCase(op);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Recording
    // ------------------------------------------------------------------------------------------------------------

    /** Number of handled requests of an operation (see the {@code OP_*} constants; "token" = code + refresh + token). */
    public int count(String operation) {
        if (operation.equalsIgnoreCase(OP_TOKEN)) {
            return (int) (counter(OP_CODE) + counter(OP_REFRESH) + counter(OP_TOKEN));
        }
        return (int) counter(operation.toLowerCase(Locale.ROOT));
    }

    /** Number of handled requests of an operation on one API version ({@code v1} or {@code 2026-03}, ...). */
    public int count(String operation, String apiVersion) {
        return (int) counter(apiVersion + ":" + operation.toLowerCase(Locale.ROOT));
    }

    private long counter(String key) {
        AtomicLong c = counters.get(key);
        return c == null ? 0 : c.get();
    }

    /** Recorded requests, oldest first (bounded by {@link #recordLimit(int)}). */
    public List<RecordedRequest> requests() {
        synchronized (recorded) {
            return List.copyOf(recorded);
        }
    }

    public List<RecordedRequest> requests(String operation) {
        return requests().stream().filter(r -> r.operation().equalsIgnoreCase(operation)).collect(Collectors.toList());
    }

    /** Clears recorded requests and counters (state and faults are kept). */
    public HubSpotSimulator clearRecording() {
        synchronized (recorded) {
            recorded.clear();
            counters.clear();
        }
        return this;
    }

    /** Forgets codes, tokens, generations, faults and recordings; keeps apps, portals and configuration. */
    public HubSpotSimulator reset() {
        codes.clear();
        refreshTokens.clear();
        accessTokens.clear();
        generations.clear();
        clearFaults();
        clearRecording();
        return this;
    }

    private void record(Route route, SimRequest req, Handled h, Instant at) {
        String op = route.op();
        counters.computeIfAbsent(op, k -> new AtomicLong()).incrementAndGet();
        if (route.version() != null) {
            counters.computeIfAbsent(route.version() + ":" + op, k -> new AtomicLong()).incrementAndGet();
        }
        RecordedRequest r = new RecordedRequest(at, op, route.version(), req.method(), req.path(), route.grantType(),
                route.clientId(), h.hubId(), h.response().status());
        synchronized (recorded) {
            if (recordLimit == 0) {
                return;
            }
            recorded.addLast(r);
            while (recorded.size() > recordLimit) {
                recorded.removeFirst();
            }
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Request handling
    // ------------------------------------------------------------------------------------------------------------

    /** Handles one request. Never throws for bad input; may block for an injected stall. */
    public SimResponse handle(SimRequest req) {
        Objects.requireNonNull(req, "req");
        Instant at = clock.instant();
        Route route;
        Handled handled;
        try {
            route = route(req);
            Fault fault = takeFault(route.op(), req.path());
            if (fault != null && fault.stall != null) {
                sleep(fault.stall);
            }
            if (fault != null && fault.status > 0) {
                handled = Handled.of(injectedError(route, fault));
            } else {
                handled = route.handler().get();
            }
        } catch (RuntimeException e) {
            route = new Route(OP_UNKNOWN, null, null, null, null);
            handled = Handled.of(json(500, errorBody(null, "error", "server_error", "internal simulator error: " + e, null)));
        }
        record(route, req, handled, at);
        return handled.response();
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(Math.max(0, d.toMillis()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private Route route(SimRequest req) {
        String path = req.path();
        String method = req.method();

        Matcher auth = AUTHORIZE_PATH.matcher(path);
        if (auth.matches()) {
            Long pathPortal = auth.group(1) == null ? null : Long.parseLong(auth.group(1));
            if (method.equals("GET")) {
                return new Route(OP_AUTHORIZE, null, null, req.queryParam("client_id"), () -> authorizePage(req, pathPortal));
            }
            if (method.equals("POST")) {
                Map<String, String> p = merged(req.query(), req.form());
                return new Route(OP_CONSENT, null, null, p.get("client_id"), () -> consent(p));
            }
            return methodNotAllowed("GET, POST");
        }

        if (path.equals("/oauth/v1/token")) {
            if (!method.equals("POST")) {
                return methodNotAllowed("POST");
            }
            // v1 historically accepts parameters in the query string too (the spec lists client_secret/refresh_token
            // as query parameters); the body wins.
            Map<String, String> p = merged(req.query(), req.form());
            return tokenRoute(V1, p);
        }

        Matcher meta = V1_METADATA_PATH.matcher(path);
        if (meta.matches()) {
            String kind = meta.group(1);
            String token = percentDecode(meta.group(2));
            if (kind.equals("access-tokens")) {
                if (!method.equals("GET")) {
                    return methodNotAllowed("GET");
                }
                return new Route(OP_INTROSPECT, V1, null, null, () -> v1AccessTokenInfo(token));
            }
            if (method.equals("GET")) {
                return new Route(OP_INTROSPECT, V1, null, null, () -> v1RefreshTokenInfo(token));
            }
            if (method.equals("DELETE")) {
                return new Route(OP_REVOKE, V1, null, null, () -> v1Revoke(token));
            }
            return methodNotAllowed("GET, DELETE");
        }

        Matcher dated = DATED_TOKEN_PATH.matcher(path);
        if (dated.matches()) {
            String version = dated.group(1);
            String sub = dated.group(2);
            if (!method.equals("POST")) {
                return methodNotAllowed("POST");
            }
            // Dated versions take every parameter from the form body only.
            Map<String, String> p = first(req.form());
            if (sub == null) {
                return tokenRoute(version, p);
            }
            if (sub.equals("introspect")) {
                return new Route(OP_INTROSPECT, version, null, p.get("client_id"), () -> Handled.of(introspect(version, p)));
            }
            return new Route(OP_REVOKE, version, null, p.get("client_id"), () -> Handled.of(datedRevoke(version, p)));
        }

        return new Route(OP_UNKNOWN, null, null, null, () -> Handled.of(json(404,
                ordered("status", "error", "message", "Resource not found: " + method + " " + path,
                        "correlationId", UUID.randomUUID().toString(), "category", "OBJECT_NOT_FOUND"))));
    }

    private static Route methodNotAllowed(String allow) {
        return new Route(OP_UNKNOWN, null, null, null, () -> {
            Map<String, String> h = new LinkedHashMap<>();
            h.put("Allow", allow);
            h.put("Content-Type", JSON_TYPE);
            return Handled.of(new SimResponse(405, h, toJson(ordered("status", "error", "message", "Method not allowed",
                    "correlationId", UUID.randomUUID().toString()))));
        });
    }

    private Route tokenRoute(String version, Map<String, String> p) {
        String grant = p.get("grant_type");
        String op = "authorization_code".equals(grant) ? OP_CODE : "refresh_token".equals(grant) ? OP_REFRESH : OP_TOKEN;
        return new Route(op, version, grant, p.get("client_id"), () -> token(version, p));
    }

    // ------------------------------------------------------------------------------------------------------------
    // Token endpoint
    // ------------------------------------------------------------------------------------------------------------

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
        Instant now = clock.instant();
        return grant.equals("authorization_code") ? codeGrant(version, app, p, now) : refreshGrant(version, app, p, now);
    }

    /** Returns the {@link App} or an error {@link SimResponse}. */
    private Object authenticateClient(String version, Map<String, String> p) {
        String clientId = p.get("client_id");
        if (isBlank(clientId)) {
            return error(version, 400, "BAD_CLIENT_ID", "invalid_client", "missing or invalid client id");
        }
        App app = apps.get(clientId);
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
        AuthCode ac = isBlank(code) ? null : codes.get(code);
        if (ac == null || !ac.clientId.equals(app.clientId())) {
            return Handled.of(error(version, 400, "BAD_AUTH_CODE", "invalid_grant", "missing or unknown auth code"));
        }
        if (!now.isBefore(ac.expiresAt)) {
            codes.remove(code, ac);
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
        if (!codes.remove(code, ac)) { // single use, also under concurrency
            return Handled.of(error(version, 400, "BAD_AUTH_CODE", "invalid_grant", "missing or unknown auth code"));
        }
        RefreshTok rt = newRefreshToken(app, ac.hubId, ac.scopes, now);
        AccessTok at = newAccessToken(app, ac.hubId, ac.scopes, now, rt.token);
        return new Handled(json(200, tokenBody(at, rt)), ac.hubId);
    }

    private Handled refreshGrant(String version, App app, Map<String, String> p, Instant now) {
        String token = p.get("refresh_token");
        RefreshTok rt = isBlank(token) ? null : refreshTokens.get(token);
        if (rt == null || rt.revoked) {
            return Handled.of(error(version, 400, "BAD_REFRESH_TOKEN", "invalid_grant", "missing or invalid refresh token"));
        }
        if (!rt.clientId.equals(app.clientId())) {
            return Handled.of(error(version, 400, "BAD_REFRESH_TOKEN", "invalid_grant",
                    "refresh token was not issued to this client"));
        }
        RefreshTok current = rt;
        if (rotateRefreshTokens) {
            current = newRefreshToken(app, rt.hubId, rt.scopes, now);
            revoke(rt);
        }
        AccessTok at = newAccessToken(app, rt.hubId, rt.scopes, now, current.token);
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
        Portal portal = portals.get(at.hubId);
        long userId = portal == null ? 0 : portal.userId();
        Map<String, Object> m = new LinkedHashMap<>();
        if (tokenResponseStyle == TokenResponseStyle.CAMEL_CASE) {
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
        AccessTok at = accessTokens.get(token);
        Instant now = clock.instant();
        if (at == null || !active(at, now)) {
            return Handled.of(error(V1, 404, "NOT_FOUND", "invalid_token", "access token not found or expired"));
        }
        Portal portal = portalOf(at.hubId);
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
        RefreshTok rt = refreshTokens.get(token);
        if (rt == null || rt.revoked) {
            return Handled.of(error(V1, 404, "NOT_FOUND", "invalid_grant", "refresh token not found or revoked"));
        }
        Portal portal = portalOf(rt.hubId);
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
        RefreshTok rt = refreshTokens.get(token);
        if (rt == null || rt.revoked) {
            return Handled.of(error(V1, 404, "NOT_FOUND", "invalid_grant", "refresh token not found or revoked"));
        }
        revoke(rt);
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
        Instant now = clock.instant();
        boolean refreshFirst = "refresh_token".equals(p.get("token_type_hint"));
        Map<String, Object> body = null;
        for (int i = 0; i < 2 && body == null; i++) {
            boolean lookRefresh = (i == 0) == refreshFirst;
            if (lookRefresh) {
                RefreshTok rt = refreshTokens.get(token);
                if (rt != null && !rt.revoked && rt.clientId.equals(app.clientId())) {
                    Portal portal = portalOf(rt.hubId);
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
                AccessTok at = accessTokens.get(token);
                if (at != null && active(at, now) && at.clientId.equals(app.clientId())) {
                    Portal portal = portalOf(at.hubId);
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
        RefreshTok rt = refreshTokens.get(token);
        if (rt != null && rt.clientId.equals(app.clientId())) {
            revoke(rt);
        } else {
            AccessTok at = accessTokens.get(token);
            if (at != null && at.clientId.equals(app.clientId())) {
                at.revoked = true;
            }
        }
        // RFC 7009 2.2: 200 also for unknown / already revoked tokens.
        return new SimResponse(200, Map.of("X-HubSpot-Correlation-Id", UUID.randomUUID().toString()), null);
    }

    private void revoke(RefreshTok rt) {
        rt.revoked = true;
        if (revokeCascadesToAccessTokens) {
            for (AccessTok at : accessTokens.values()) {
                if (rt.token.equals(at.refreshToken)) {
                    at.revoked = true;
                }
            }
        }
    }

    private static boolean active(AccessTok at, Instant now) {
        return !at.revoked && now.isBefore(at.expiresAt);
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
    // Authorize (consent) step
    // ------------------------------------------------------------------------------------------------------------

    private Handled authorizePage(SimRequest req, Long pathPortal) {
        Map<String, String> p = first(req.query());
        String problem = validateAuthorize(p);
        if (problem != null) {
            return Handled.of(htmlError(problem));
        }
        App app = apps.get(p.get("client_id"));
        long prefill = pathPortal != null ? pathPortal : defaultPortal();
        String action = req.mountPrefix() + "/oauth/authorize";

        StringBuilder h = new StringBuilder(2048);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<title>HubSpot sandbox - Connect app</title></head>\n<body>\n")
                .append("<h1>Connect app</h1>\n")
                .append("<p>This is the HubSpot sandbox consent screen (simulator). No real HubSpot account is involved.</p>\n")
                .append("<dl>\n<dt>Client ID</dt><dd id=\"client-id\">").append(esc(app.clientId())).append("</dd>\n")
                .append("<dt>App ID</dt><dd id=\"app-id\">").append(app.appId()).append("</dd>\n")
                .append("<dt>Redirect URI</dt><dd id=\"redirect-uri\">").append(esc(p.get("redirect_uri"))).append("</dd>\n")
                .append("</dl>\n<h2>Requested scopes</h2>\n<ul id=\"scopes\">\n");
        for (String s : splitScopes(p.get("scope"))) {
            h.append("<li>").append(esc(s)).append("</li>\n");
        }
        h.append("</ul>\n<h2>Optional scopes</h2>\n<ul id=\"optional-scopes\">\n");
        for (String s : splitScopes(p.get("optional_scope"))) {
            h.append("<li>").append(esc(s)).append("</li>\n");
        }
        h.append("</ul>\n<form method=\"post\" action=\"").append(esc(action)).append("\">\n");
        for (Map.Entry<String, List<String>> e : req.query().entrySet()) {
            if (e.getKey().equals("portal_id") || e.getKey().equals("action")) {
                continue;
            }
            for (String v : e.getValue()) {
                h.append("<input type=\"hidden\" name=\"").append(esc(e.getKey())).append("\" value=\"").append(esc(v))
                        .append("\">\n");
            }
        }
        h.append("<label for=\"portal_id\">HubSpot account (portal) ID</label>\n")
                .append("<input type=\"text\" id=\"portal_id\" name=\"portal_id\" inputmode=\"numeric\" pattern=\"[0-9]+\" required value=\"")
                .append(prefill > 0 ? String.valueOf(prefill) : "").append("\">\n");
        List<Long> known = portals.keySet().stream().sorted().collect(Collectors.toList());
        if (!known.isEmpty()) {
            h.append("<p>Known sandbox portals: ");
            h.append(known.stream().map(String::valueOf).collect(Collectors.joining(", ")));
            h.append("</p>\n");
        }
        h.append("<button type=\"submit\" name=\"action\" value=\"allow\">Allow</button>\n")
                .append("<button type=\"submit\" name=\"action\" value=\"deny\" formnovalidate>Deny</button>\n")
                .append("</form>\n</body></html>\n");
        return Handled.of(html(200, h.toString()));
    }

    private Handled consent(Map<String, String> p) {
        String problem = validateAuthorize(p);
        if (problem != null) {
            return Handled.of(htmlError(problem));
        }
        App app = apps.get(p.get("client_id"));
        String redirectUri = p.get("redirect_uri");
        String state = p.get("state");
        String action = p.get("action");
        if ("deny".equalsIgnoreCase(action)) {
            Map<String, String> q = new LinkedHashMap<>();
            q.put("error", "access_denied");
            q.put("error_description", "The user denied the request");
            if (state != null) {
                q.put("state", state);
            }
            return Handled.of(redirect(redirectUri, q));
        }
        if (!"allow".equalsIgnoreCase(action)) {
            return Handled.of(htmlError("Unknown action. Please choose Allow or Deny."));
        }
        long hubId;
        try {
            hubId = Long.parseLong(p.getOrDefault("portal_id", "").trim());
        } catch (NumberFormatException e) {
            return Handled.of(htmlError("Please select a HubSpot account (numeric portal ID)."));
        }
        if (hubId <= 0) {
            return Handled.of(htmlError("Please select a HubSpot account (numeric portal ID)."));
        }
        if (!portals.containsKey(hubId)) {
            if (!autoCreatePortals) {
                return Handled.of(htmlError("Unknown HubSpot account " + hubId + "."));
            }
            portals.putIfAbsent(hubId, Portal.of(hubId));
        }
        List<String> granted = new ArrayList<>(new LinkedHashSet<>(concat(splitScopes(p.get("scope")),
                splitScopes(p.get("optional_scope")))));
        AuthCode ac = newCode(app, redirectUri, hubId, List.copyOf(granted), emptyToNull(p.get("code_challenge")),
                emptyToNull(p.get("code_challenge_method")));
        Map<String, String> q = new LinkedHashMap<>();
        q.put("code", ac.code);
        if (state != null) {
            q.put("state", state);
        }
        return new Handled(redirect(redirectUri, q), hubId);
    }

    /** Returns null if valid, otherwise the message HubSpot shows on its error page. */
    private String validateAuthorize(Map<String, String> p) {
        String clientId = p.get("client_id");
        App app = isBlank(clientId) ? null : apps.get(clientId);
        if (app == null) {
            return "An invalid app client_id was provided. Please contact the app developer.";
        }
        String redirectUri = p.get("redirect_uri");
        if (isBlank(redirectUri) || !app.acceptsRedirect(redirectUri)) {
            return "Authorization failed as the redirect URL '" + (redirectUri == null ? "" : redirectUri)
                    + "' doesn't match the app's registered redirect URL. Please contact the app developer.";
        }
        List<String> scopes = splitScopes(p.get("scope"));
        List<String> optional = splitScopes(p.get("optional_scope"));
        if (scopes.isEmpty()) {
            return "Authorization failed because the install URL has no scope parameter. Please contact the app developer.";
        }
        if (!app.requiredScopes().isEmpty() || !app.optionalScopes().isEmpty()) {
            Set<String> allowed = new LinkedHashSet<>(app.requiredScopes());
            allowed.addAll(app.optionalScopes());
            boolean mismatch = !scopes.containsAll(app.requiredScopes()) || !allowed.containsAll(scopes)
                    || !app.optionalScopes().containsAll(optional);
            if (mismatch) {
                return "Authorization failed because there is a mismatch between the scopes in the install URL and "
                        + "the app's configured scopes. Please contact the app developer.";
            }
        }
        return null;
    }

    private long defaultPortal() {
        if (defaultPortalId > 0) {
            return defaultPortalId;
        }
        return portals.keySet().stream().min(Long::compare).orElse(0L);
    }

    private SimResponse redirect(String redirectUri, Map<String, String> params) {
        String sep = redirectUri.contains("?") ? "&" : "?";
        String location = redirectUri + sep + formEncode(params);
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Location", location);
        h.put("Cache-Control", "no-store");
        return new SimResponse(302, h, null);
    }

    private static SimResponse htmlError(String message) {
        String page = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>HubSpot sandbox - "
                + "Couldn't complete the connection</title></head>\n<body>\n<h1>Couldn't complete the connection</h1>\n"
                + "<p id=\"error\">" + esc(message) + "</p>\n</body></html>\n";
        return html(400, page);
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
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("eventId", eventIds.incrementAndGet());
        e.put("subscriptionId", webhookSubscriptionId);
        e.put("portalId", portalId);
        e.put("appId", appId);
        e.put("occurredAt", clock.instant().toEpochMilli());
        e.put("subscriptionType", "app.uninstall");
        e.put("attemptNumber", 0);
        return new String(toJson(List.of(e)), StandardCharsets.UTF_8);
    }

    /** Uninstall webhook for {@code targetUrl}, signed with the app's current client secret (v1 and v3 headers). */
    public SignedWebhook signedUninstallWebhook(String targetUrl, long portalId, long appId) {
        App app = appById(appId).orElseThrow(() -> new IllegalArgumentException("unknown appId " + appId));
        return signWebhook(app.clientSecret(), "POST", targetUrl, uninstallWebhookBody(portalId, appId),
                clock.instant().toEpochMilli());
    }

    /**
     * Builds the headers HubSpot sends with a webhook: {@code Content-Type}, {@code X-HubSpot-Signature} (v1),
     * {@code X-HubSpot-Signature-Version: v1}, {@code X-HubSpot-Signature-v3} and {@code X-HubSpot-Request-Timestamp}.
     */
    public static SignedWebhook signWebhook(String clientSecret, String method, String url, String body, long timestampMillis) {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Content-Type", "application/json");
        h.put("X-HubSpot-Signature", signatureV1(clientSecret, body));
        h.put("X-HubSpot-Signature-Version", "v1");
        h.put("X-HubSpot-Signature-v3", signatureV3(clientSecret, method, url, body, timestampMillis));
        h.put("X-HubSpot-Request-Timestamp", Long.toString(timestampMillis));
        return new SignedWebhook(method, url, body, timestampMillis, h);
    }

    /**
     * v3 signature: Base64(HMAC-SHA256(key = clientSecret, data = UTF-8(method + uri + body + timestampMillis))).
     * {@code uri} is used exactly as given (full URL including query string).
     */
    public static String signatureV3(String clientSecret, String method, String uri, String body, long timestampMillis) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(clientSecret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            byte[] sig = mac.doFinal((method + uri + body + timestampMillis).getBytes(StandardCharsets.UTF_8));
            return Base64.getEncoder().encodeToString(sig);
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException(e);
        }
    }

    /** v1 signature: lowercase hex SHA-256 of UTF-8(clientSecret + body). */
    public static String signatureV1(String clientSecret, String body) {
        return HexFormat.of().formatHex(sha256((clientSecret + body).getBytes(StandardCharsets.UTF_8)));
    }

    /** v2 signature: lowercase hex SHA-256 of UTF-8(clientSecret + method + uri + body). */
    public static String signatureV2(String clientSecret, String method, String uri, String body) {
        return HexFormat.of().formatHex(sha256((clientSecret + method + uri + body).getBytes(StandardCharsets.UTF_8)));
    }

    // ------------------------------------------------------------------------------------------------------------
    // Token creation
    // ------------------------------------------------------------------------------------------------------------

    private App requireApp(String clientId) {
        App app = apps.get(clientId);
        if (app == null) {
            throw new IllegalArgumentException("unknown client_id " + clientId);
        }
        return app;
    }

    private Portal portalOf(long hubId) {
        Portal p = portals.get(hubId);
        return p != null ? p : Portal.of(hubId);
    }

    private AuthCode newCode(App app, String redirectUri, long hubId, List<String> scopes, String challenge, String method) {
        Instant now = clock.instant();
        String code = UUID.randomUUID().toString();
        AuthCode ac = new AuthCode(code, app.clientId(), redirectUri, hubId, scopes, now.plus(authCodeLifetime), challenge,
                method);
        codes.put(code, ac);
        return ac;
    }

    private RefreshTok newRefreshToken(App app, long hubId, List<String> scopes, Instant now) {
        RefreshTok rt = new RefreshTok(newRefreshTokenValue(), app.clientId(), app.appId(), hubId, scopes, now);
        refreshTokens.put(rt.token, rt);
        return rt;
    }

    private AccessTok newAccessToken(App app, long hubId, List<String> scopes, Instant now, String refreshToken) {
        AccessTok at = new AccessTok(newAccessTokenValue(), app.clientId(), app.appId(), hubId, scopes, now,
                now.plus(accessTokenLifetime), refreshToken);
        accessTokens.put(at.token, at);
        generations.computeIfAbsent(hubId, k -> new AtomicLong()).incrementAndGet();
        if (issued.incrementAndGet() % 1024 == 0) {
            prune(now);
        }
        return at;
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

    // ------------------------------------------------------------------------------------------------------------
    // Errors and JSON
    // ------------------------------------------------------------------------------------------------------------

    /**
     * HubSpot OAuth error: legacy {@code status}/{@code message}, RFC 6749 {@code error}/{@code error_description}
     * (added to v1 and newer versions alike) and {@code correlationId}; dated versions also carry {@code category}.
     */
    private SimResponse error(String version, int httpStatus, String hubspotStatus, String oauthError, String message) {
        return json(httpStatus, errorBody(version, hubspotStatus, oauthError, message, null));
    }

    private static Map<String, Object> errorBody(String version, String hubspotStatus, String oauthError, String message,
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

    private SimResponse injectedError(Route route, Fault f) {
        String hs = f.hubspotStatus;
        Map<String, Object> body;
        if (f.status == 429) {
            body = new LinkedHashMap<>();
            body.put("status", "error");
            body.put("message", "You have reached your secondly limit.");
            body.put("errorType", hs == null ? "RATE_LIMIT" : hs);
            body.put("correlationId", UUID.randomUUID().toString());
            body.put("policyName", "SECONDLY");
            body.put("requestId", UUID.randomUUID().toString());
        } else {
            String oauthError = oauthErrorFor(hs, f.status);
            String message = hs == null ? (f.status >= 500 ? "internal error (injected)" : "request failed (injected)")
                    : messageFor(hs);
            body = errorBody(route.version(), hs == null ? "error" : hs, oauthError, message, null);
        }
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Content-Type", JSON_TYPE);
        h.put("X-HubSpot-Correlation-Id", String.valueOf(body.get("correlationId")));
        if (f.retryAfter != null) {
            long secs = Math.max(0, (f.retryAfter.toMillis() + 999) / 1000);
            h.put("Retry-After", Long.toString(secs));
        }
        return new SimResponse(f.status, h, toJson(body));
    }

    private static String oauthErrorFor(String hubspotStatus, int httpStatus) {
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

    private static String messageFor(String hubspotStatus) {
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

    private static SimResponse json(int status, Object body) {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Content-Type", JSON_TYPE);
        if (body instanceof Map && ((Map<?, ?>) body).get("correlationId") != null) {
            h.put("X-HubSpot-Correlation-Id", String.valueOf(((Map<?, ?>) body).get("correlationId")));
        } else {
            h.put("X-HubSpot-Correlation-Id", UUID.randomUUID().toString());
        }
        h.put("Cache-Control", "no-store");
        return new SimResponse(status, h, toJson(body));
    }

    private static SimResponse html(int status, String page) {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Content-Type", HTML_TYPE);
        h.put("Cache-Control", "no-store");
        h.put("X-Frame-Options", "DENY");
        return new SimResponse(status, h, page.getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] toJson(Object o) {
        try {
            return JSON.writeValueAsBytes(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Small helpers (public ones are shared with transport adapters)
    // ------------------------------------------------------------------------------------------------------------

    /** Parses a raw (percent-encoded) query string or form body into decoded multi-valued parameters. */
    public static Map<String, List<String>> parseQuery(String raw) {
        Map<String, List<String>> m = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return m;
        }
        for (String pair : raw.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String k = eq < 0 ? pair : pair.substring(0, eq);
            String v = eq < 0 ? "" : pair.substring(eq + 1);
            try {
                k = URLDecoder.decode(k, StandardCharsets.UTF_8);
                v = URLDecoder.decode(v, StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                continue; // malformed escape: ignore the pair, like a lenient server would
            }
            m.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
        }
        return m;
    }

    /** {@code application/x-www-form-urlencoded} encoding of single-valued parameters (nulls skipped). */
    public static String formEncode(Map<String, String> params) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : params.entrySet()) {
            if (e.getValue() == null) {
                continue;
            }
            if (sb.length() > 0) {
                sb.append('&');
            }
            sb.append(URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8)).append('=')
                    .append(URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8));
        }
        return sb.toString();
    }

    /** Decodes %XX escapes only ('+' stays '+', unlike form decoding). */
    static String percentDecode(String s) {
        if (s.indexOf('%') < 0) {
            return s;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '%' && i + 2 < s.length()) {
                int hi = Character.digit(s.charAt(i + 1), 16);
                int lo = Character.digit(s.charAt(i + 2), 16);
                if (hi >= 0 && lo >= 0) {
                    out.write(hi * 16 + lo);
                    i += 3;
                    continue;
                }
            }
            int cp = s.codePointAt(i);
            byte[] bytes = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8);
            out.write(bytes, 0, bytes.length);
            i += Character.charCount(cp);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static Map<String, String> first(Map<String, List<String>> multi) {
        Map<String, String> m = new LinkedHashMap<>();
        multi.forEach((k, v) -> {
            if (v != null && !v.isEmpty()) {
                m.put(k, v.get(0));
            }
        });
        return m;
    }

    private static Map<String, String> merged(Map<String, List<String>> query, Map<String, List<String>> body) {
        Map<String, String> m = first(query);
        m.putAll(first(body));
        return m;
    }

    /** Scopes are space separated (also accepts '+' and ',' defensively); duplicates removed, order kept. */
    static List<String> splitScopes(String s) {
        if (s == null || s.isBlank()) {
            return List.of();
        }
        return Arrays.stream(s.trim().split("[\\s+,]+")).filter(x -> !x.isEmpty()).distinct().collect(Collectors.toList());
    }

    private static <T> List<T> concat(List<T> a, List<T> b) {
        List<T> l = new ArrayList<>(a);
        l.addAll(b);
        return l;
    }

    private static boolean isBlank(String s) {
        return s == null || s.isBlank();
    }

    private static String emptyToNull(String s) {
        return isBlank(s) ? null : s;
    }

    private static boolean constantTimeEquals(String a, String b) {
        return MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String base64(byte[] b) {
        return Base64.getEncoder().encodeToString(b);
    }

    private static String esc(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder sb = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<':
                    sb.append("&lt;");
                    break;
                case '>':
                    sb.append("&gt;");
                    break;
                case '&':
                    sb.append("&amp;");
                    break;
                case '"':
                    sb.append("&quot;");
                    break;
                case '\'':
                    sb.append("&#39;");
                    break;
                default:
                    sb.append(c);
            }
        }
        return sb.toString();
    }
}
