package dev.tokenvault.webhook;

import java.util.Locale;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One event of a HubSpot webhook batch, as far as this service acts on it. Only {@linkplain #uninstall() uninstalls}
 * are acted on; their ids must be in the one canonical form, JSON integers in range: {@code portalId},
 * {@code appId}, {@code eventId} and {@code occurredAt} (epoch milliseconds) from 1 to 2^63-1 (so {@code -0} is refused
 * too). {@code 3.9}, {@code 3.0}, {@code 1e3}, {@code "3"}, {@code -3}, {@code true}, {@code null}
 * or a number beyond 64 bits make the event {@linkplain #invalid() invalid}: it is ignored, never rounded, truncated
 * or read from a string. {@code appId} may be absent (then {@link #appId()} is -1); the other three are required.
 *
 * @param uninstall whether the event announces an app uninstall
 * @param portalId the portal, or -1 when not an uninstall or invalid
 * @param appId the HubSpot app id, or -1 when absent, not an uninstall or invalid
 * @param eventId HubSpot's event id, or -1
 * @param occurredAt when the event occurred, epoch milliseconds, or -1
 * @param invalid why an uninstall event cannot be acted on, or {@code null}
 */
record WebhookEvent(boolean uninstall, long portalId, long appId, long eventId, long occurredAt, String invalid) {

    /** HubSpot's event type id of the app-uninstall lifecycle event. */
    static final String UNINSTALL_EVENT_TYPE_ID = "4-1916193";

    private static final WebhookEvent OTHER = new WebhookEvent(false, -1, -1, -1, -1, null);

    /** Reads one element of the batch; never throws. */
    static WebhookEvent parse(JsonNode event) {
        if (event == null || !event.isObject() || !isUninstall(event)) {
            return OTHER;
        }
        long portal = integer(event.get("portalId"), 1);
        if (portal < 0) {
            return invalid("portalId");
        }
        JsonNode appNode = event.get("appId");
        long app = appNode == null ? -1 : integer(appNode, 1);
        if (appNode != null && app < 0) {
            return invalid("appId");
        }
        long eventId = integer(event.get("eventId"), 1);
        if (eventId < 0) {
            return invalid("eventId");
        }
        long occurredAt = integer(event.get("occurredAt"), 1);
        if (occurredAt < 0) {
            return invalid("occurredAt");
        }
        return new WebhookEvent(true, portal, app, eventId, occurredAt, null);
    }

    private static WebhookEvent invalid(String field) {
        return new WebhookEvent(true, -1, -1, -1, -1, field + " is not an integer in range");
    }

    /**
     * The value of a JSON integer token at least {@code min} and within 64 bits, else -1. A JSON number
     * written with a fraction or an exponent is a floating-point node in Jackson's tree even when its value is
     * integral, so it is refused here.
     */
    static long integer(JsonNode node, long min) {
        if (node == null || !node.isIntegralNumber() || !node.canConvertToLong()) {
            return -1;
        }
        long value = node.longValue();
        return value >= min ? value : -1;
    }

    static boolean isUninstall(JsonNode event) {
        String type = text(event, "subscriptionType");
        if ("app.uninstall".equalsIgnoreCase(type)) {
            return true;
        }
        boolean lifecycle = "APP_LIFECYCLE_EVENT".equalsIgnoreCase(type)
                || "APP_LIFECYCLE_EVENT".equalsIgnoreCase(text(event, "eventType"));
        if (!lifecycle) {
            return false;
        }
        for (String field : new String[] { "action", "type", "changeType", "eventType", "lifecycleEventType",
                "eventTypeName" }) {
            String v = text(event, field);
            if (v != null && v.toUpperCase(Locale.ROOT).contains("APP_UNINSTALL")) {
                return true;
            }
        }
        return UNINSTALL_EVENT_TYPE_ID.equals(text(event, "eventTypeId"));
    }

    private static String text(JsonNode node, String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }
}
