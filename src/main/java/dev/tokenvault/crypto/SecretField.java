package dev.tokenvault.crypto;

import java.nio.charset.StandardCharsets;

/** The secret fields of a connection. Each ciphertext is bound to its app, portal and field. */
public enum SecretField {
    REFRESH_TOKEN("refresh_token"),
    ACCESS_TOKEN("access_token"),
    /** The current static token (private-app token or service key). */
    PRIVATE_APP_TOKEN("private_app_token"),
    /** The static token the current one replaced, kept for a rollback until the grace period ends. */
    PREVIOUS_STATIC_TOKEN("previous_static_token");

    private final String column;

    SecretField(String column) {
        this.column = column;
    }

    /** The name stored in the database. */
    public String column() {
        return column;
    }

    public static SecretField ofColumn(String column) {
        for (SecretField f : values()) {
            if (f.column.equals(column)) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown secret field " + column);
    }

    /** Associated data of a sealed field: binds the ciphertext to its connection and field. */
    byte[] aad(String app, long portalId) {
        return ("tokenvault/v1|" + app + "|" + portalId + "|" + column).getBytes(StandardCharsets.UTF_8);
    }
}
