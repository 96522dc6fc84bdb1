package dev.tokenvault.connection;

import java.time.Instant;
import java.util.List;

import org.eclipse.microprofile.openapi.annotations.media.Schema;

import io.quarkus.runtime.annotations.RegisterForReflection;

/** A connection as the admin API shows it: never a token. */
@RegisterForReflection
@Schema(name = "Connection", description = "The credentials held for one (app, portal), without any token")
public record ConnectionResponse(
        @Schema(examples = "default") String app,
        @Schema(examples = "62515") long portalId,
        @Schema(examples = "bearer") String tokenType,
        @Schema(description = "expiry of the current access token; null for static credentials (service keys, private-app tokens)", examples = "2026-11-23T10:15:30Z") Instant expiresAt,
        @Schema(description = "seconds the current access token still lives; null for static credentials", examples = "1500") Long expiresIn,
        @Schema(examples = "[\"oauth\", \"crm.objects.contacts.read\"]") List<String> scopes,
        @Schema(enumeration = {
                "oauth", "service_key", "private_app" }) String authType,
        @Schema(description = "static credentials: seconds since the current token was stored; null for oauth", examples = "86400") Long tokenAge,
        @Schema(enumeration = { "active", "needs_reauth" }) String status,
        @Schema(examples = "example.hubspot.com") String hubDomain,
        @Schema(description = "when the app was installed; for static credentials, when the current token was stored") Instant installedAt,
        Instant lastRefreshAt,
        int refreshFailures,
        @Schema(description = "why the last refresh failed; never a secret") String lastError){

    public static ConnectionResponse of(Connection c, Instant now) {
        Instant expiresAt = c.authType() == AuthType.OAUTH ? c.accessExpiresAt() : null;
        Long expiresIn = expiresAt == null ? null : Math.max(0, expiresAt.getEpochSecond() - now.getEpochSecond());
        Long tokenAge = c.authType().isStatic() ? tokenAge(c.installedAt(), now) : null;
        return new ConnectionResponse(c.app(), c.portalId(), "bearer", expiresAt, expiresIn, c.scopes(),
                c.authType().value(), tokenAge, c.status().value(), c.hubDomain(), c.installedAt(), c.lastRefreshAt(),
                c.refreshFailures(), c.lastError());
    }

    /** Whole seconds from {@code storedAt} to {@code now}, never negative. */
    public static long tokenAge(Instant storedAt, Instant now) {
        return storedAt == null ? 0 : Math.max(0, now.getEpochSecond() - storedAt.getEpochSecond());
    }
}
