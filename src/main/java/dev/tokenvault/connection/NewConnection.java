package dev.tokenvault.connection;

import java.time.Instant;
import java.util.List;

/**
 * What is written when a connection is created or replaced (install, re-install, static token). {@code previous} is
 * the replaced static token's description, kept for a rollback; null clears it.
 */
record NewConnection(String app, long portalId, AuthType authType, List<String> scopes, String hubDomain,
        String installedBy, Long hubspotAppId, Instant at, Instant accessExpiresAt, Instant lastRefreshAt,
        Instant nextRefreshAt, Previous previous) {

    NewConnection(String app, long portalId, AuthType authType, List<String> scopes, String hubDomain,
            String installedBy, Long hubspotAppId, Instant at, Instant accessExpiresAt, Instant lastRefreshAt,
            Instant nextRefreshAt) {
        this(app, portalId, authType, scopes, hubDomain, installedBy, hubspotAppId, at, accessExpiresAt,
                lastRefreshAt, nextRefreshAt, null);
    }

    /** A replaced static token: its kind, scopes, when it had been stored, and until when it may be restored. */
    record Previous(AuthType authType, List<String> scopes, Instant storedAt, Instant until) {
    }
}
