package dev.tokenvault.callers;

import jakarta.enterprise.context.RequestScoped;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.web.ApiException;
import io.quarkus.security.UnauthorizedException;
import io.quarkus.security.identity.SecurityIdentity;

/**
 * The one place that decides whether a JAX-RS caller may act: some grant of the caller (its trusted claims, or a
 * policy it matched when its token was verified) must name the action, the app and the portal. Every refusal is
 * audited with the decision; every action it allows is audited by the endpoint, so it refuses them all (503) while the
 * audit trail cannot take more ({@link AuditLog#requireAccepting()}).
 */
@RequestScoped
public class CallerAuthorizer {

    private final SecurityIdentity identity;
    private final AuditLog audit;
    private Caller caller;

    CallerAuthorizer(SecurityIdentity identity, AuditLog audit) {
        this.identity = identity;
        this.audit = audit;
    }

    /** The authenticated caller; 401 when the request carries no valid bearer token. */
    public Caller caller() {
        if (caller == null) {
            Caller c = identity == null || identity.isAnonymous() ? null : identity.getAttribute(CallerVerifier.ATTRIBUTE);
            if (c == null) {
                throw new UnauthorizedException();
            }
            caller = c;
        }
        return caller;
    }

    /** May hand out tokens of this portal ({@code tokens.read}). */
    public Caller requireRead(String app, long portalId) {
        return require(app, portalId, Caller.READ);
    }

    /** May administer this portal's connection of {@code app} (null: of every app) ({@code tokens.admin}). */
    public Caller requireAdmin(String app, long portalId) {
        return require(app, portalId, Caller.ADMIN);
    }

    /** May administer the whole service ({@code tokens.admin} for every app and every portal). */
    public Caller requireAdminOfAll() {
        audit.requireAccepting();
        Caller c = caller();
        String refusal = c.refusal(null, null, Caller.ADMIN);
        if (refusal != null) {
            throw refused(c, null, null, refusal);
        }
        return c;
    }

    /**
     * May administer some portals of {@code app} ({@code tokens.admin}): which ones, for listings limited to them.
     */
    public Caller.PortalScope requireAdminScope(String app) {
        audit.requireAccepting();
        Caller c = caller();
        Caller.PortalScope scope = c.portalScope(Caller.ADMIN, app);
        if (scope == null) {
            throw refused(c, app, null, "no grant of " + Caller.ADMIN + " for app " + app + " and any portal ("
                    + c.decision() + ")");
        }
        return scope;
    }

    /** May take one of these actions on this portal of {@code app} (null: of every app). */
    public Caller require(String app, long portalId, String... anyOfActions) {
        audit.requireAccepting();
        Caller c = caller();
        String refusal = c.refusal(app, portalId, anyOfActions);
        if (refusal != null) {
            throw refused(c, app, portalId, refusal);
        }
        return c;
    }

    /** Every refusal is audited here, the one place that decides. */
    private ApiException refused(Caller c, String app, Long portalId, String detail) {
        audit.record(c.sub(), Caller.auditedApp(app), portalId, "authorization", "forbidden", detail);
        return ApiException.forbidden(detail);
    }
}
