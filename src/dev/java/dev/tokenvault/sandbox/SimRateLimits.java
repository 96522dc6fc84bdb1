package dev.tokenvault.sandbox;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import dev.tokenvault.sandbox.HubSpotSimulator.SimResponse;

/**
 * HubSpot's API rate limits for CRM calls, counted per (app, account) in ROLLING windows: a call at {@code t} counts
 * against every call in {@code (t - interval, t]}. OAuth apps: 100 per 10 s; private-app tokens: 100 per 10 s per
 * account plus a daily quota (reset at midnight, UTC here); the search endpoints: their own 5 per second. Calls
 * answered 429 do not count against the window (HubSpot documents nothing else). Responses carry
 * {@code X-HubSpot-RateLimit-Max}, {@code -Remaining} and {@code -Interval-Milliseconds} (private apps also
 * {@code -Daily} and {@code -Daily-Remaining}); search responses carry none of them.
 */
final class SimRateLimits {

    static final String TEN_SECONDLY_POLICY = "TEN_SECONDLY_ROLLING";
    static final String TEN_SECONDLY_MESSAGE = "You have reached your ten_secondly_rolling limit.";
    static final String SEARCH_MESSAGE = "You have reached your secondly limit.";

    /** Who spends the budget: the token's portal and a key naming the (app, account) pair. */
    record Caller(long portalId, String key, boolean privateApp) {
    }

    /** The verdict on one call: headers to add, or the 429 to answer instead. */
    record Verdict(Map<String, String> headers, SimResponse rejection) {
    }

    private static final class Daily {
        LocalDate day;
        long count;
    }

    volatile int max = 100;
    volatile Duration interval = Duration.ofSeconds(10);
    volatile int privateMax = 100;
    volatile Duration privateInterval = Duration.ofSeconds(10);
    volatile long privateDailyMax = 250_000;
    volatile int searchMax = 5;
    volatile Duration searchInterval = Duration.ofSeconds(1);

    private final Map<String, ArrayDeque<Instant>> windows = new ConcurrentHashMap<>();
    private final Map<String, ArrayDeque<Instant>> searchWindows = new ConcurrentHashMap<>();
    private final Map<String, Daily> daily = new ConcurrentHashMap<>();
    private final Map<Long, List<Instant>> times = new ConcurrentHashMap<>();
    private final Map<Long, AtomicInteger> limited = new ConcurrentHashMap<>();

    Verdict admit(Caller caller, boolean search, Instant now) {
        List<Instant> sent = times.computeIfAbsent(caller.portalId(), k -> new ArrayList<>());
        synchronized (sent) {
            sent.add(now);
        }
        if (search) {
            ArrayDeque<Instant> w = searchWindows.computeIfAbsent(caller.key(), k -> new ArrayDeque<>());
            synchronized (w) {
                if (!take(w, searchMax, searchInterval, now)) {
                    return reject(caller, SEARCH_MESSAGE, "SECONDLY", Map.of());
                }
            }
            return new Verdict(Map.of(), null);
        }
        int limit = caller.privateApp() ? privateMax : max;
        Duration span = caller.privateApp() ? privateInterval : interval;
        Map<String, String> h = new LinkedHashMap<>();
        Daily d = caller.privateApp() ? daily.computeIfAbsent(caller.key(), k -> new Daily()) : null;
        ArrayDeque<Instant> w = windows.computeIfAbsent(caller.key(), k -> new ArrayDeque<>());
        synchronized (w) {
            long dailyLeft = -1;
            if (d != null) {
                LocalDate today = LocalDate.ofInstant(now, ZoneOffset.UTC);
                if (!today.equals(d.day)) {
                    d.day = today;
                    d.count = 0;
                }
                if (d.count >= privateDailyMax) {
                    h.put("X-HubSpot-RateLimit-Daily", Long.toString(privateDailyMax));
                    h.put("X-HubSpot-RateLimit-Daily-Remaining", "0");
                    return reject(caller, "You have reached your daily limit.", "DAILY", h);
                }
            }
            boolean ok = take(w, limit, span, now);
            if (d != null) {
                if (ok) {
                    d.count++;
                }
                dailyLeft = privateDailyMax - d.count;
                h.put("X-HubSpot-RateLimit-Daily", Long.toString(privateDailyMax));
                h.put("X-HubSpot-RateLimit-Daily-Remaining", Long.toString(dailyLeft));
            }
            h.put("X-HubSpot-RateLimit-Interval-Milliseconds", Long.toString(span.toMillis()));
            h.put("X-HubSpot-RateLimit-Max", Integer.toString(limit));
            h.put("X-HubSpot-RateLimit-Remaining", Integer.toString(Math.max(0, limit - w.size())));
            if (!ok) {
                return reject(caller, TEN_SECONDLY_MESSAGE, TEN_SECONDLY_POLICY, h);
            }
        }
        return new Verdict(h, null);
    }

    /** Drops calls that left the rolling window; admits this one if there is room. Caller holds the lock. */
    private static boolean take(ArrayDeque<Instant> w, int limit, Duration span, Instant now) {
        Instant horizon = now.minus(span);
        while (!w.isEmpty() && !w.peekFirst().isAfter(horizon)) {
            w.removeFirst();
        }
        if (w.size() >= limit) {
            return false;
        }
        w.addLast(now);
        return true;
    }

    private Verdict reject(Caller caller, String message, String policy, Map<String, String> headers) {
        limited.computeIfAbsent(caller.portalId(), k -> new AtomicInteger()).incrementAndGet();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", "error");
        body.put("message", message);
        body.put("errorType", "RATE_LIMIT");
        body.put("correlationId", UUID.randomUUID().toString());
        body.put("policyName", policy);
        body.put("requestId", UUID.randomUUID().toString());
        SimResponse r = SimHttp.json(429, body);
        Map<String, String> h = new LinkedHashMap<>(r.headers());
        h.putAll(headers);
        return new Verdict(headers, new SimResponse(429, h, r.body()));
    }

    List<Instant> requestTimes(long portalId) {
        List<Instant> sent = times.get(portalId);
        if (sent == null) {
            return List.of();
        }
        synchronized (sent) {
            return List.copyOf(sent);
        }
    }

    int rateLimited(long portalId) {
        AtomicInteger n = limited.get(portalId);
        return n == null ? 0 : n.get();
    }

    int rateLimited() {
        return limited.values().stream().mapToInt(AtomicInteger::get).sum();
    }

    void reset() {
        windows.clear();
        searchWindows.clear();
        daily.clear();
        times.clear();
        limited.clear();
    }
}
