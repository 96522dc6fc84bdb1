package dev.tokenvault.audit;

import java.time.Instant;

/** One audited action. Never carries a token or secret: {@code detail} is a short reason. */
public record AuditEvent(Instant at, String sub, String app, Long portalId, String action, String outcome,
        String detail) {
}
