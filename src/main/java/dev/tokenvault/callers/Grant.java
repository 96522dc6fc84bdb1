package dev.tokenvault.callers;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Actions a caller may take on some apps and portals, and where that came from: {@code claims} (the token's own
 * {@code groups}/{@code portals}, for an issuer trusted with them) or {@code policy:<name>}.
 */
public record Grant(Set<String> actions, boolean allApps, Set<String> apps, boolean allPortals, Set<Long> portals,
        String source) {

    public Grant {
        actions = Set.copyOf(actions);
        apps = Set.copyOf(apps);
        portals = Set.copyOf(portals);
    }

    /**
     * Whether it lets the caller take {@code action} on {@code app} ({@code null}: on every app) and {@code portalId}
     * ({@code null}: on every portal).
     */
    public boolean covers(String action, String app, Long portalId) {
        return coversApp(action, app) && (allPortals || portalId != null && portals.contains(portalId));
    }

    /** Whether it lets the caller take {@code action} on {@code app} (null: every app) for at least some portals. */
    boolean coversApp(String action, String app) {
        return actions.contains(action) && (allApps || app != null && apps.contains(app));
    }

    /** As {@code GET /v1/whoami} shows it. */
    public View view() {
        return new View(List.copyOf(new TreeSet<>(actions)), allApps ? List.of(Caller.ALL) : List.copyOf(new TreeSet<>(apps)),
                portalList(allPortals, portals), source);
    }

    static List<String> portalList(boolean all, Set<Long> portals) {
        if (all) {
            return List.of(Caller.ALL);
        }
        List<String> out = new ArrayList<>();
        new TreeSet<>(portals).forEach(p -> out.add(Long.toString(p)));
        return out;
    }

    public record View(List<String> actions, List<String> apps, List<String> portals, String source) {
    }
}
