package dev.tokenvault.sandbox;

import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tokenvault.sandbox.HubSpotSimulator.SimRequest;
import dev.tokenvault.sandbox.SimRoute.Handled;
import dev.tokenvault.sandbox.SimState.StaticTok;

/**
 * HubSpot's static credentials: private-app tokens and service keys, which CRM calls accept as bearer tokens (see
 * {@code SimCrm}), and the private-app token-info endpoint {@code POST /oauth/v2/private-apps/get/access-token-info}
 * (JSON body {@code {"tokenKey": "..."}}; answer {@code {"userId", "hubId", "appId", "scopes"}}). HubSpot documents
 * no such endpoint for service keys: the simulator answers a service key there as it answers any token it does not
 * know as a private-app token, 401 with HubSpot's error body ({@code status}, {@code message}, {@code correlationId},
 * {@code category}).
 */
final class SimStaticTokens {

    static final String TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info";

    private final SimState s;

    SimStaticTokens(SimState state) {
        this.s = state;
    }

    /** Registers a static token of an account: CRM calls with it act on that account. */
    void register(StaticTok t) {
        s.portals.computeIfAbsent(t.hubId(), HubSpotSimulator.Portal::of);
        s.staticTokens.put(t.token(), t);
        s.privateAppTokens.put(t.token(), t.hubId());
    }

    /** Forgets a static token (HubSpot's "expire now" after a rotation, or a deleted key): it stops working. */
    boolean revoke(String token) {
        s.privateAppTokens.remove(token);
        return s.staticTokens.remove(token) != null;
    }

    SimRoute route(SimRequest req) {
        if (!req.path().equals(TOKEN_INFO_PATH)) {
            return null;
        }
        if (!req.method().equals("POST")) {
            return SimRoute.methodNotAllowed("POST");
        }
        return new SimRoute(HubSpotSimulator.OP_TOKEN_INFO, "v2", null, null, () -> tokenInfo(req));
    }

    private Handled tokenInfo(SimRequest req) {
        JsonNode body = SimHttp.readJson(req.body());
        JsonNode key = body == null ? null : body.get("tokenKey");
        if (key == null || !key.isTextual() || key.asText().isBlank()) {
            return Handled.of(SimCrm.error(400, "VALIDATION_ERROR",
                    "Invalid input JSON on line 1: tokenKey is required", null));
        }
        StaticTok t = s.staticTokens.get(key.asText());
        if (t == null || t.serviceKey()) {
            return Handled.of(SimCrm.error(401, "INVALID_AUTHENTICATION",
                    "The private app access token provided is invalid or has expired.", null));
        }
        Map<String, Object> info = SimHttp.ordered("userId", t.userId(), "hubId", t.hubId(), "appId", t.appId(),
                "scopes", List.copyOf(t.scopes()));
        return new Handled(SimHttp.json(200, info), t.hubId());
    }
}
