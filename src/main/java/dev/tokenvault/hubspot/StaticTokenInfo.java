package dev.tokenvault.hubspot;

import java.util.List;

/** What HubSpot's token-info endpoint tells about a private-app token: its account, app, user and scopes. */
public record StaticTokenInfo(long hubId, Long appId, Long userId, List<String> scopes) {
}
