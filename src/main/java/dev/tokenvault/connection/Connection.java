package dev.tokenvault.connection;

import java.time.Instant;
import java.util.List;

/**
 * A stored connection, without its secrets. For a static credential {@code installedAt} is when the current token was
 * stored; {@code previousAuthType} and {@code previousUntil} describe the replaced token kept for a rollback (null when
 * there is none).
 */
public record Connection(
        long id,
        String app,
        long portalId,
        AuthType authType,
        ConnectionStatus status,
        List<String> scopes,
        String hubDomain,
        String installedBy,
        Long hubspotAppId,
        Instant installedAt,
        Instant updatedAt,
        Instant accessExpiresAt,
        Instant lastRefreshAt,
        Instant nextRefreshAt,
        int refreshFailures,
        String lastError,
        long version,
        AuthType previousAuthType,
        Instant previousUntil) {

    /** Whether a replaced static token can still be restored at {@code now}. */
    public boolean canRollBack(Instant now) {
        return previousAuthType != null && previousUntil != null && previousUntil.isAfter(now);
    }
}
