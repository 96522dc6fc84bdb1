package dev.tokenvault.connection;

/** How a connection authenticates at HubSpot. */
public enum AuthType {
    /** Installed through the OAuth flow: refresh token + short-lived access tokens. */
    OAUTH("oauth"),
    /** A private-app (static bearer) token stored by an operator. */
    PRIVATE_APP("private_app"),
    /** A HubSpot service key (account-level static bearer credential) stored by an operator. */
    SERVICE_KEY("service_key");

    private final String value;

    AuthType(String value) {
        this.value = value;
    }

    public String value() {
        return value;
    }

    /** A static bearer credential (private-app token or service key): never refreshed, rotated by an operator. */
    public boolean isStatic() {
        return this != OAUTH;
    }

    public static AuthType of(String value) {
        for (AuthType t : values()) {
            if (t.value.equals(value)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown auth type " + value);
    }
}
