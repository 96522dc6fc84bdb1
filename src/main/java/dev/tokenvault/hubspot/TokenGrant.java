package dev.tokenvault.hubspot;

import java.util.List;

/**
 * What HubSpot's token endpoint returned. {@code refreshToken} is null when HubSpot did not send one (keep the old
 * one). {@link #toString()} never shows a token.
 */
public record TokenGrant(String accessToken, String refreshToken, long expiresIn, Long hubId, List<String> scopes) {

    @Override
    public String toString() {
        return "TokenGrant[expiresIn=" + expiresIn + ", hubId=" + hubId + ", refreshToken="
                + (refreshToken == null ? "absent" : "<redacted>") + "]";
    }
}
