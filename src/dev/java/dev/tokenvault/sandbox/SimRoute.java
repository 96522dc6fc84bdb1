package dev.tokenvault.sandbox;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.function.Supplier;

import dev.tokenvault.sandbox.HubSpotSimulator.SimResponse;

/**
 * The result of routing one request: operation name (for counters, recordings and fault targets), API version,
 * grant type and client id where they apply, and the handler that answers it.
 */
record SimRoute(String op, String version, String grantType, String clientId, Supplier<Handled> handler) {

    /** A handler's answer and the portal it concerned (null when none). */
    record Handled(SimResponse response, Long hubId) {
        static Handled of(SimResponse r) {
            return new Handled(r, null);
        }
    }

    static SimRoute methodNotAllowed(String allow) {
        return new SimRoute(HubSpotSimulator.OP_UNKNOWN, null, null, null, () -> {
            Map<String, String> h = new LinkedHashMap<>();
            h.put("Allow", allow);
            h.put("Content-Type", SimHttp.JSON_TYPE);
            return Handled.of(new SimResponse(405, h, SimHttp.toJson(SimHttp.ordered("status", "error", "message",
                    "Method not allowed", "correlationId", UUID.randomUUID().toString()))));
        });
    }
}
