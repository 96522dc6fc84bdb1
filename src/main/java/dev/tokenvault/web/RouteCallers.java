package dev.tokenvault.web;

import jakarta.enterprise.context.ApplicationScoped;

import org.eclipse.microprofile.jwt.JsonWebToken;

import dev.tokenvault.audit.AuditLog;
import io.smallrye.jwt.auth.principal.JWTParser;
import io.smallrye.jwt.auth.principal.ParseException;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;

/**
 * Authentication and authorisation for routes outside JAX-RS (the HubSpot proxy streams its bodies on a Vert.x
 * route): the same verification as every other endpoint (smallrye-jwt's parser, with the verified-token cache in front
 * of it), the same {@link Caller} and the same decision ({@link Caller#refusal}), refusals audited like
 * {@link CallerAuthorizer}'s.
 */
@ApplicationScoped
public class RouteCallers {

    private final JWTParser parser;
    private final AuditLog audit;
    private final CallerAuthorizer.KnownCallers known;

    RouteCallers(JWTParser parser, AuditLog audit, CallerAuthorizer.KnownCallers known) {
        this.parser = parser;
        this.audit = audit;
        this.known = known;
    }

    /**
     * The caller of this {@code Authorization} header, allowed to act on the portal with one of the groups: 401 without
     * a valid bearer JWT, 403 otherwise, 503 while the audit trail cannot take more.
     */
    public Uni<Caller> require(String authorization, long portalId, String... anyOfGroups) {
        String raw = bearer(authorization);
        if (raw == null) {
            return Uni.createFrom().failure(ApiException.unauthenticated());
        }
        // verified on every call (the parser's verified-token cache makes a repeat cheap and re-checks exp, so an
        // expired token is refused at once); verification may fetch keys (a JWKS URL): never on the event loop
        Uni<Caller> caller = Uni.createFrom().item(() -> verify(raw))
                .runSubscriptionOn(Infrastructure.getDefaultWorkerPool());
        return caller.map(c -> {
            audit.requireAccepting();
            String refusal = c.refusal(portalId, anyOfGroups);
            if (refusal != null) {
                audit.record(c.sub(), null, portalId, "authorization", "forbidden", refusal);
                throw ApiException.forbidden(refusal);
            }
            return c;
        });
    }

    private Caller verify(String raw) {
        try {
            JsonWebToken jwt = parser.parse(raw);
            return known.byRawToken.get(raw, r -> Caller.of(jwt.getSubject() == null ? jwt.getName() : jwt.getSubject(),
                    jwt.getGroups() == null ? java.util.Set.of() : jwt.getGroups(), jwt.getClaim("portals")));
        } catch (ParseException e) {
            throw ApiException.unauthenticated();
        }
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
