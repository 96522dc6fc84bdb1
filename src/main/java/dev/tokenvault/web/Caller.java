package dev.tokenvault.web;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;

/**
 * Who is calling, as far as authorisation goes: the JWT's {@code sub}, its {@code groups}, and the portals of its
 * {@code portals} claim ({@code "*"} for all). No {@code portals} claim means no portal.
 */
public record Caller(String sub, Set<String> groups, boolean allPortals, Set<Long> portals) {

    public static final String READ = "tokens.read";
    public static final String ADMIN = "tokens.admin";
    /** May call HubSpot through the proxy for its portals (and cannot read their tokens). */
    public static final String PROXY = "hubspot.proxy";
    public static final String ALL = "*";

    public boolean inGroup(String group) {
        return groups.contains(group);
    }

    public boolean mayTouch(long portalId) {
        return allPortals || portals.contains(portalId);
    }

    /**
     * The one authorisation decision: why this caller may not act on {@code portalId} (null: everywhere) with one of
     * {@code groups}, or null when it may.
     */
    public String refusal(Long portalId, String... anyOfGroups) {
        boolean inGroup = false;
        for (String g : anyOfGroups) {
            inGroup |= inGroup(g);
        }
        if (!inGroup) {
            return "this action needs group " + String.join(" or ", anyOfGroups);
        }
        if (portalId != null && !mayTouch(portalId)) {
            return "the caller's portals claim does not include portal " + portalId;
        }
        return null;
    }

    /** The {@code portals} claim as the caller sent it, normalised: {@code ["*"]} or the ids as strings. */
    public List<String> portalsClaim() {
        if (allPortals) {
            return List.of(ALL);
        }
        List<String> out = new ArrayList<>();
        new TreeSet<>(portals).forEach(p -> out.add(Long.toString(p)));
        return out;
    }

    /**
     * Reads the {@code portals} claim: a JSON array of portal ids as strings (integral numbers are accepted too) or
     * {@code "*"}; a bare string is read as a one-element list. Only exact spellings grant: {@code "*"} itself (not
     * {@code " * "}) and ids in their one spelling ({@link Params#canonicalId}: not {@code "+4001"}, {@code "04001"},
     * {@code " 4001"} or other scripts' digits). Anything else grants nothing.
     */
    static Caller of(String sub, Set<String> groups, Object portalsClaim) {
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
        return new Caller(sub, Set.copyOf(groups), all, Set.copyOf(portals));
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
