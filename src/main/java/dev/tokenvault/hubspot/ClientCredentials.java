package dev.tokenvault.hubspot;

/** A public app's client id and secret. {@link #toString()} never shows the secret. */
public record ClientCredentials(String clientId, String clientSecret) {

    @Override
    public String toString() {
        return "ClientCredentials[clientId=" + clientId + ", clientSecret=<redacted>]";
    }
}
