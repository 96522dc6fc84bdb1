package dev.tokenvault.connection;

import java.time.Instant;
import java.util.List;

/** What is written when a connection is created or replaced (install, re-install, private-app token). */
record NewConnection(String app, long portalId, AuthType authType, List<String> scopes, String hubDomain,
        String installedBy, Long hubspotAppId, Instant at, Instant accessExpiresAt, Instant lastRefreshAt,
        Instant nextRefreshAt) {
}
