package dev.tokenvault.hubspot;

import java.time.Duration;

/**
 * A HubSpot OAuth call failed. {@link Kind} says what the caller can do about it; the message carries HubSpot's
 * status code, error name and correlation id, never a token, code or secret.
 */
public class HubSpotException extends RuntimeException {

    public enum Kind {
        /** The refresh token is no longer valid ({@code BAD_REFRESH_TOKEN} / {@code invalid_grant}): re-install. */
        REFRESH_TOKEN_REJECTED,
        /** The authorization code is unknown, used or expired. */
        BAD_AUTH_CODE,
        /** HubSpot does not accept the app's client id or secret. */
        BAD_CLIENT,
        /** 429: retry after {@link #retryAfter()}. */
        RATE_LIMITED,
        /** 5xx or no answer: retry later. */
        UNAVAILABLE,
        /** Timed out: retry later (a code exchange must not be retried). */
        TIMEOUT,
        /** Any other refusal (4xx). */
        REJECTED,
        /** Not sent: too many calls of its class already in flight in this replica (bulkhead); retry shortly. */
        BUSY
    }

    private final Kind kind;
    private final int httpStatus;
    private final String hubspotStatus;
    private final Duration retryAfter;

    public HubSpotException(Kind kind, int httpStatus, String hubspotStatus, String message, Duration retryAfter) {
        super(message, null, false, false);
        this.kind = kind;
        this.httpStatus = httpStatus;
        this.hubspotStatus = hubspotStatus;
        this.retryAfter = retryAfter;
    }

    public Kind kind() {
        return kind;
    }

    public int httpStatus() {
        return httpStatus;
    }

    public String hubspotStatus() {
        return hubspotStatus;
    }

    /** HubSpot's {@code Retry-After}, when it sent one. */
    public Duration retryAfter() {
        return retryAfter;
    }

}
