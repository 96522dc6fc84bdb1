package dev.tokenvault.callers;

import jakarta.enterprise.context.ApplicationScoped;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.web.ApiException;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;

/**
 * Authentication and authorisation for routes outside JAX-RS (the HubSpot proxy streams its bodies on a Vert.x
 * route): the same verification as every other endpoint ({@link CallerVerifier}), the same {@link Caller} and the same
 * decision ({@link Caller#refusal}), refusals audited like {@link CallerAuthorizer}'s.
 */
@ApplicationScoped
public class RouteCallers {

    private final CallerVerifier verifier;
    private final AuditLog audit;

    RouteCallers(CallerVerifier verifier, AuditLog audit) {
        this.verifier = verifier;
        this.audit = audit;
    }

    /**
     * The caller of this {@code Authorization} header, allowed to take one of the actions on the portal of the app: 401
     * without a valid bearer token, 403 otherwise, 503 while the audit trail cannot take more.
     */
    public Uni<Caller> require(String authorization, String app, long portalId, String... anyOfActions) {
        String raw = bearer(authorization);
        if (raw == null) {
            return Uni.createFrom().failure(ApiException.unauthenticated());
        }
        CallerVerifier.Verified hit = verifier.cached(raw);
        if (hit != null) {
            // a remembered token is decided on the calling thread (its exp is checked by cached())
            return Uni.createFrom().item(() -> decide(hit.caller(), app, portalId, anyOfActions));
        }
        // a new token: verification may fetch its issuer's keys, never on the event loop
        return Uni.createFrom().item(() -> verifier.verify(raw).caller())
                .runSubscriptionOn(Infrastructure.getDefaultWorkerPool())
                .map(c -> decide(c, app, portalId, anyOfActions));
    }

    private Caller decide(Caller c, String app, long portalId, String... anyOfActions) {
        audit.requireAccepting();
        String refusal = c.refusal(app, portalId, anyOfActions);
        if (refusal != null) {
            audit.record(c.sub(), Caller.auditedApp(app), portalId, "authorization", "forbidden", refusal);
            throw ApiException.forbidden(refusal);
        }
        return c;
    }

    static String bearer(String authorization) {
        if (authorization == null || authorization.length() < 8
                || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return null;
        }
        String token = authorization.substring(7).trim();
        return token.isEmpty() ? null : token;
    }
}
