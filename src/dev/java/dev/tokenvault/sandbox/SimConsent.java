package dev.tokenvault.sandbox;

import static dev.tokenvault.sandbox.HubSpotSimulator.OP_AUTHORIZE;
import static dev.tokenvault.sandbox.HubSpotSimulator.OP_CONSENT;
import static dev.tokenvault.sandbox.SimHttp.concat;
import static dev.tokenvault.sandbox.SimHttp.emptyToNull;
import static dev.tokenvault.sandbox.SimHttp.esc;
import static dev.tokenvault.sandbox.SimHttp.first;
import static dev.tokenvault.sandbox.SimHttp.formEncode;
import static dev.tokenvault.sandbox.SimHttp.html;
import static dev.tokenvault.sandbox.SimHttp.isBlank;
import static dev.tokenvault.sandbox.SimHttp.merged;
import static dev.tokenvault.sandbox.SimHttp.splitScopes;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import dev.tokenvault.sandbox.HubSpotSimulator.App;
import dev.tokenvault.sandbox.HubSpotSimulator.Portal;
import dev.tokenvault.sandbox.HubSpotSimulator.SimRequest;
import dev.tokenvault.sandbox.HubSpotSimulator.SimResponse;
import dev.tokenvault.sandbox.SimRoute.Handled;
import dev.tokenvault.sandbox.SimState.AuthCode;

/**
 * HubSpot's authorize step: {@code GET /oauth/authorize} (and {@code /oauth/{portalId}/authorize}) renders a consent
 * page without JavaScript; {@code POST /oauth/authorize} is its form, answering 302 to {@code redirect_uri} with
 * {@code code} and {@code state}, or {@code error=access_denied}.
 */
final class SimConsent {

    private static final Pattern AUTHORIZE_PATH = Pattern.compile("^/oauth(?:/(\\d{1,18}))?/authorize$");

    private final SimState s;

    SimConsent(SimState state) {
        this.s = state;
    }

    /** The route of an authorize request, or null when the path is not the authorize endpoint. */
    SimRoute route(SimRequest req) {
        Matcher auth = AUTHORIZE_PATH.matcher(req.path());
        if (!auth.matches()) {
            return null;
        }
        Long pathPortal = auth.group(1) == null ? null : Long.parseLong(auth.group(1));
        if (req.method().equals("GET")) {
            return new SimRoute(OP_AUTHORIZE, null, null, req.queryParam("client_id"), () -> authorizePage(req, pathPortal));
        }
        if (req.method().equals("POST")) {
            Map<String, String> p = merged(req.query(), req.form());
            return new SimRoute(OP_CONSENT, null, null, p.get("client_id"), () -> consent(p));
        }
        return SimRoute.methodNotAllowed("GET, POST");
    }

    private Handled authorizePage(SimRequest req, Long pathPortal) {
        Map<String, String> p = first(req.query());
        String problem = validateAuthorize(p);
        if (problem != null) {
            return Handled.of(htmlError(problem));
        }
        App app = s.apps.get(p.get("client_id"));
        long prefill = pathPortal != null ? pathPortal : s.defaultPortal();
        String action = req.mountPrefix() + "/oauth/authorize";

        StringBuilder h = new StringBuilder(2048);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<title>HubSpot sandbox - Connect app</title></head>\n<body>\n")
                .append("<h1>Connect app</h1>\n")
                .append("<p>This is the HubSpot sandbox consent screen (simulator). No real HubSpot account is involved.</p>\n")
                .append("<dl>\n<dt>Client ID</dt><dd id=\"client-id\">").append(esc(app.clientId())).append("</dd>\n")
                .append("<dt>App ID</dt><dd id=\"app-id\">").append(app.appId()).append("</dd>\n")
                .append("<dt>Redirect URI</dt><dd id=\"redirect-uri\">").append(esc(p.get("redirect_uri"))).append("</dd>\n")
                .append("</dl>\n<h2>Requested scopes</h2>\n<ul id=\"scopes\">\n");
        for (String s : splitScopes(p.get("scope"))) {
            h.append("<li>").append(esc(s)).append("</li>\n");
        }
        h.append("</ul>\n<h2>Optional scopes</h2>\n<ul id=\"optional-scopes\">\n");
        for (String s : splitScopes(p.get("optional_scope"))) {
            h.append("<li>").append(esc(s)).append("</li>\n");
        }
        h.append("</ul>\n<form method=\"post\" action=\"").append(esc(action)).append("\">\n");
        for (Map.Entry<String, List<String>> e : req.query().entrySet()) {
            if (e.getKey().equals("portal_id") || e.getKey().equals("action")) {
                continue;
            }
            for (String v : e.getValue()) {
                h.append("<input type=\"hidden\" name=\"").append(esc(e.getKey())).append("\" value=\"").append(esc(v))
                        .append("\">\n");
            }
        }
        h.append("<label for=\"portal_id\">HubSpot account (portal) ID</label>\n")
                .append("<input type=\"text\" id=\"portal_id\" name=\"portal_id\" inputmode=\"numeric\" pattern=\"[0-9]+\" required value=\"")
                .append(prefill > 0 ? String.valueOf(prefill) : "").append("\">\n");
        List<Long> known = s.portals.keySet().stream().sorted().collect(Collectors.toList());
        if (!known.isEmpty()) {
            h.append("<p>Known sandbox portals: ");
            h.append(known.stream().map(String::valueOf).collect(Collectors.joining(", ")));
            h.append("</p>\n");
        }
        h.append("<button type=\"submit\" name=\"action\" value=\"allow\">Allow</button>\n")
                .append("<button type=\"submit\" name=\"action\" value=\"deny\" formnovalidate>Deny</button>\n")
                .append("</form>\n</body></html>\n");
        return Handled.of(html(200, h.toString()));
    }

    private Handled consent(Map<String, String> p) {
        String problem = validateAuthorize(p);
        if (problem != null) {
            return Handled.of(htmlError(problem));
        }
        App app = s.apps.get(p.get("client_id"));
        String redirectUri = p.get("redirect_uri");
        String state = p.get("state");
        String action = p.get("action");
        if ("deny".equalsIgnoreCase(action)) {
            Map<String, String> q = new LinkedHashMap<>();
            q.put("error", "access_denied");
            q.put("error_description", "The user denied the request");
            if (state != null) {
                q.put("state", state);
            }
            return Handled.of(redirect(redirectUri, q));
        }
        if (!"allow".equalsIgnoreCase(action)) {
            return Handled.of(htmlError("Unknown action. Please choose Allow or Deny."));
        }
        long hubId;
        try {
            hubId = Long.parseLong(p.getOrDefault("portal_id", "").trim());
        } catch (NumberFormatException e) {
            return Handled.of(htmlError("Please select a HubSpot account (numeric portal ID)."));
        }
        if (hubId <= 0) {
            return Handled.of(htmlError("Please select a HubSpot account (numeric portal ID)."));
        }
        if (!s.portals.containsKey(hubId)) {
            if (!s.autoCreatePortals) {
                return Handled.of(htmlError("Unknown HubSpot account " + hubId + "."));
            }
            s.portals.putIfAbsent(hubId, Portal.of(hubId));
        }
        List<String> granted = new ArrayList<>(new LinkedHashSet<>(concat(splitScopes(p.get("scope")),
                splitScopes(p.get("optional_scope")))));
        AuthCode ac = s.newCode(app, redirectUri, hubId, List.copyOf(granted), emptyToNull(p.get("code_challenge")),
                emptyToNull(p.get("code_challenge_method")));
        Map<String, String> q = new LinkedHashMap<>();
        q.put("code", ac.code);
        if (state != null) {
            q.put("state", state);
        }
        return new Handled(redirect(redirectUri, q), hubId);
    }

    /** Returns null if valid, otherwise the message HubSpot shows on its error page. */
    private String validateAuthorize(Map<String, String> p) {
        String clientId = p.get("client_id");
        App app = isBlank(clientId) ? null : s.apps.get(clientId);
        if (app == null) {
            return "An invalid app client_id was provided. Please contact the app developer.";
        }
        String redirectUri = p.get("redirect_uri");
        if (isBlank(redirectUri) || !app.acceptsRedirect(redirectUri)) {
            return "Authorization failed as the redirect URL '" + (redirectUri == null ? "" : redirectUri)
                    + "' doesn't match the app's registered redirect URL. Please contact the app developer.";
        }
        List<String> scopes = splitScopes(p.get("scope"));
        List<String> optional = splitScopes(p.get("optional_scope"));
        if (scopes.isEmpty()) {
            return "Authorization failed because the install URL has no scope parameter. Please contact the app developer.";
        }
        if (!app.requiredScopes().isEmpty() || !app.optionalScopes().isEmpty()) {
            Set<String> allowed = new LinkedHashSet<>(app.requiredScopes());
            allowed.addAll(app.optionalScopes());
            boolean mismatch = !scopes.containsAll(app.requiredScopes()) || !allowed.containsAll(scopes)
                    || !app.optionalScopes().containsAll(optional);
            if (mismatch) {
                return "Authorization failed because there is a mismatch between the scopes in the install URL and "
                        + "the app's configured scopes. Please contact the app developer.";
            }
        }
        return null;
    }

    private SimResponse redirect(String redirectUri, Map<String, String> params) {
        String sep = redirectUri.contains("?") ? "&" : "?";
        String location = redirectUri + sep + formEncode(params);
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Location", location);
        h.put("Cache-Control", "no-store");
        return new SimResponse(302, h, null);
    }

    private static SimResponse htmlError(String message) {
        String page = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>HubSpot sandbox - "
                + "Couldn't complete the connection</title></head>\n<body>\n<h1>Couldn't complete the connection</h1>\n"
                + "<p id=\"error\">" + esc(message) + "</p>\n</body></html>\n";
        return html(400, page);
    }
}
