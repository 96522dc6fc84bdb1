package dev.tokenvault.config;

import java.util.Arrays;
import java.util.stream.Collectors;

/** The HubSpot OAuth API generation to call ({@code tokenvault.hubspot.oauth-api}). */
public enum OAuthApiVersion {
    /** {@code /oauth/v1/...}, deprecated by HubSpot on 2027-02-16. */
    V1("v1"),
    /** The date-versioned endpoints, {@code /oauth/2026-03/...}. */
    V2026_03("2026-03");

    private final String value;

    OAuthApiVersion(String value) {
        this.value = value;
    }

    public String value() {
        return value;
    }

    public static final class Converter implements org.eclipse.microprofile.config.spi.Converter<OAuthApiVersion> {
        @Override
        public OAuthApiVersion convert(String raw) {
            String v = raw.trim();
            return Arrays.stream(values()).filter(x -> x.value.equals(v)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("tokenvault.hubspot.oauth-api must be one of "
                            + Arrays.stream(values()).map(OAuthApiVersion::value).collect(Collectors.joining(", "))
                            + ", not '" + v + "'"));
        }
    }
}
