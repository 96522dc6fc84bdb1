package dev.tokenvault.connection;

import java.time.Instant;
import java.util.Optional;

/**
 * What the connection list keeps: a status, an auth type, and static credentials whose token was stored before an
 * instant ({@code olderThan}). Empty parts keep everything.
 */
public record ConnectionFilter(Optional<ConnectionStatus> status, Optional<AuthType> authType,
        Optional<Instant> storedBefore) {

    public static ConnectionFilter all() {
        return new ConnectionFilter(Optional.empty(), Optional.empty(), Optional.empty());
    }
}
