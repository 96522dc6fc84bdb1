package dev.tokenvault.callers;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;

import dev.tokenvault.config.Apps;
import dev.tokenvault.web.Params;

/**
 * Who is calling, as far as authorisation goes: the token's {@code sub}, the issuer that vouched for it (by its
 * configured name), and its grants: the token's own {@code groups}/{@code portals} claims when that issuer is trusted
 * with them, and every policy the token matches. Deny by default: no grant, no action. Built once per verified token and
 * remembered with it, so a decision is a walk over a few grants.
 */
public record Caller(String sub, String issuer, Set<String> groups, boolean allPortals, Set<Long> portals,
        List<Grant> grants) {

    public static final String READ = "tokens.read";
    /** May force a refresh (and, without {@link #READ}, is answered without the token). */
    public static final String REFRESH = "tokens.refresh";
    public static final String ADMIN = "tokens.admin";
    /** May call HubSpot through the proxy for its portals (and cannot read their tokens). */
    public static final String PROXY = "hubspot.proxy";
    /** Every action a grant can name. */
    public static final Set<String> ACTIONS = Set.of(READ, REFRESH, PROXY, ADMIN);
    public static final String ALL = "*";
    public static final String DEFAULT_ISSUER = "default";
    static final String CLAIMS_SOURCE = "claims";

    public Caller {
        groups = Set.copyOf(groups);
        portals = Set.copyOf(portals);
        grants = List.copyOf(grants);
    }

    /** Whether some grant lets it take {@code action} on {@code app} (null: every app) and portal (null: every portal). */
    public boolean may(String action, String app, Long portalId) {
        for (Grant g : grants) {
            if (g.covers(action, app, portalId)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The one authorisation decision: why this caller may not take any of {@code anyOfActions} on {@code app} (null:
     * on every app) and {@code portalId} (null: on every portal), or null when it may. The reason names the grants'
     * sources, so an audit record says which policies were (not) enough.
     */
    public String refusal(String app, Long portalId, String... anyOfActions) {
        for (String action : anyOfActions) {
            if (may(action, app, portalId)) {
                return null;
            }
        }
        return "no grant of " + String.join(" or ", anyOfActions) + " for " + (app == null ? "every app" : "app " + app)
                + " and " + (portalId == null ? "every portal" : "portal " + portalId) + " (" + decision() + ")";
    }

    /** The app as an audit record may hold it: a name that can be an app's, else null (the path is the caller's). */
    static String auditedApp(String app) {
        return Apps.isName(app) ? app : null;
    }

    /** Which grants the decision had: the issuer and the grants' sources, or that it had none. */
    String decision() {
        if (grants.isEmpty()) {
            return "issuer " + issuer + ": the token matches no policy" + (DEFAULT_ISSUER.equals(issuer) ? " and its "
                    + "groups/portals claims grant nothing" : "");
        }
        Set<String> sources = new LinkedHashSet<>();
        grants.forEach(g -> sources.add(g.source()));
        return "issuer " + issuer + ", grants from " + String.join(", ", sources);
    }

    /**
     * The portals it may take {@code action} on in {@code app}: null when none, {@link PortalScope#all} when every
     * portal, else the union of its grants' portals.
     */
    public PortalScope portalScope(String action, String app) {
        boolean any = false;
        Set<Long> ids = new TreeSet<>();
        for (Grant g : grants) {
            if (g.coversApp(action, app)) {
                if (g.allPortals()) {
                    return new PortalScope(true, Set.of());
                }
                any = true;
                ids.addAll(g.portals());
            }
        }
        return any ? new PortalScope(false, ids) : null;
    }

    public record PortalScope(boolean all, Set<Long> ids) {
    }

    /** The trusted {@code portals} claim, normalised: {@code ["*"]} or the ids as strings (empty when not trusted). */
    public List<String> portalsClaim() {
        return Grant.portalList(allPortals, portals);
    }

    /** The grants as {@code GET /v1/whoami} shows them. */
    public List<Grant.View> grantViews() {
        List<Grant.View> out = new ArrayList<>();
        grants.forEach(g -> out.add(g.view()));
        return out;
    }

    /**
     * A caller of the {@code default} issuer: its claims are its grants ({@code groups} the actions, {@code portals} the
     * portals, every app).
     */
    public static Caller of(String sub, Set<String> groups, Object portalsClaim) {
        return of(sub, DEFAULT_ISSUER, true, groups, portalsClaim, List.of());
    }

    /**
     * A verified caller: the claims grant (only when the issuer is trusted with them, and only for known actions) and
     * the policies' grants.
     * <p>
     * The {@code portals} claim is a JSON array of portal ids as strings (integral numbers are accepted too) or
     * {@code "*"}; a bare string is read as a one-element list. Only exact spellings grant: {@code "*"} itself (not
     * {@code " * "}) and ids in their one spelling ({@link Params#canonicalId}: not {@code "+4001"}, {@code "04001"},
     * {@code " 4001"} or other scripts' digits). Anything else grants nothing.
     */
    static Caller of(String sub, String issuer, boolean trustClaims, Set<String> groups, Object portalsClaim,
            List<Grant> policyGrants) {
        if (!trustClaims) {
            return new Caller(sub, issuer, Set.of(), false, Set.of(), policyGrants);
        }
        List<Grant> grants = new ArrayList<>();
        Set<Long> portals = new TreeSet<>();
        boolean all = false;
        for (Object entry : entries(portalsClaim)) {
            String text = text(entry);
            if (text == null) {
                continue;
            }
            if (ALL.equals(text)) {
                all = true;
            } else {
                Params.canonicalId(text).ifPresent(portals::add);
            }
        }
        Set<String> actions = new TreeSet<>(groups);
        actions.retainAll(ACTIONS);
        if (!actions.isEmpty()) {
            grants.add(new Grant(actions, true, Set.of(), all, portals, CLAIMS_SOURCE));
        }
        grants.addAll(policyGrants);
        return new Caller(sub, issuer, groups, all, portals, grants);
    }

    private static Collection<?> entries(Object claim) {
        if (claim == null) {
            return List.of();
        }
        if (claim instanceof JsonArray array) {
            return array;
        }
        if (claim instanceof Collection<?> collection) {
            return collection;
        }
        return List.of(claim);
    }

    private static String text(Object entry) {
        if (entry instanceof JsonString s) {
            return s.getString();
        }
        if (entry instanceof JsonNumber n) {
            return n.isIntegral() ? n.bigIntegerValue().toString() : null;
        }
        if (entry instanceof JsonValue) {
            return null;
        }
        if (entry instanceof String s) {
            return s;
        }
        if (entry instanceof Long || entry instanceof Integer) {
            return entry.toString();
        }
        return null;
    }
}
