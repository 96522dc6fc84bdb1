package dev.tokenvault.connection;

import java.util.Map;

import dev.tokenvault.crypto.SecretField;
import dev.tokenvault.crypto.WrappedKey;

/** A connection row with its wrapped data key and sealed secret fields (ciphertexts only). */
record StoredConnection(Connection connection, WrappedKey wrappedKey, Map<SecretField, byte[]> sealed) {

    @Override
    public String toString() {
        return "StoredConnection[" + connection.app() + "/" + connection.portalId() + ", fields=" + sealed.keySet()
                + "]";
    }
}
