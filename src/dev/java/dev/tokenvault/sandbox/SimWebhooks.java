package dev.tokenvault.sandbox;

import static dev.tokenvault.sandbox.SimHttp.sha256;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import dev.tokenvault.sandbox.HubSpotSimulator.App;
import dev.tokenvault.sandbox.HubSpotSimulator.SignedWebhook;

/** Webhook deliveries as HubSpot sends them: the {@code app.uninstall} event body and signatures v1, v2 and v3. */
final class SimWebhooks {

    private final SimState s;
    private final AtomicLong eventIds = new AtomicLong();
    volatile long subscriptionId = 1;

    SimWebhooks(SimState state) {
        this.s = state;
    }

    String uninstallWebhookBody(long portalId, long appId) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("eventId", eventIds.incrementAndGet());
        e.put("subscriptionId", subscriptionId);
        e.put("portalId", portalId);
        e.put("appId", appId);
        e.put("occurredAt", s.clock.instant().toEpochMilli());
        e.put("subscriptionType", "app.uninstall");
        e.put("attemptNumber", 0);
        return new String(SimHttp.toJson(List.of(e)), StandardCharsets.UTF_8);
    }

    SignedWebhook signedUninstallWebhook(String targetUrl, long portalId, long appId) {
        App app = s.apps.values().stream().filter(a -> a.appId() == appId).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unknown appId " + appId));
        return sign(app.clientSecret(), "POST", targetUrl, uninstallWebhookBody(portalId, appId),
                s.clock.instant().toEpochMilli());
    }

    static SignedWebhook sign(String clientSecret, String method, String url, String body, long timestampMillis) {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Content-Type", "application/json");
        h.put("X-HubSpot-Signature", signatureV1(clientSecret, body));
        h.put("X-HubSpot-Signature-Version", "v1");
        h.put("X-HubSpot-Signature-v3", signatureV3(clientSecret, method, url, body, timestampMillis));
        h.put("X-HubSpot-Request-Timestamp", Long.toString(timestampMillis));
        return new SignedWebhook(method, url, body, timestampMillis, h);
    }

    static String signatureV3(String clientSecret, String method, String uri, String body, long timestampMillis) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(clientSecret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            byte[] sig = mac.doFinal((method + uri + body + timestampMillis).getBytes(StandardCharsets.UTF_8));
            return Base64.getEncoder().encodeToString(sig);
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException(e);
        }
    }

    static String signatureV1(String clientSecret, String body) {
        return HexFormat.of().formatHex(sha256((clientSecret + body).getBytes(StandardCharsets.UTF_8)));
    }

    static String signatureV2(String clientSecret, String method, String uri, String body) {
        return HexFormat.of().formatHex(sha256((clientSecret + method + uri + body).getBytes(StandardCharsets.UTF_8)));
    }
}
