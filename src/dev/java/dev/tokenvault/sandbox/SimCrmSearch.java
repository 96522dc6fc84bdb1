package dev.tokenvault.sandbox;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tokenvault.sandbox.HubSpotSimulator.SimRequest;
import dev.tokenvault.sandbox.SimCrm.CrmObject;

/**
 * {@code POST /crm/v3/objects/{type}/search}: {@code filterGroups} (OR of groups, AND of filters; at most 5 groups,
 * 6 filters per group, 18 in all), operators {@code EQ NEQ LT LTE GT GTE BETWEEN IN NOT_IN HAS_PROPERTY
 * NOT_HAS_PROPERTY CONTAINS_TOKEN NOT_CONTAINS_TOKEN}, {@code query}, {@code sorts}, {@code properties},
 * {@code limit} (default 10, at most 200) and {@code after} (an offset, at most 10,000). Answers
 * {@code {"total","results","paging":{"next":{"after"}}}}; archived objects are never found.
 */
final class SimCrmSearch {

    private static final int MAX_LIMIT = 200;
    private static final int MAX_RESULTS = 10_000;
    private static final Pattern TOKEN_SPLIT = Pattern.compile("[\\s@.,;:/\\-_]+");

    private SimCrmSearch() {
    }

    static SimCrm.Op search(SimCrm crm, SimRequest req, String type) {
        return portal -> {
            JsonNode body = SimHttp.readJson(req.body());
            if (body == null || !body.isObject()) {
                return SimCrm.error(400, "VALIDATION_ERROR", "Invalid input JSON: the body must be a JSON object", null);
            }
            JsonNode groups = body.path("filterGroups");
            int filters = 0;
            for (JsonNode g : groups) {
                int n = g.path("filters").size();
                if (n > 6) {
                    return SimCrm.error(400, "VALIDATION_ERROR", "There was a problem with the request: a filter group "
                            + "has " + n + " filters, the maximum is 6", null);
                }
                filters += n;
            }
            if (groups.size() > 5 || filters > 18) {
                return SimCrm.error(400, "VALIDATION_ERROR", "There was a problem with the request: at most 5 filter "
                        + "groups and 18 filters in all", null);
            }
            int limit = body.path("limit").asInt(10);
            if (limit < 1 || limit > MAX_LIMIT) {
                return SimCrm.error(400, "VALIDATION_ERROR", "limit must be between 1 and " + MAX_LIMIT, null);
            }
            int after = body.path("after").asInt(0);
            if (after < 0 || after >= MAX_RESULTS) {
                return SimCrm.error(400, "VALIDATION_ERROR", "after must be below " + MAX_RESULTS, null);
            }
            String query = body.hasNonNull("query") ? body.get("query").asText() : null;
            List<CrmObject> hits = new ArrayList<>();
            for (CrmObject o : crm.objects(portal, type).values()) {
                if (!o.archived() && matchesGroups(o, groups) && matchesQuery(o, query)) {
                    hits.add(o);
                }
            }
            Comparator<CrmObject> order = order(body.path("sorts"));
            if (order != null) {
                hits.sort(order);
            }
            Set<String> props = SimCrm.requestedProperties(body.get("properties"));
            List<Object> results = new ArrayList<>();
            for (int i = after; i < hits.size() && results.size() < limit; i++) {
                results.add(SimCrm.view(hits.get(i), props));
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("total", hits.size());
            out.put("results", results);
            int next = after + results.size();
            if (next < hits.size() && next < MAX_RESULTS) {
                out.put("paging", Map.of("next", Map.of("after", Integer.toString(next))));
            }
            return SimHttp.json(200, out);
        };
    }

    private static boolean matchesGroups(CrmObject o, JsonNode groups) {
        if (groups.isEmpty()) {
            return true;
        }
        for (JsonNode g : groups) {
            boolean all = true;
            for (JsonNode f : g.path("filters")) {
                all &= matches(o, f);
            }
            if (all) {
                return true;
            }
        }
        return false;
    }

    static boolean matches(CrmObject o, JsonNode f) {
        String actual = o.get(f.path("propertyName").asText());
        boolean has = actual != null && !actual.isEmpty();
        String value = f.path("value").asText(null);
        switch (f.path("operator").asText("EQ").toUpperCase(Locale.ROOT)) {
            case "HAS_PROPERTY":
                return has;
            case "NOT_HAS_PROPERTY":
                return !has;
            case "EQ":
                return has && compare(actual, value) == 0;
            case "NEQ":
                return !has || compare(actual, value) != 0;
            case "LT":
                return has && compare(actual, value) < 0;
            case "LTE":
                return has && compare(actual, value) <= 0;
            case "GT":
                return has && compare(actual, value) > 0;
            case "GTE":
                return has && compare(actual, value) >= 0;
            case "BETWEEN":
                return has && compare(actual, value) >= 0 && compare(actual, f.path("highValue").asText(null)) <= 0;
            case "IN":
                return has && in(actual, f.path("values"));
            case "NOT_IN":
                return !has || !in(actual, f.path("values"));
            case "CONTAINS_TOKEN":
                return has && containsToken(actual, value);
            case "NOT_CONTAINS_TOKEN":
                return !has || !containsToken(actual, value);
            default:
                return false;
        }
    }

    /** Numbers compare as numbers, everything else case-insensitively (HubSpot's string matching ignores case). */
    private static int compare(String actual, String value) {
        if (value == null) {
            return 1;
        }
        try {
            return new BigDecimal(actual).compareTo(new BigDecimal(value));
        } catch (NumberFormatException e) {
            return actual.toLowerCase(Locale.ROOT).compareTo(value.toLowerCase(Locale.ROOT));
        }
    }

    private static boolean in(String actual, JsonNode values) {
        for (JsonNode v : values) {
            if (compare(actual, v.asText()) == 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * A token matches a word of the value (split at spaces and punctuation), case-insensitively; {@code *} is a
     * wildcard that may match the whole value too (e.g. {@code *@example.com}).
     */
    static boolean containsToken(String actual, String token) {
        if (token == null || token.isBlank()) {
            return false;
        }
        String t = token.toLowerCase(Locale.ROOT).trim();
        String a = actual.toLowerCase(Locale.ROOT);
        if (t.contains("*")) {
            Pattern glob = Pattern.compile(Pattern.quote(t).replace("*", "\\E.*\\Q"));
            if (glob.matcher(a).matches()) {
                return true;
            }
            for (String w : TOKEN_SPLIT.split(a)) {
                if (glob.matcher(w).matches()) {
                    return true;
                }
            }
            return false;
        }
        if (a.equals(t)) {
            return true;
        }
        for (String w : TOKEN_SPLIT.split(a)) {
            if (w.equals(t)) {
                return true;
            }
        }
        return false;
    }

    private static boolean matchesQuery(CrmObject o, String query) {
        if (query == null || query.isBlank()) {
            return true;
        }
        synchronized (o) {
            for (String v : o.properties.values()) {
                if (v != null && v.toLowerCase(Locale.ROOT).contains(query.toLowerCase(Locale.ROOT).trim())) {
                    return true;
                }
            }
        }
        return false;
    }

    /** {@code sorts}: {@code [{"propertyName","direction"}]} or {@code ["-createdate"]}; null keeps id order. */
    private static Comparator<CrmObject> order(JsonNode sorts) {
        Comparator<CrmObject> c = null;
        for (JsonNode s : sorts) {
            String name;
            boolean desc;
            if (s.isTextual()) {
                name = s.asText().startsWith("-") ? s.asText().substring(1) : s.asText();
                desc = s.asText().startsWith("-");
            } else {
                name = s.path("propertyName").asText();
                desc = s.path("direction").asText("ASCENDING").toUpperCase(Locale.ROOT).startsWith("DESC");
            }
            Comparator<CrmObject> one = (x, y) -> {
                String a = x.get(name);
                String b = y.get(name);
                if (a == null || b == null) {
                    return a == null ? (b == null ? 0 : 1) : -1;
                }
                return compare(a, b);
            };
            one = desc ? one.reversed() : one;
            c = c == null ? one : c.thenComparing(one);
        }
        return c == null ? null : c.thenComparingLong(x -> x.id);
    }
}
