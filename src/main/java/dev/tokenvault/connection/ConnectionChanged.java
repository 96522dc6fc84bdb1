package dev.tokenvault.connection;

/**
 * A connection was erased, re-installed, given a new private-app token or moved to needs_reauth, in this or another
 * replica (PostgreSQL NOTIFY). {@code portalId} 0 with a null app means "anything may have changed" (the listener
 * reconnected and may have missed notifications).
 */
public record ConnectionChanged(String app, long portalId) {

    public static ConnectionChanged everything() {
        return new ConnectionChanged(null, 0);
    }

    public boolean isEverything() {
        return app == null;
    }
}
