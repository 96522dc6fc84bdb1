package dev.tokenvault.connection;

import java.time.Instant;
import java.util.List;

/** A stored connection, without its secrets. */
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
        long version) {
}
