package dev.tokenvault.audit;

import java.time.Instant;

/**
 * One audited action, or {@code count} identical ones whose last was at {@code lastAt} (unauthenticated events are
 * tallied as they are recorded, see {@link AuditLog#recordIfAccepting}). Never carries a token or secret: {@code detail} is a
 * short reason. Text fields are made
 * storable on construction: PostgreSQL refuses NUL in {@code text}, and one refused row would fail its whole batch
 * again and again, so NUL becomes U+FFFD; fields are cut at {@link #MAX_TEXT} characters (a path parameter or JWT
 * {@code sub} can be anything a caller sends).
 */
public record AuditEvent(Instant at, String sub, String app, Long portalId, String action, String outcome,
        String detail, Instant lastAt, int count) {

    static final int MAX_TEXT = 512;

    /** One event. */
    public AuditEvent(Instant at, String sub, String app, Long portalId, String action, String outcome,
            String detail) {
        this(at, sub, app, portalId, action, outcome, detail, at, 1);
    }

    public AuditEvent {
        if (count < 1) {
            throw new IllegalArgumentException("count must be positive");
        }
        lastAt = lastAt == null ? at : lastAt;
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
