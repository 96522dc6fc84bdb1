package dev.tokenvault.sandbox;

import static dev.tokenvault.sandbox.SimHttp.json;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tokenvault.sandbox.HubSpotSimulator.SimRequest;
import dev.tokenvault.sandbox.HubSpotSimulator.SimResponse;
import dev.tokenvault.sandbox.SimRateLimits.Caller;
import dev.tokenvault.sandbox.SimRateLimits.Verdict;
import dev.tokenvault.sandbox.SimRoute.Handled;
import dev.tokenvault.sandbox.SimState.AccessTok;

/**
 * HubSpot's CRM objects API v3 for contacts, companies and deals: list with paging, get, create, update, archive,
 * batch read and search ({@link SimCrmSearch}), stored per portal. Every call needs {@code Authorization: Bearer}
 * with an active access token the simulator issued or a registered private-app token, and spends the (app, account)
 * budget of {@link SimRateLimits}. Errors have HubSpot's shape: {@code status}, {@code message},
 * {@code correlationId}, {@code category}, optional {@code context}.
 */
final class SimCrm {

    private static final String PREFIX = "/crm/v3/objects/";
    private static final Pattern PROPERTY_NAME = Pattern.compile("[a-z0-9_]{1,100}");
    private static final DateTimeFormatter ISO = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
            .withZone(ZoneOffset.UTC);
    private static final int MAX_LIST = 100;
    private static final int MAX_BATCH = 100;

    /** One stored object; mutated under its own lock. */
    static final class CrmObject {
        final long id;
        final String type;
        final Map<String, String> properties = new LinkedHashMap<>();
        final Instant createdAt;
        Instant updatedAt;
        Instant archivedAt;

        CrmObject(long id, String type, Instant createdAt) {
            this.id = id;
            this.type = type;
            this.createdAt = createdAt;
            this.updatedAt = createdAt;
        }

        synchronized String get(String property) {
            return properties.get(property);
        }

        synchronized boolean archived() {
            return archivedAt != null;
        }
    }

    private final SimState s;
    final SimRateLimits limits = new SimRateLimits();
    private final Map<Long, Map<String, NavigableMap<Long, CrmObject>>> store = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong(1000);

    SimCrm(SimState state) {
        this.s = state;
    }

    /** The route of a CRM objects request, or null when the path is not under {@code /crm/v3/objects/}. */
    SimRoute route(SimRequest req) {
        if (!req.path().startsWith(PREFIX)) {
            return null;
        }
        String[] seg = req.path().substring(PREFIX.length()).split("/");
        String type = canonicalType(seg[0]);
        String m = req.method();
        if (seg.length == 1) {
            return m.equals("GET") ? route("crm.list", req, type, list(req, type))
                    : m.equals("POST") ? route("crm.create", req, type, create(req, type))
                            : SimRoute.methodNotAllowed("GET, POST");
        }
        if (seg.length == 2 && seg[1].equals("search") && m.equals("POST")) {
            return route("crm.search", req, type, SimCrmSearch.search(this, req, type));
        }
        if (seg.length == 3 && seg[1].equals("batch") && seg[2].equals("read")) {
            return m.equals("POST") ? route("crm.batch_read", req, type, batchRead(req, type))
                    : SimRoute.methodNotAllowed("POST");
        }
        if (seg.length == 2) {
            String id = SimHttp.percentDecode(seg[1]);
            switch (m) {
                case "GET":
                    return route("crm.get", req, type, get(req, type, id));
                case "PATCH":
                    return route("crm.update", req, type, update(req, type, id));
                case "DELETE":
                    return route("crm.delete", req, type, archive(type, id));
                default:
                    return SimRoute.methodNotAllowed("GET, PATCH, DELETE");
            }
        }
        return null;
    }

    interface Op {
        SimResponse apply(long portalId);
    }

    /** Authenticates, spends the budget (search has its own), then runs the operation on the token's portal. */
    private SimRoute route(String op, SimRequest req, String type, Op action) {
        return new SimRoute(op, null, null, null, () -> {
            Instant now = s.clock.instant();
            Object who = authenticate(req, now);
            if (who instanceof SimResponse) {
                return Handled.of((SimResponse) who);
            }
            Caller caller = (Caller) who;
            Verdict v = limits.admit(caller, op.equals("crm.search"), now);
            if (v.rejection() != null) {
                return new Handled(v.rejection(), caller.portalId());
            }
            SimResponse r = type == null
                    ? error(400, "VALIDATION_ERROR", "Unable to infer object type from: " + typeSegment(req), null)
                    : action.apply(caller.portalId());
            Map<String, String> h = new LinkedHashMap<>(r.headers());
            h.putAll(v.headers());
            return new Handled(new SimResponse(r.status(), h, r.body()), caller.portalId());
        });
    }

    private static String typeSegment(SimRequest req) {
        return req.path().substring(PREFIX.length()).split("/")[0];
    }

    /** The {@link Caller} of the request's bearer token, or HubSpot's 401. */
    private Object authenticate(SimRequest req, Instant now) {
        String token = SimHttp.bearerToken(req);
        if (token != null) {
            AccessTok at = s.accessTokens.get(token);
            if (at != null && !at.revoked && now.isBefore(at.expiresAt)) {
                return new Caller(at.hubId, "app:" + at.appId + ":" + at.hubId, false);
            }
            if (at != null && !at.revoked) {
                long ago = Math.max(0, Duration.between(at.expiresAt, now).toSeconds());
                return unauthorized("EXPIRED_AUTHENTICATION",
                        "The OAuth token used to make this call expired " + ago + " second(s) ago.");
            }
            Long portal = s.privateAppTokens.get(token);
            if (portal != null) {
                return new Caller(portal, "private:" + portal, true);
            }
        }
        return unauthorized("INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports OAuth 2.0 "
                + "authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview");
    }

    private static SimResponse unauthorized(String category, String message) {
        SimResponse r = error(401, category, message, null);
        Map<String, String> h = new LinkedHashMap<>(r.headers());
        h.put("X-HubSpot-Auth-Failure", "401 Unauthorized");
        return new SimResponse(401, h, r.body());
    }

    static SimResponse error(int status, String category, String message, Map<String, Object> context) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("status", "error");
        m.put("message", message);
        m.put("correlationId", UUID.randomUUID().toString());
        if (context != null) {
            m.put("context", context);
        }
        m.put("category", category);
        return json(status, m);
    }

    /** {@code contacts}, {@code companies}, {@code deals} (also singular, or HubSpot's ids 0-1, 0-2, 0-3); else null. */
    static String canonicalType(String t) {
        switch (t.toLowerCase(Locale.ROOT)) {
            case "contacts", "contact", "0-1":
                return "contacts";
            case "companies", "company", "0-2":
                return "companies";
            case "deals", "deal", "0-3":
                return "deals";
            default:
                return null;
        }
    }

    private static String lastModifiedProperty(String type) {
        return type.equals("contacts") ? "lastmodifieddate" : "hs_lastmodifieddate";
    }

    /** The properties HubSpot returns when a request names none. */
    private static List<String> defaultProperties(String type) {
        switch (type) {
            case "contacts":
                return List.of("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname");
            case "companies":
                return List.of("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name");
            default:
                return List.of("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
                        "hs_object_id", "pipeline");
        }
    }

    NavigableMap<Long, CrmObject> objects(long portalId, String type) {
        return store.computeIfAbsent(portalId, k -> new ConcurrentHashMap<>()).computeIfAbsent(type,
                k -> new ConcurrentSkipListMap<>());
    }

    /** The JSON view of an object with the requested properties (null: the type's defaults), like HubSpot's. */
    static Map<String, Object> view(CrmObject o, Set<String> requested) {
        Set<String> names = new LinkedHashSet<>(requested == null ? defaultProperties(o.type) : requested);
        names.add("createdate");
        names.add(lastModifiedProperty(o.type));
        names.add("hs_object_id");
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", Long.toString(o.id));
        Map<String, Object> props = new java.util.TreeMap<>();
        synchronized (o) {
            for (String n : names) {
                props.put(n, o.properties.get(n));
            }
            m.put("properties", props);
            m.put("createdAt", ISO.format(o.createdAt));
            m.put("updatedAt", ISO.format(o.updatedAt));
            m.put("archived", o.archivedAt != null);
            if (o.archivedAt != null) {
                m.put("archivedAt", ISO.format(o.archivedAt));
            }
        }
        return m;
    }

    /** The {@code properties} query parameter (comma-separated, repeatable), or null when absent. */
    private static Set<String> requestedProperties(SimRequest req) {
        List<String> v = req.query().get("properties");
        if (v == null) {
            return null;
        }
        Set<String> names = new LinkedHashSet<>();
        v.forEach(x -> List.of(x.split(",")).forEach(n -> {
            if (!n.isBlank()) {
                names.add(n.trim());
            }
        }));
        return names;
    }

    static Set<String> requestedProperties(JsonNode array) {
        if (array == null || !array.isArray()) {
            return null;
        }
        Set<String> names = new LinkedHashSet<>();
        array.forEach(n -> names.add(n.asText()));
        return names;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Operations
    // ------------------------------------------------------------------------------------------------------------

    private Op list(SimRequest req, String type) {
        return portal -> {
            int limit;
            try {
                limit = req.queryParam("limit") == null ? 10 : Integer.parseInt(req.queryParam("limit"));
            } catch (NumberFormatException e) {
                return error(400, "VALIDATION_ERROR", "limit must be a number", null);
            }
            limit = Math.max(1, Math.min(MAX_LIST, limit));
            long after;
            try {
                after = req.queryParam("after") == null ? 0 : Long.parseLong(req.queryParam("after"));
            } catch (NumberFormatException e) {
                return error(400, "VALIDATION_ERROR", "after must be a cursor returned in paging.next.after", null);
            }
            boolean archived = "true".equalsIgnoreCase(req.queryParam("archived"));
            Set<String> props = requestedProperties(req);
            List<Object> results = new ArrayList<>();
            Iterator<CrmObject> it = objects(portal, type).tailMap(after, true).values().iterator();
            Long next = null;
            while (it.hasNext()) {
                CrmObject o = it.next();
                if (o.archived() != archived) {
                    continue;
                }
                if (results.size() == limit) {
                    next = o.id;
                    break;
                }
                results.add(view(o, props));
            }
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("results", results);
            if (next != null) {
                body.put("paging", Map.of("next", SimHttp.ordered("after", Long.toString(next), "link",
                        nextLink(req, Long.toString(next)))));
            }
            return json(200, body);
        };
    }

    /** HubSpot's {@code paging.next.link}: this request's URL with {@code after} replaced. */
    private static String nextLink(SimRequest req, String after) {
        String host = req.header("Host");
        String base = host == null ? "https://api.hubapi.com" : "http://" + host + req.mountPrefix();
        Map<String, String> q = new LinkedHashMap<>(SimHttp.first(req.query()));
        q.remove("after");
        q.put("after", after);
        return base + req.path() + "?" + SimHttp.formEncode(q);
    }

    private Op get(SimRequest req, String type, String id) {
        return portal -> {
            CrmObject o = find(portal, type, id);
            boolean archived = "true".equalsIgnoreCase(req.queryParam("archived"));
            if (o == null || o.archived() != archived) {
                return notFound(id);
            }
            return json(200, view(o, requestedProperties(req)));
        };
    }

    private Op create(SimRequest req, String type) {
        return portal -> {
            Object props = propertiesOf(req);
            if (props instanceof SimResponse) {
                return (SimResponse) props;
            }
            @SuppressWarnings("unchecked")
            Map<String, String> values = (Map<String, String>) props;
            String email = values.get("email");
            if (type.equals("contacts") && email != null) {
                for (CrmObject o : objects(portal, type).values()) {
                    if (!o.archived() && email.equalsIgnoreCase(o.get("email"))) {
                        return error(409, "CONFLICT", "Contact already exists. Existing ID: " + o.id, null);
                    }
                }
            }
            return json(201, view(insert(portal, type, values), null));
        };
    }

    CrmObject insert(long portal, String type, Map<String, String> values) {
        Instant now = s.clock.instant();
        CrmObject o = new CrmObject(ids.incrementAndGet(), type, now);
        o.properties.putAll(values);
        o.properties.put("hs_object_id", Long.toString(o.id));
        o.properties.put("createdate", ISO.format(now));
        o.properties.put(lastModifiedProperty(type), ISO.format(now));
        objects(portal, type).put(o.id, o);
        return o;
    }

    private Op update(SimRequest req, String type, String id) {
        return portal -> {
            CrmObject o = find(portal, type, id);
            if (o == null || o.archived()) {
                return notFound(id);
            }
            Object props = propertiesOf(req);
            if (props instanceof SimResponse) {
                return (SimResponse) props;
            }
            @SuppressWarnings("unchecked")
            Map<String, String> values = (Map<String, String>) props;
            Instant now = s.clock.instant();
            synchronized (o) {
                o.properties.putAll(values);
                o.updatedAt = now;
                o.properties.put(lastModifiedProperty(type), ISO.format(now));
            }
            Set<String> names = new LinkedHashSet<>(defaultProperties(type));
            names.addAll(values.keySet());
            return json(200, view(o, names));
        };
    }

    /** HubSpot archives (soft-deletes); 204 also for an unknown or already archived id. */
    private Op archive(String type, String id) {
        return portal -> {
            CrmObject o = find(portal, type, id);
            if (o != null) {
                synchronized (o) {
                    if (o.archivedAt == null) {
                        o.archivedAt = s.clock.instant();
                    }
                }
            }
            return new SimResponse(204, Map.of("X-HubSpot-Correlation-Id", UUID.randomUUID().toString()), null);
        };
    }

    private Op batchRead(SimRequest req, String type) {
        return portal -> {
            JsonNode body = SimHttp.readJson(req.body());
            JsonNode inputs = body == null ? null : body.get("inputs");
            if (inputs == null || !inputs.isArray()) {
                return error(400, "VALIDATION_ERROR", "Invalid input JSON: inputs must be an array", null);
            }
            if (inputs.size() > MAX_BATCH) {
                return error(400, "VALIDATION_ERROR", "Batch input size " + inputs.size() + " exceeds the limit of "
                        + MAX_BATCH, null);
            }
            String idProperty = body.hasNonNull("idProperty") ? body.get("idProperty").asText() : null;
            boolean archived = body.path("archived").asBoolean(false);
            Set<String> props = requestedProperties(body.get("properties"));
            String startedAt = ISO.format(s.clock.instant());
            List<Object> results = new ArrayList<>();
            List<String> missing = new ArrayList<>();
            for (JsonNode in : inputs) {
                String id = in.path("id").asText("");
                CrmObject o = idProperty == null ? find(portal, type, id) : findBy(portal, type, idProperty, id);
                if (o == null || o.archived() != archived) {
                    missing.add(id);
                } else {
                    results.add(view(o, props));
                }
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("status", "COMPLETE");
            out.put("results", results);
            if (!missing.isEmpty()) {
                out.put("numErrors", 1);
                String singular = type.equals("companies") ? "COMPANY"
                        : type.substring(0, type.length() - 1)
                                .toUpperCase(Locale.ROOT);
                out.put("errors", List.of(SimHttp.ordered("status", "error", "category", "OBJECT_NOT_FOUND",
                        "message", "Could not get some " + singular + " objects, they may be deleted or not exist. "
                                + "Check that ids are valid.",
                        "context", Map.of("ids", missing))));
            }
            out.put("startedAt", startedAt);
            out.put("completedAt", ISO.format(s.clock.instant()));
            return json(missing.isEmpty() ? 200 : 207, out);
        };
    }

    // ------------------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------------------

    CrmObject find(long portal, String type, String id) {
        try {
            return objects(portal, type).get(Long.parseLong(id));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private CrmObject findBy(long portal, String type, String property, String value) {
        for (CrmObject o : objects(portal, type).values()) {
            if (value.equalsIgnoreCase(o.get(property))) {
                return o;
            }
        }
        return null;
    }

    private static SimResponse notFound(String id) {
        return error(404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.",
                Map.of("id", List.of(id)));
    }

    /** The body's {@code properties} as strings, or HubSpot's 400. */
    private static Object propertiesOf(SimRequest req) {
        JsonNode body = SimHttp.readJson(req.body());
        if (body == null || !body.isObject()) {
            return error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1, column 1: the body must be a JSON "
                    + "object", null);
        }
        JsonNode props = body.get("properties");
        if (props == null || !props.isObject()) {
            return error(400, "VALIDATION_ERROR", "Invalid input JSON: properties must be an object", null);
        }
        Map<String, String> values = new LinkedHashMap<>();
        List<Object> invalid = new ArrayList<>();
        props.fields().forEachRemaining(e -> {
            String name = e.getKey();
            if (!PROPERTY_NAME.matcher(name).matches()) {
                invalid.add(SimHttp.ordered("isValid", false, "message", "Property \"" + name + "\" does not exist",
                        "error", "PROPERTY_DOESNT_EXIST", "name", name));
            } else if (name.equals("hs_object_id") || name.equals("lastmodifieddate")
                    || name.equals("hs_lastmodifieddate")) {
                invalid.add(SimHttp.ordered("isValid", false, "message", name + " is a read only property; its value "
                        + "cannot be set.", "error", "READ_ONLY_VALUE", "name", name));
            } else {
                values.put(name, e.getValue().isNull() ? "" : e.getValue().asText());
            }
        });
        if (!invalid.isEmpty()) {
            return error(400, "VALIDATION_ERROR", "Property values were not valid: "
                    + new String(SimHttp.toJson(invalid), java.nio.charset.StandardCharsets.UTF_8), null);
        }
        return values;
    }

    void reset() {
        store.clear();
        limits.reset();
    }
}
