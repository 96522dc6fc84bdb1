package dev.tokenvault.web;

import java.net.URI;
import java.time.Duration;
import java.util.Map;

/**
 * A failure the API reports to its caller as RFC 9457 {@code application/problem+json}. The detail is shown to the
 * caller: it never contains a token, code, secret or key.
 */
public class ApiException extends RuntimeException {

    private static final String TYPE_BASE = "https://tokenvault.dev/problems/";

    private final int status;
    private final String type;
    private final String title;
    private final Duration retryAfter;
    private final Map<String, Object> extensions;

    public ApiException(int status, String type, String title, String detail, Duration retryAfter,
            Map<String, Object> extensions, Throwable cause) {
        super(detail, cause);
        this.status = status;
        this.type = type;
        this.title = title;
        this.retryAfter = retryAfter;
        this.extensions = extensions == null ? Map.of() : Map.copyOf(extensions);
    }

    public static ApiException unauthenticated() {
        return new ApiException(401, "unauthenticated", "Unauthenticated", "a valid bearer JWT is required", null, null,
                null);
    }

    public static ApiException tooManyRequests(String type, String title, String detail, Duration retryAfter) {
        return new ApiException(429, type, title, detail, retryAfter, null, null);
    }

    public static ApiException badRequest(String detail) {
        return new ApiException(400, "invalid-request", "Invalid request", detail, null, null, null);
    }

    public static ApiException forbidden(String detail) {
        return new ApiException(403, "forbidden", "Forbidden", detail, null, null, null);
    }

    public static ApiException notFound(String detail) {
        return new ApiException(404, "not-found", "Not found", detail, null, null, null);
    }

    public static ApiException conflict(String detail) {
        return new ApiException(409, "conflict", "Conflict", detail, null, null, null);
    }

    public static ApiException needsReauth(String app, long portalId, URI installUrl) {
        return new ApiException(409, "needs-reauth", "Connection needs re-authorization",
                "HubSpot rejected the refresh token of portal " + portalId + " for app " + app
                        + "; a portal admin must install the app again",
                null, Map.of("installUrl", installUrl.toString(), "app", app, "portalId", portalId), null);
    }

    public static ApiException unavailable(String detail, Duration retryAfter, Throwable cause) {
        return new ApiException(503, "service-unavailable", "Service unavailable", detail, retryAfter, null, cause);
    }

    public int status() {
        return status;
    }

    public URI type() {
        return URI.create(TYPE_BASE + type);
    }

    public String title() {
        return title;
    }

    public Duration retryAfter() {
        return retryAfter;
    }

    public Map<String, Object> extensions() {
        return extensions;
    }
}
