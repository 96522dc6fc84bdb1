package dev.tokenvault.hubspot;

import java.util.List;

/** What introspection tells about an access token. Holds no token. */
public record TokenInfo(boolean active, Long hubId, String hubDomain, String user, Long appId, List<String> scopes,
        Long expiresIn) {
}
