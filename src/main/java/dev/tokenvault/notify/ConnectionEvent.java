package dev.tokenvault.notify;

/** The connection events announced to {@code tokenvault.notify.url}. */
public enum ConnectionEvent {
    INSTALLED("connection.installed"),
    NEEDS_REAUTH("connection.needs_reauth"),
    RECOVERED("connection.recovered"),
    REVOKED("connection.revoked");

    private final String value;

    ConnectionEvent(String value) {
        this.value = value;
    }

    public String value() {
        return value;
    }
}
