package dev.tokenvault.hubspot;

import java.net.ConnectException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.ws.rs.core.MultivaluedHashMap;
import jakarta.ws.rs.core.MultivaluedMap;
import jakarta.ws.rs.core.Response;

import org.jboss.logging.Logger;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tokenvault.config.OAuthApiVersion;
import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.hubspot.HubSpotException.Kind;
import io.quarkus.rest.client.reactive.QuarkusRestClientBuilder;
import io.smallrye.mutiny.Uni;

/**
 * The one client of HubSpot's OAuth endpoints (token for both grants, introspection, refresh-token revoke), for the
 * API generation chosen by {@code tokenvault.hubspot.oauth-api}. Responses may use snake_case or camelCase; both are
 * read. Nothing here retries: callers decide (a code exchange is never retried).
 */
@ApplicationScoped
public class HubSpotOAuthClient {

    private static final Logger LOG = Logger.getLogger(HubSpotOAuthClient.class);

    /** One HTTP client, with its own connection pool, and one bulkhead per call class: none waits for another. */
    private final HubSpotOAuthApi installApi;
    private final HubSpotOAuthApi refreshApi;
    private final HubSpotOAuthApi revokeApi;
    private final Bulkhead installs;
    private final Bulkhead refreshes;
    private final Bulkhead revocations;
    private final OAuthApiVersion version;
    private final Duration timeout;
    private final ObjectMapper json;

    @Inject
    HubSpotOAuthClient(TokenVaultConfig config, ObjectMapper json, dev.tokenvault.metrics.Metrics metrics) {
        this(config.hubspot().apiBaseUrl(), config.hubspot().oauthApi(), config.hubspot().timeout(),
                config.hubspot().bulkhead(), json, metrics::hubspotBusy);
    }

    HubSpotOAuthClient(URI baseUrl, OAuthApiVersion version, Duration timeout, TokenVaultConfig.Bulkheads bounds,
            ObjectMapper json, Runnable onBusy) {
        this.version = version;
        this.timeout = timeout;
        this.json = json;
        var timer = io.smallrye.mutiny.infrastructure.Infrastructure.getDefaultWorkerPool();
        this.installs = new Bulkhead("installs", bounds.installs(), bounds.installsPerApp(), bounds.maxWait(), timer,
                onBusy);
        this.refreshes = new Bulkhead("refreshes", bounds.refreshes(), bounds.refreshesPerApp(), bounds.maxWait(),
                timer, onBusy);
        this.revocations = new Bulkhead("revocations", bounds.revocations(), bounds.revocationsPerApp(),
                bounds.maxWait(), timer, onBusy);
        this.installApi = client(baseUrl, timeout, bounds.installs());
        this.refreshApi = client(baseUrl, timeout, bounds.refreshes());
        this.revokeApi = client(baseUrl, timeout, bounds.revocations());
    }

    /**
     * A client whose connection pool holds as many connections as its bulkhead lets calls through, so an admitted
     * call never queues for a connection (where its read timeout would run while it had not even been sent).
     */
    private static HubSpotOAuthApi client(URI baseUrl, Duration timeout, int connections) {
        return QuarkusRestClientBuilder.newBuilder()
                .baseUri(baseUrl)
                .connectTimeout(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
                .readTimeout(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
                .property("microprofile.rest.client.disable.default.mapper", true)
                .property(org.jboss.resteasy.reactive.client.api.QuarkusRestClientProperties.CONNECTION_POOL_SIZE,
                        connections)
                .build(HubSpotOAuthApi.class);
    }

    /** Refreshes in flight in this replica now (tests). */
    int refreshesInFlight() {
        return refreshes.inFlight();
    }

    public OAuthApiVersion version() {
        return version;
    }

    /**
     * Exchanges an authorization code, with the PKCE {@code code_verifier} of the consent redirect (RFC 7636). Never
     * retried: a code is single-use.
     */
    public Uni<TokenGrant> exchangeCode(ClientCredentials client, String code, URI redirectUri, String codeVerifier) {
        MultivaluedMap<String, String> form = form(client);
        form.add("grant_type", "authorization_code");
        form.add("redirect_uri", redirectUri.toString());
        form.add("code", code);
        form.add("code_verifier", codeVerifier);
        return installs.run(client.clientId(),
                () -> call("code exchange", tokenCall(installApi, form), body -> grant(body), true));
    }

    /** Refreshes an access token. */
    public Uni<TokenGrant> refresh(ClientCredentials client, String refreshToken) {
        MultivaluedMap<String, String> form = form(client);
        form.add("grant_type", "refresh_token");
        form.add("refresh_token", refreshToken);
        return refreshes.run(client.clientId(),
                () -> call("refresh", tokenCall(refreshApi, form), body -> grant(body), false));
    }

    /** What HubSpot knows about an access token: portal, domain, user, app, scopes. */
    public Uni<TokenInfo> introspect(ClientCredentials client, String accessToken) {
        return installs.run(client.clientId(), () -> {
            Uni<Response> response;
            if (version == OAuthApiVersion.V1) {
                response = installApi.introspectV1(accessToken);
            } else {
                MultivaluedMap<String, String> form = form(client);
                form.add("token", accessToken);
                form.add("token_type_hint", "access_token");
                response = installApi.introspect(version.value(), form);
            }
            return call("introspection", response, this::info, false);
        });
    }

    /**
     * What HubSpot knows of a private-app token ({@code POST /oauth/v2/private-apps/get/access-token-info} with
     * {@code {"tokenKey": token}}): the account it belongs to and its scopes. The token is sent in the body, as
     * documented, and as the bearer credential too (regional tokens may need it). A refusal is
     * {@link Kind#REJECTED}; an outage, a 429 or a full bulkhead is {@link Kind#UNAVAILABLE}, {@link Kind#TIMEOUT},
     * {@link Kind#RATE_LIMITED} or {@link Kind#BUSY}. Shares the installs' bulkhead (it is an introspection), per
     * {@code app}.
     */
    public Uni<StaticTokenInfo> privateAppTokenInfo(String app, String token) {
        return installs.run("static:" + app, () -> {
            String body;
            try {
                body = json.writeValueAsString(java.util.Map.of("tokenKey", token));
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalStateException("cannot encode the token-info request", e);
            }
            return call("private-app token info", installApi.privateAppTokenInfo("Bearer " + token, body), b -> {
                Long hubId = number(b, "hubId", "hub_id");
                if (hubId == null) {
                    throw new HubSpotException(Kind.UNAVAILABLE, 200, null,
                            "HubSpot private-app token info lacks hubId", null);
                }
                return new StaticTokenInfo(hubId, number(b, "appId", "app_id"), number(b, "userId", "user_id"),
                        scopes(b));
            }, false);
        });
    }

    /** Revokes a refresh token. A token HubSpot no longer knows counts as revoked. */
    public Uni<Void> revokeRefreshToken(ClientCredentials client, String refreshToken) {
        return revocations.run(client.clientId(), () -> revoke(client, refreshToken));
    }

    private Uni<Void> revoke(ClientCredentials client, String refreshToken) {
        Uni<Response> response;
        if (version == OAuthApiVersion.V1) {
            response = revokeApi.revokeV1(refreshToken);
        } else {
            MultivaluedMap<String, String> form = form(client);
            form.add("token", refreshToken);
            form.add("token_type_hint", "refresh_token");
            response = revokeApi.revoke(version.value(), form);
        }
        return response
                .ifNoItem().after(timeout.plusSeconds(1)).failWith(TimeoutException::new)
                .onFailure().transform(e -> transport("revoke", e))
                .map(r -> {
                    try (r) {
                        int status = r.getStatus();
                        if (status / 100 == 2 || status == 404) {
                            return null;
                        }
                        throw failure("revoke", status, r, false);
                    }
                });
    }

    private Uni<Response> tokenCall(HubSpotOAuthApi api, MultivaluedMap<String, String> form) {
        return version == OAuthApiVersion.V1 ? api.tokenV1(form) : api.token(version.value(), form);
    }

    private <T> Uni<T> call(String operation, Uni<Response> response, Function<JsonNode, T> onSuccess,
            boolean codeGrant) {
        return response
                .ifNoItem().after(timeout.plusSeconds(1)).failWith(TimeoutException::new)
                .onFailure().transform(e -> transport(operation, e))
                .map(r -> {
                    try (r) {
                        if (r.getStatus() / 100 != 2) {
                            throw failure(operation, r.getStatus(), r, codeGrant);
                        }
                        JsonNode body = readBody(r);
                        if (body == null || !body.isObject()) {
                            throw new HubSpotException(Kind.UNAVAILABLE, r.getStatus(), null,
                                    "HubSpot " + operation + " answered " + r.getStatus() + " without a JSON object",
                                    null);
                        }
                        return onSuccess.apply(body);
                    }
                });
    }

    private MultivaluedMap<String, String> form(ClientCredentials client) {
        MultivaluedMap<String, String> form = new MultivaluedHashMap<>();
        form.add("client_id", client.clientId());
        form.add("client_secret", client.clientSecret());
        return form;
    }

    private TokenGrant grant(JsonNode body) {
        String access = text(body, "access_token", "accessToken");
        Long expiresIn = number(body, "expires_in", "expiresIn");
        if (access == null || access.isEmpty() || expiresIn == null || expiresIn <= 0) {
            throw new HubSpotException(Kind.UNAVAILABLE, 200, null,
                    "HubSpot token response lacks access_token or a positive expires_in", null);
        }
        return new TokenGrant(access, text(body, "refresh_token", "refreshToken"), expiresIn,
                number(body, "hub_id", "hubId"), scopes(body));
    }

    private TokenInfo info(JsonNode body) {
        JsonNode active = body.get("active");
        boolean isActive = active == null || active.asBoolean(false);
        return new TokenInfo(isActive, number(body, "hub_id", "hubId"), text(body, "hub_domain", "hubDomain"),
                text(body, "user", "user"), number(body, "app_id", "appId"), scopes(body),
                number(body, "expires_in", "expiresIn"));
    }

    private static List<String> scopes(JsonNode body) {
        JsonNode node = body.has("scopes") ? body.get("scopes") : body.get("scope");
        List<String> out = new ArrayList<>();
        if (node == null || node.isNull()) {
            return out;
        }
        if (node.isArray()) {
            node.forEach(n -> out.add(n.asText()));
        } else {
            for (String s : node.asText().split("[\\s,]+")) {
                if (!s.isEmpty()) {
                    out.add(s);
                }
            }
        }
        return out;
    }

    private static String text(JsonNode body, String snake, String camel) {
        JsonNode n = body.hasNonNull(snake) ? body.get(snake) : body.get(camel);
        return n == null || n.isNull() ? null : n.asText();
    }

    private static Long number(JsonNode body, String snake, String camel) {
        JsonNode n = body.hasNonNull(snake) ? body.get(snake) : body.get(camel);
        if (n == null || n.isNull()) {
            return null;
        }
        if (n.canConvertToLong()) {
            return n.asLong();
        }
        try {
            return Long.parseLong(n.asText().trim());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private JsonNode readBody(Response r) {
        try {
            String text = r.readEntity(String.class);
            return text == null || text.isBlank() ? null : json.readTree(text);
        } catch (Exception e) {
            return null;
        }
    }

    /** Interprets HubSpot's error answer: {@code status}, {@code error}, {@code message}, {@code correlationId}. */
    private HubSpotException failure(String operation, int status, Response r, boolean codeGrant) {
        JsonNode body = readBody(r);
        String hubspotStatus = body == null ? null : text(body, "status", "status");
        String error = body == null ? null : text(body, "error", "error");
        String correlationId = body == null ? null : text(body, "correlationId", "correlation_id");
        Duration retryAfter = retryAfter(r.getHeaderString("Retry-After"));
        Kind kind;
        if (status == 429) {
            kind = Kind.RATE_LIMITED;
        } else if (status >= 500) {
            kind = Kind.UNAVAILABLE;
        } else if ("BAD_REFRESH_TOKEN".equals(hubspotStatus) || (!codeGrant && "invalid_grant".equals(error)
                && "refresh".equals(operation))) {
            kind = Kind.REFRESH_TOKEN_REJECTED;
        } else if ("BAD_AUTH_CODE".equals(hubspotStatus) || "EXPIRED_AUTH_CODE".equals(hubspotStatus)
                || (codeGrant && "invalid_grant".equals(error))) {
            kind = Kind.BAD_AUTH_CODE;
        } else if ("BAD_CLIENT_ID".equals(hubspotStatus) || "invalid_client".equals(error)) {
            kind = Kind.BAD_CLIENT;
        } else {
            kind = Kind.REJECTED;
        }
        String message = "HubSpot " + operation + " failed: HTTP " + status
                + (hubspotStatus == null ? "" : " " + hubspotStatus)
                + (error == null ? "" : " (" + error + ")")
                + (correlationId == null ? "" : ", correlationId " + correlationId);
        LOG.debug(message);
        return new HubSpotException(kind, status, hubspotStatus, message, retryAfter);
    }

    private static RuntimeException transport(String operation, Throwable e) {
        if (e instanceof HubSpotException h) {
            return h;
        }
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            if (root instanceof TimeoutException) {
                break;
            }
            root = root.getCause();
        }
        boolean timeout = e instanceof TimeoutException || root instanceof TimeoutException
                || root.getClass().getSimpleName().contains("Timeout");
        if (timeout) {
            return new HubSpotException(Kind.TIMEOUT, 0, null, "HubSpot " + operation + " timed out", null);
        }
        String what = root instanceof ConnectException ? "connection refused" : root.getClass().getSimpleName();
        return new HubSpotException(Kind.UNAVAILABLE, 0, null, "HubSpot " + operation + " unreachable: " + what,
                null);
    }

    static Duration retryAfter(String header) {
        if (header == null || header.isBlank()) {
            return null;
        }
        try {
            long seconds = Long.parseLong(header.trim());
            return seconds < 0 ? null : Duration.ofSeconds(Math.min(seconds, 3600));
        } catch (NumberFormatException e) {
            try {
                var when = java.time.ZonedDateTime.parse(header.trim(),
                        java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME);
                Duration d = Duration.between(java.time.Instant.now(), when.toInstant());
                return d.isNegative() ? Duration.ZERO : d;
            } catch (java.time.format.DateTimeParseException ignored) {
                return null;
            }
        }
    }
}
