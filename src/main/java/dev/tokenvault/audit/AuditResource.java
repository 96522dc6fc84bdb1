package dev.tokenvault.audit;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import dev.tokenvault.callers.CallerAuthorizer;
import dev.tokenvault.web.ApiException;
import dev.tokenvault.web.Params;
import io.quarkus.security.Authenticated;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;

/** Audit records for operators, newest first ({@code tokens.admin}; all portals unless one is named). */
@Path("/v1/admin/audit")
@Authenticated
@Tag(name = "operations")
@SecurityRequirement(name = "jwt")
@Produces(MediaType.APPLICATION_JSON)
public class AuditResource {

    private final Pool pool;
    private final CallerAuthorizer authorizer;
    private final AuditLog audit;

    AuditResource(Pool pool, CallerAuthorizer authorizer, AuditLog audit) {
        this.pool = pool;
        this.authorizer = authorizer;
        this.audit = audit;
    }

    @Schema(name = "AuditRecord")
    public record AuditRecord(long id,
            @Schema(description = "when it happened; for coalesced records, the first of their events") Instant at,
            @Schema(description = "the last event of a coalesced record; equal to at for a single event") Instant lastAt,
            @Schema(description = "events this record stands for: identical hand-outs (same caller, app, portal and outcome) written in the same batch, and identical refused webhooks or failed installs (same app and reason) of the same second, are one record; every other action is 1") int count,
            String sub, String app, Long portalId, String action, String outcome, String detail) {
    }

    @Schema(name = "AuditPage")
    public record AuditPage(List<AuditRecord> items, String nextCursor) {
    }

    @GET
    @Operation(summary = "Audit records, newest first")
    public Uni<AuditPage> list(
            @Parameter(description = "only this portal") @QueryParam("portalId") String portalIdRaw,
            @Parameter(description = "only this caller (JWT sub)") @QueryParam("sub") String sub,
            @Parameter(description = "ISO-8601 instant: only records at or after it", example = "2026-11-23T00:00:00Z") @QueryParam("since") String sinceRaw,
            @Parameter(description = "1 to 1000, default 100") @QueryParam("limit") String limitRaw,
            @QueryParam("cursor") String cursor) {
        Long portalId = portalIdRaw == null || portalIdRaw.isEmpty() ? null : Params.portalId(portalIdRaw);
        var caller = portalId == null ? authorizer.requireAdminOfAll() : authorizer.requireAdmin(null, portalId);
        audit.record(caller.sub(), null, null, "audit.read", "ok", portalId == null ? null : "portalId=" + portalId);
        if (sub != null && sub.length() > 256) {
            throw ApiException.badRequest("sub is too long");
        }
        if (sub != null && sub.chars().anyMatch(Character::isISOControl)) {
            // PostgreSQL text holds no NUL; a control character names no caller: bad input, not a database outage
            throw ApiException.badRequest("sub must not contain control characters");
        }
        Instant since = null;
        if (sinceRaw != null && !sinceRaw.isEmpty()) {
            try {
                since = OffsetDateTime.parse(sinceRaw).toInstant();
            } catch (DateTimeParseException e) {
                throw ApiException.badRequest("since must be an ISO-8601 date-time such as 2026-11-23T00:00:00Z");
            }
            if (since.isBefore(EARLIEST) || since.isAfter(LATEST)) {
                throw ApiException.badRequest("since must be between year 1970 and 9999");
            }
        }
        int limit = Params.intInRange("limit", limitRaw, 1, 1000, 100);
        long[] after = cursor == null || cursor.isEmpty() ? null : decode(cursor);

        StringBuilder sql = new StringBuilder(
                "select id, at, last_at, count, sub, app, portal_id, action, outcome, detail from audit_log where true");
        List<Object> params = new ArrayList<>();
        if (portalId != null) {
            params.add(portalId);
            sql.append(" and portal_id = $").append(params.size());
        }
        if (sub != null && !sub.isEmpty()) {
            params.add(sub);
            sql.append(" and sub = $").append(params.size());
        }
        if (since != null) {
            // a coalesced record counts from its last hand-out, which is less than a second after its first
            params.add(since.atOffset(ZoneOffset.UTC));
            sql.append(" and coalesce(last_at, at) >= $").append(params.size());
            params.add(since.minusSeconds(1).atOffset(ZoneOffset.UTC));
            sql.append(" and at >= $").append(params.size());
        }
        if (after != null) {
            params.add(Instant.ofEpochSecond(0, 0).plusNanos(after[0] * 1000).atOffset(ZoneOffset.UTC));
            params.add(after[1]);
            sql.append(" and (at, id) < ($").append(params.size() - 1).append(", $").append(params.size())
                    .append(")");
        }
        params.add(limit + 1);
        sql.append(" order by at desc, id desc limit $").append(params.size());
        return pool.preparedQuery(sql.toString()).execute(Tuple.from(params)).map(rows -> {
            List<AuditRecord> items = new ArrayList<>();
            rows.forEach(r -> items.add(new AuditRecord(r.getLong("id"), r.getOffsetDateTime("at").toInstant(),
                    (r.getOffsetDateTime("last_at") == null ? r.getOffsetDateTime("at") : r.getOffsetDateTime("last_at"))
                            .toInstant(),
                    r.getInteger("count"), r.getString("sub"), r.getString("app"), r.getLong("portal_id"),
                    r.getString("action"),
                    r.getString("outcome"), r.getString("detail"))));
            String next = null;
            if (items.size() > limit) {
                items.remove(items.size() - 1);
                AuditRecord last = items.get(items.size() - 1);
                next = encode(last.at(), last.id());
            }
            return new AuditPage(items, next);
        });
    }

    private static final Instant EARLIEST = Instant.EPOCH;
    private static final Instant LATEST = Instant.parse("9999-12-31T23:59:59Z");

    private static String encode(Instant at, long id) {
        long micros = at.getEpochSecond() * 1_000_000 + at.getNano() / 1000;
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString((micros + ":" + id).getBytes(StandardCharsets.US_ASCII));
    }

    private static long[] decode(String cursor) {
        try {
            String[] parts = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.US_ASCII).split(":");
            long micros = Params.canonicalId(parts[0]).orElseThrow();
            long id = Params.canonicalId(parts[1]).orElseThrow();
            if (parts.length != 2 || micros > LATEST.getEpochSecond() * 1_000_000) {
                throw new IllegalArgumentException();
            }
            return new long[] { micros, id };
        } catch (RuntimeException e) {
            throw ApiException.badRequest("cursor is not one this service returned");
        }
    }
}
