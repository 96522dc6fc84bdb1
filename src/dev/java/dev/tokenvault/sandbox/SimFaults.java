package dev.tokenvault.sandbox;

import static dev.tokenvault.sandbox.HubSpotSimulator.OP_CODE;
import static dev.tokenvault.sandbox.HubSpotSimulator.OP_REFRESH;
import static dev.tokenvault.sandbox.HubSpotSimulator.OP_TOKEN;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import dev.tokenvault.sandbox.HubSpotSimulator.RecordedRequest;
import dev.tokenvault.sandbox.HubSpotSimulator.SimRequest;
import dev.tokenvault.sandbox.HubSpotSimulator.SimResponse;
import dev.tokenvault.sandbox.SimRoute.Handled;

/**
 * Failure injection (errors, 429s, stalls for the next matching requests) and the recording of handled requests
 * (counters per operation and version, and a bounded list of {@link RecordedRequest}s).
 */
final class SimFaults {

    static final class Fault {
        final String target;
        int remaining;
        final int status;
        final String hubspotStatus;
        final Duration retryAfter;
        final Duration stall;

        Fault(String target, int times, int status, String hubspotStatus, Duration retryAfter, Duration stall) {
            this.target = target;
            this.remaining = times;
            this.status = status;
            this.hubspotStatus = hubspotStatus;
            this.retryAfter = retryAfter;
            this.stall = stall;
        }
    }

    private final List<Fault> faults = new ArrayList<>();
    private final Map<String, AtomicLong> counters = new ConcurrentHashMap<>();
    private final ArrayDeque<RecordedRequest> recorded = new ArrayDeque<>();
    volatile int recordLimit = 10_000;

    // ------------------------------------------------------------------------------------------------------------
    // Faults
    // ------------------------------------------------------------------------------------------------------------

    void add(Fault f) {
        Objects.requireNonNull(f.target, "target");
        if (f.remaining <= 0) {
            throw new IllegalArgumentException("times must be > 0");
        }
        synchronized (faults) {
            faults.add(f);
        }
    }

    void clear() {
        synchronized (faults) {
            faults.clear();
        }
    }

    int pending() {
        synchronized (faults) {
            return faults.stream().mapToInt(f -> f.remaining).sum();
        }
    }

    Fault take(String op, String path) {
        synchronized (faults) {
            for (int i = 0; i < faults.size(); i++) {
                Fault f = faults.get(i);
                if (matches(f.target, op, path)) {
                    if (--f.remaining <= 0) {
                        faults.remove(i);
                    }
                    return f;
                }
            }
        }
        return null;
    }

    private static boolean matches(String target, String op, String path) {
        if (target.equals("*") || target.equalsIgnoreCase("any")) {
            return true;
        }
        if (target.startsWith("/")) {
            return path.startsWith(target);
        }
        if (target.equalsIgnoreCase(OP_TOKEN)) {
            return op.equals(OP_CODE) || op.equals(OP_REFRESH) || op.equals(OP_TOKEN);
        }
        return target.equalsIgnoreCase(op);
    }

    /** The answer of an injected error: HubSpot's rate-limit body for 429, its error body otherwise. */
    static SimResponse injectedError(SimRoute route, Fault f) {
        String hs = f.hubspotStatus;
        Map<String, Object> body;
        if (f.status == 429) {
            boolean crm = route.op().startsWith("crm.");
            body = new LinkedHashMap<>();
            body.put("status", "error");
            body.put("message",
                    crm ? "You have reached your ten_secondly_rolling limit." : "You have reached your secondly limit.");
            body.put("errorType", hs == null ? "RATE_LIMIT" : hs);
            body.put("correlationId", UUID.randomUUID().toString());
            body.put("policyName", crm ? "TEN_SECONDLY_ROLLING" : "SECONDLY");
            body.put("requestId", UUID.randomUUID().toString());
        } else {
            String oauthError = SimOAuth.oauthErrorFor(hs, f.status);
            String message = hs == null ? (f.status >= 500 ? "internal error (injected)" : "request failed (injected)")
                    : SimOAuth.messageFor(hs);
            body = SimOAuth.errorBody(route.version(), hs == null ? "error" : hs, oauthError, message, null);
        }
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Content-Type", SimHttp.JSON_TYPE);
        h.put("X-HubSpot-Correlation-Id", String.valueOf(body.get("correlationId")));
        if (f.retryAfter != null) {
            long secs = Math.max(0, (f.retryAfter.toMillis() + 999) / 1000);
            h.put("Retry-After", Long.toString(secs));
        }
        return new SimResponse(f.status, h, SimHttp.toJson(body));
    }

    static void sleep(Duration d) {
        try {
            Thread.sleep(Math.max(0, d.toMillis()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Recording
    // ------------------------------------------------------------------------------------------------------------

    long counter(String key) {
        AtomicLong c = counters.get(key);
        return c == null ? 0 : c.get();
    }

    List<RecordedRequest> requests() {
        synchronized (recorded) {
            return List.copyOf(recorded);
        }
    }

    void clearRecording() {
        synchronized (recorded) {
            recorded.clear();
            counters.clear();
        }
    }

    /**
     * Records one handled request: its header names (never values) and, when it carried a bearer token, that token's
     * fingerprint (never the token).
     */
    void record(SimRoute route, SimRequest req, Handled h, Instant at) {
        String op = route.op();
        counters.computeIfAbsent(op, k -> new AtomicLong()).incrementAndGet();
        if (route.version() != null) {
            counters.computeIfAbsent(route.version() + ":" + op, k -> new AtomicLong()).incrementAndGet();
        }
        List<String> names = new ArrayList<>();
        req.headers().keySet().forEach(k -> {
            if (k != null) {
                names.add(k.toLowerCase(Locale.ROOT));
            }
        });
        String bearer = SimHttp.bearerToken(req);
        RecordedRequest r = new RecordedRequest(at, op, route.version(), req.method(), req.path(), route.grantType(),
                route.clientId(), h.hubId(), h.response().status(), names,
                bearer == null ? null : SimHttp.fingerprint(bearer));
        synchronized (recorded) {
            if (recordLimit == 0) {
                return;
            }
            recorded.addLast(r);
            while (recorded.size() > recordLimit) {
                recorded.removeFirst();
            }
        }
    }
}
