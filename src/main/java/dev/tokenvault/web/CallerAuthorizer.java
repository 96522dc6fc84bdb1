package dev.tokenvault.web;

import java.time.Duration;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.RequestScoped;

import org.eclipse.microprofile.jwt.JsonWebToken;

import com.github.benmanes.caffeine.cache.Cache;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.config.Caches;
import io.quarkus.security.UnauthorizedException;

/**
 * The one place that decides whether a caller may act: {@code groups} must hold the action's group and the
 * {@code portals} claim must name the portal (or be {@code "*"}). Every action it allows is audited, so it refuses
 * them all (503) while the audit trail cannot take more ({@link AuditLog#requireAccepting()}).
 */
@RequestScoped
public class CallerAuthorizer {

    private final JsonWebToken jwt;
    private final AuditLog audit;
    private final KnownCallers known;
    private Caller caller;

    CallerAuthorizer(JsonWebToken jwt, AuditLog audit, KnownCallers known) {
        this.jwt = jwt;
        this.audit = audit;
        this.known = known;
    }

    /** Every refusal is audited here, the one place that decides. */
    private ApiException refused(Caller c, Long portalId, String detail) {
        audit.record(c.sub(), null, portalId, "authorization", "forbidden", detail);
        return ApiException.forbidden(detail);
    }

    /**
     * Callers by raw JWT, for the hot path: services reuse one token for many requests. The token has been verified
     * (signature, issuer, expiry) for this request before it is looked up here; the entry only saves re-reading its
     * claims.
     */
    @ApplicationScoped
    static class KnownCallers {
        final Cache<String, Caller> byRawToken = Caches.expireAfterWrite(10_000, Duration.ofMinutes(5));
    }

    /** The authenticated caller; 401 when the request carries no valid JWT. */
    public Caller caller() {
        if (caller == null) {
            String raw = jwt == null ? null : jwt.getRawToken();
            if (raw == null) {
                throw new UnauthorizedException();
            }
            caller = known.byRawToken.get(raw, r -> {
                String sub = jwt.getSubject() == null ? jwt.getName() : jwt.getSubject();
                return Caller.of(sub, jwt.getGroups() == null ? java.util.Set.of() : jwt.getGroups(),
                        jwt.getClaim("portals"));
            });
        }
        return caller;
    }

    /** May hand out tokens of this portal ({@code tokens.read}). */
    public Caller requireRead(long portalId) {
        return require(Caller.READ, portalId);
    }

    /** May administer this portal's connection ({@code tokens.admin}). */
    public Caller requireAdmin(long portalId) {
        return require(Caller.ADMIN, portalId);
    }

    /** May administer the whole service ({@code tokens.admin} with {@code portals: ["*"]}). */
    public Caller requireAdminOfAll() {
        audit.requireAccepting();
        Caller c = caller();
        if (!c.inGroup(Caller.ADMIN)) {
            throw refused(c, null, "this action needs group " + Caller.ADMIN);
        }
        if (!c.allPortals()) {
            throw refused(c, null, "this action needs the portals claim \"*\"");
        }
        return c;
    }

    /** May administer some portals ({@code tokens.admin}); listings are then limited to the caller's portals. */
    public Caller requireAdminGroup() {
        audit.requireAccepting();
        Caller c = caller();
        if (!c.inGroup(Caller.ADMIN)) {
            throw refused(c, null, "this action needs group " + Caller.ADMIN);
        }
        return c;
    }

    /** May act on this portal with one of these groups. */
    public Caller require(long portalId, String... anyOfGroups) {
        audit.requireAccepting();
        Caller c = caller();
        String refusal = c.refusal(portalId, anyOfGroups);
        if (refusal != null) {
            throw refused(c, portalId, refusal);
        }
        return c;
    }

    private Caller require(String group, long portalId) {
        return require(portalId, group);
    }
}
