package dev.tokenvault.callers;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;

import org.eclipse.microprofile.jwt.JsonWebToken;

import dev.tokenvault.config.Apps;
import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.web.Params;

/**
 * The access policies ({@code tokenvault.callers.policies.*}) compiled once at start-up into an immutable table:
 * validated (an unknown issuer, action or app, a malformed glob or portal id fails the start naming the key), then
 * matched against each verified token once; the grants it yields are remembered with the token.
 */
final class Policies {

    static final String PREFIX = "tokenvault.callers.policies.";

    private final List<Compiled> table;

    private Policies(List<Compiled> table) {
        this.table = List.copyOf(table);
    }

    /** A policy in its checked form. */
    record Compiled(String name, String issuer, Pattern subject, Map<List<String>, String> claims, Grant grant) {

        boolean matches(String issuerName, String sub, JsonWebToken jwt) {
            if (!issuer.equals(issuerName)) {
                return false;
            }
            if (subject != null && (sub == null || !subject.matcher(sub).matches())) {
                return false;
            }
            for (Map.Entry<List<String>, String> c : claims.entrySet()) {
                if (!claimHolds(jwt.getClaim(c.getKey().get(0)), c.getKey(), 1, c.getValue())) {
                    return false;
                }
            }
            return true;
        }
    }

    /** The grants of every policy this token matches, in the policies' name order. */
    List<Grant> grantsFor(String issuerName, String sub, JsonWebToken jwt) {
        List<Grant> out = new ArrayList<>();
        for (Compiled p : table) {
            if (p.matches(issuerName, sub, jwt)) {
                out.add(p.grant());
            }
        }
        return out;
    }

    int size() {
        return table.size();
    }

    /**
     * Checks and compiles the policies.
     *
     * @throws IllegalStateException naming the first wrong key
     */
    static Policies compile(Map<String, TokenVaultConfig.Callers.Policy> policies, Set<String> issuerNames,
            Set<String> appNames) {
        List<Compiled> out = new ArrayList<>();
        for (var e : new TreeMap<>(policies).entrySet()) {
            out.add(compile(e.getKey(), e.getValue(), issuerNames, appNames));
        }
        return new Policies(out);
    }

    private static Compiled compile(String name, TokenVaultConfig.Callers.Policy p, Set<String> issuerNames,
            Set<String> appNames) {
        String key = PREFIX + name;
        if (!Apps.isName(name)) {
            throw invalid(key, "a policy name must match [a-z0-9-]{1,40}");
        }
        if (!issuerNames.contains(p.issuer())) {
            throw invalid(key + ".issuer", "unknown issuer '" + p.issuer() + "' (known: " + new TreeSet<>(issuerNames)
                    + ")");
        }
        Pattern subject = p.subject().map(s -> glob(key + ".subject", s)).orElse(null);
        Map<List<String>, String> claims = new TreeMap<>((a, b) -> String.join("/", a).compareTo(String.join("/", b)));
        p.claims().forEach((claim, value) -> {
            List<String> path = List.of(claim.split("/", -1));
            if (claim.isBlank() || path.stream().anyMatch(String::isEmpty)) {
                throw invalid(key + ".claims." + claim, "a claim path is names separated by '/'");
            }
            if (value == null || value.isEmpty()) {
                throw invalid(key + ".claims." + claim, "the value to match must not be empty");
            }
            claims.put(path, value);
        });
        if (subject == null && claims.isEmpty()) {
            throw invalid(key, "a policy must match on .subject or on .claims.<claim> (use subject=* to match every "
                    + "caller of the issuer)");
        }
        Set<String> actions = new TreeSet<>();
        for (String a : p.actions()) {
            String action = a.strip();
            if (!Caller.ACTIONS.contains(action)) {
                throw invalid(key + ".actions", "unknown action '" + action + "' (known: " + new TreeSet<>(Caller.ACTIONS)
                        + ")");
            }
            actions.add(action);
        }
        if (actions.isEmpty()) {
            throw invalid(key + ".actions", "at least one action is needed");
        }
        boolean allApps = false;
        Set<String> apps = new TreeSet<>();
        for (String a : p.apps()) {
            String app = a.strip();
            if (Caller.ALL.equals(app)) {
                allApps = true;
            } else if (appNames.contains(app)) {
                apps.add(app);
            } else {
                throw invalid(key + ".apps", "unknown app '" + app + "' (configured: " + new TreeSet<>(appNames) + ")");
            }
        }
        if (!allApps && apps.isEmpty()) {
            throw invalid(key + ".apps", "at least one app (or *) is needed");
        }
        boolean allPortals = false;
        Set<Long> portals = new TreeSet<>();
        for (String raw : p.portals()) {
            String portal = raw.strip();
            if (Caller.ALL.equals(portal)) {
                allPortals = true;
            } else {
                portals.add(Params.canonicalId(portal).orElseThrow(() -> invalid(key + ".portals",
                        "'" + portal + "' is not a portal id (a positive integer in ASCII digits) or *")));
            }
        }
        if (!allPortals && portals.isEmpty()) {
            throw invalid(key + ".portals", "at least one portal id (or *) is needed");
        }
        Grant grant = new Grant(actions, allApps, allApps ? Set.of() : apps, allPortals, allPortals ? Set.of() : portals,
                "policy:" + name);
        return new Compiled(name, p.issuer(), subject, claims, grant);
    }

    /**
     * A subject glob: {@code *} stands for any run of characters (also none), everything else is literal. Empty globs,
     * {@code **}, white space, control characters and the wildcard characters of other glob dialects ({@code ? [ ] { }})
     * are refused so that nobody relies on a meaning they do not have.
     */
    static Pattern glob(String key, String glob) {
        if (glob.isEmpty()) {
            throw invalid(key, "must not be empty");
        }
        if (glob.contains("**")) {
            throw invalid(key, "'**' is not a glob here: one '*' already stands for any run of characters");
        }
        for (int i = 0; i < glob.length(); i++) {
            char c = glob.charAt(i);
            if (c <= 0x20 || c == 0x7f || "?[]{}\\".indexOf(c) >= 0 || Character.isWhitespace(c)) {
                throw invalid(key, "'" + glob + "' has a character a subject glob cannot hold at position " + i
                        + " (only '*' is a wildcard)");
            }
        }
        StringBuilder regex = new StringBuilder();
        int from = 0;
        for (int star = glob.indexOf('*'); star >= 0; star = glob.indexOf('*', from)) {
            regex.append(Pattern.quote(glob.substring(from, star))).append(".*");
            from = star + 1;
        }
        regex.append(Pattern.quote(glob.substring(from)));
        return Pattern.compile(regex.toString(), Pattern.DOTALL);
    }

    /** The claim (or the value at the rest of its path) equals the expected value, or is a list that contains it. */
    static boolean claimHolds(Object value, List<String> path, int at, String expected) {
        if (value == null) {
            return false;
        }
        if (at < path.size()) {
            if (value instanceof JsonObject o) {
                JsonValue next = o.get(path.get(at));
                return next != null && claimHolds(next, path, at + 1, expected);
            }
            if (value instanceof Map<?, ?> m) {
                return claimHolds(m.get(path.get(at)), path, at + 1, expected);
            }
            return false;
        }
        if (value instanceof JsonArray array) {
            return array.stream().anyMatch(v -> !(v instanceof JsonArray) && scalarEquals(v, expected));
        }
        if (value instanceof java.util.Collection<?> c) {
            return c.stream().anyMatch(v -> !(v instanceof java.util.Collection<?>) && scalarEquals(v, expected));
        }
        return scalarEquals(value, expected);
    }

    private static boolean scalarEquals(Object v, String expected) {
        if (v instanceof JsonString s) {
            return s.getString().equals(expected);
        }
        if (v instanceof JsonNumber n) {
            return n.toString().equals(expected);
        }
        if (v == JsonValue.TRUE || v == JsonValue.FALSE) {
            return v.toString().equals(expected);
        }
        if (v instanceof String || v instanceof Number || v instanceof Boolean) {
            return v.toString().equals(expected);
        }
        return false;
    }

    private static IllegalStateException invalid(String key, String why) {
        return new IllegalStateException(key + ": " + why);
    }
}
