package dev.tokenvault.token;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import com.github.benmanes.caffeine.cache.Cache;

import dev.tokenvault.config.Caches;
import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.connection.ConnectionChanged;

/**
 * Opened access tokens by (app, portal), at most {@code tokenvault.token-cache.size}, each entry expiring with its
 * token (private-app tokens after a fixed time). Dropped when any replica changes the connection.
 */
@ApplicationScoped
class TokenCache {

    static final Duration PRIVATE_APP_TTL = Duration.ofMinutes(10);

    record Key(String app, long portalId) {
    }

    /** {@code expiresAt} null: a static token (private-app token or service key), stored at {@code storedAt}. */
    record Entry(String accessToken, Instant expiresAt, List<String> scopes, String authType, Instant storedAt) {

        Entry(String accessToken, Instant expiresAt, List<String> scopes, String authType) {
            this(accessToken, expiresAt, scopes, authType, null);
        }

        @Override
        public String toString() {
            return "Entry[" + authType + ", expiresAt=" + expiresAt + "]";
        }
    }

    private final Cache<Key, Entry> cache;

    TokenCache(TokenVaultConfig config) {
        this.cache = Caches.livingFor(Math.max(0, config.tokenCache().size()),
                entry -> entry.expiresAt() == null ? PRIVATE_APP_TTL : Duration.between(Instant.now(), entry.expiresAt()));
    }

    Entry get(String app, long portalId) {
        return cache.getIfPresent(new Key(app, portalId));
    }

    void put(String app, long portalId, Entry entry) {
        cache.put(new Key(app, portalId), entry);
    }

    void invalidate(String app, long portalId) {
        cache.invalidate(new Key(app, portalId));
    }

    void onChange(@Observes ConnectionChanged changed) {
        if (changed.isEverything()) {
            cache.invalidateAll();
        } else {
            invalidate(changed.app(), changed.portalId());
        }
    }
}
