package dev.tokenvault.token;

import java.time.Instant;
import java.util.List;

import org.eclipse.microprofile.openapi.annotations.media.Schema;

import io.quarkus.runtime.annotations.RegisterForReflection;

/** An access token handed to an internal service. {@link #toString()} hides the token. */
@RegisterForReflection
@Schema(name = "TokenResponse", description = "A usable HubSpot access token for one portal")
public record TokenResponse(
        @Schema(examples = "default") String app,
        @Schema(examples = "62515") long portalId,
        @Schema(description = "send as 'Authorization: Bearer ...' to HubSpot", examples = "CJSP5qf1KhICAQEYs-gDIIGOBii1hQIyGQAf3xBKmlwHjX7OIpuIFEavB2-qYAGQsF4") String accessToken,
        @Schema(examples = "bearer") String tokenType,
        @Schema(description = "null for static credentials (service keys, private-app tokens)", examples = "2026-11-23T10:15:30Z") Instant expiresAt,
        @Schema(description = "seconds left; null for static credentials", examples = "1740") Long expiresIn,
        @Schema(examples = "[\"oauth\", \"crm.objects.contacts.read\"]") List<String> scopes,
        @Schema(enumeration = {
                "oauth", "service_key", "private_app" }) String authType,
        @Schema(description = "static credentials: seconds since the token was stored; null for oauth", examples = "86400") Long tokenAge){

    /** The same answer without the token (for a caller that may refresh but not read). */
    public TokenResponse withoutAccessToken() {
        return new TokenResponse(app, portalId, null, tokenType, expiresAt, expiresIn, scopes, authType, tokenAge);
    }

    @Override
    public String toString() {
        return "TokenResponse[" + app + "/" + portalId + ", expiresAt=" + expiresAt + ", accessToken=<redacted>]";
    }
}
