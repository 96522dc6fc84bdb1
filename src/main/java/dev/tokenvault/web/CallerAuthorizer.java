package dev.tokenvault.web;

import jakarta.enterprise.context.RequestScoped;

import org.eclipse.microprofile.jwt.JsonWebToken;

import io.quarkus.security.UnauthorizedException;

/**
 * The one place that decides whether a caller may act: {@code groups} must hold the action's group and the
 * {@code portals} claim must name the portal (or be {@code "*"}).
 */
@RequestScoped
public class CallerAuthorizer {

    private final JsonWebToken jwt;
    private Caller caller;

    CallerAuthorizer(JsonWebToken jwt) {
        this.jwt = jwt;
    }

    /** The authenticated caller; 401 when the request carries no valid JWT. */
    public Caller caller() {
        if (caller == null) {
            if (jwt == null || jwt.getRawToken() == null) {
                throw new UnauthorizedException();
            }
            String sub = jwt.getSubject() == null ? jwt.getName() : jwt.getSubject();
            caller = Caller.of(sub, jwt.getGroups() == null ? java.util.Set.of() : jwt.getGroups(),
                    jwt.getClaim("portals"));
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
        Caller c = caller();
        if (!c.inGroup(Caller.ADMIN)) {
            throw ApiException.forbidden("this action needs group " + Caller.ADMIN);
        }
        if (!c.allPortals()) {
            throw ApiException.forbidden("this action needs the portals claim \"*\"");
        }
        return c;
    }

    /** May administer some portals ({@code tokens.admin}); listings are then limited to the caller's portals. */
    public Caller requireAdminGroup() {
        Caller c = caller();
        if (!c.inGroup(Caller.ADMIN)) {
            throw ApiException.forbidden("this action needs group " + Caller.ADMIN);
        }
        return c;
    }

    private Caller require(String group, long portalId) {
        Caller c = caller();
        if (!c.inGroup(group)) {
            throw ApiException.forbidden("this action needs group " + group);
        }
        if (!c.mayTouch(portalId)) {
            throw ApiException.forbidden("the caller's portals claim does not include portal " + portalId);
        }
        return c;
    }
}
