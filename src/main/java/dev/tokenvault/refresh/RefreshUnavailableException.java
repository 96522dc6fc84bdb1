package dev.tokenvault.refresh;

import java.time.Duration;

/** A refresh could not be done now (HubSpot, key service or database unavailable); retry after the given delay. */
public class RefreshUnavailableException extends RuntimeException {

    private final Duration retryAfter;

    public RefreshUnavailableException(String message, Duration retryAfter) {
        super(message, null, false, false);
        this.retryAfter = retryAfter;
    }

    public Duration retryAfter() {
        return retryAfter;
    }
}
