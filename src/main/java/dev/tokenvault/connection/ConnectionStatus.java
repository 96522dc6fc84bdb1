package dev.tokenvault.connection;

/** The state of a connection. An erased connection has no status: it is gone. */
public enum ConnectionStatus {
    ACTIVE("active"),
    /** HubSpot rejected the refresh token: a portal admin must install the app again. */
    NEEDS_REAUTH("needs_reauth");

    private final String value;

    ConnectionStatus(String value) {
        this.value = value;
    }

    public String value() {
        return value;
    }

    public static ConnectionStatus of(String value) {
        for (ConnectionStatus s : values()) {
            if (s.value.equals(value)) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown status " + value);
    }
}
