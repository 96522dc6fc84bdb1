package dev.tokenvault.audit;

import java.time.Instant;

/**
 * One audited action. Never carries a token or secret: {@code detail} is a short reason. Text fields are made
 * storable on construction: PostgreSQL refuses NUL in {@code text}, and one refused row would fail its whole batch
 * again and again, so NUL becomes U+FFFD; fields are cut at {@link #MAX_TEXT} characters (a path parameter or JWT
 * {@code sub} can be anything a caller sends).
 */
public record AuditEvent(Instant at, String sub, String app, Long portalId, String action, String outcome,
        String detail) {

    static final int MAX_TEXT = 512;

    public AuditEvent {
        sub = storable(sub);
        app = storable(app);
        action = storable(action);
        outcome = storable(outcome);
        detail = storable(detail);
    }

    static String storable(String text) {
        if (text == null) {
            return null;
        }
        String s = text.length() > MAX_TEXT ? text.substring(0, MAX_TEXT - 1) + "…" : text;
        return s.indexOf('\0') < 0 ? s : s.replace('\0', '\uFFFD');
    }
}
