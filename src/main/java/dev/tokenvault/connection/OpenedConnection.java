package dev.tokenvault.connection;

import java.util.Map;
import java.util.Optional;

import dev.tokenvault.crypto.DataKey;
import dev.tokenvault.crypto.SecretField;

/** A connection with its secret fields opened. In memory only; {@link #toString()} never shows a secret. */
public record OpenedConnection(Connection connection, Map<SecretField, String> secrets, DataKey dataKey) {

    public Optional<String> secret(SecretField field) {
        return Optional.ofNullable(secrets.get(field));
    }

    @Override
    public String toString() {
        return "OpenedConnection[" + connection.app() + "/" + connection.portalId() + ", fields=" + secrets.keySet()
                + "]";
    }
}
