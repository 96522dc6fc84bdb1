package dev.tokenvault.connection;

import java.util.Map;
import java.util.Optional;

import dev.tokenvault.crypto.DataKey;
import dev.tokenvault.crypto.SecretField;

/**
 * A connection with its secret fields opened. In memory only; {@link #toString()} never shows a secret.
 * {@code sealedRefreshToken} is the stored ciphertext of the refresh token as read (null when none): what a
 * compare-and-set of a new refresh token compares with.
 */
public record OpenedConnection(Connection connection, Map<SecretField, String> secrets, DataKey dataKey,
        byte[] sealedRefreshToken) {

    public OpenedConnection(Connection connection, Map<SecretField, String> secrets, DataKey dataKey) {
        this(connection, secrets, dataKey, null);
    }

    public Optional<String> secret(SecretField field) {
        return Optional.ofNullable(secrets.get(field));
    }

    @Override
    public String toString() {
        return "OpenedConnection[" + connection.app() + "/" + connection.portalId() + ", fields=" + secrets.keySet()
                + "]";
    }
}
