package dev.tokenvault.refresh;

import java.time.Instant;
import java.util.List;

/** An access token just refreshed (or found fresh). {@link #toString()} hides the token. */
public record FreshToken(String accessToken, Instant expiresAt, List<String> scopes) {
    @Override
    public String toString() {
        return "FreshToken[expiresAt=" + expiresAt + ", accessToken=<redacted>]";
    }
}
