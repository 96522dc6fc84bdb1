package dev.tokenvault.connection;

import java.time.InstantSource;
import java.util.List;
import java.util.Optional;

import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.callers.Caller;
import dev.tokenvault.callers.CallerAuthorizer;
import dev.tokenvault.config.Apps;
import dev.tokenvault.web.ApiException;
import dev.tokenvault.web.Params;
import dev.tokenvault.web.Problem;
import io.quarkus.security.Authenticated;
import io.smallrye.mutiny.Uni;

/** Admin API over connections ({@code tokens.admin}). */
@Path("/v1/apps/{app}/portals")
@Authenticated
@Tag(name = "connections", description = "Administer the connections held for each portal")
@SecurityRequirement(name = "jwt")
@Produces(MediaType.APPLICATION_JSON)
public class ConnectionResource {

    private final ConnectionService connections;
    private final CallerAuthorizer authorizer;
    private final Apps apps;
    private final AuditLog audit;
    private final InstantSource clock;
    private final ErasureService erasure;

    ConnectionResource(ConnectionService connections, CallerAuthorizer authorizer, Apps apps, AuditLog audit,
            InstantSource clock, ErasureService erasure) {
        this.erasure = erasure;
        this.connections = connections;
        this.authorizer = authorizer;
        this.apps = apps;
        this.audit = audit;
        this.clock = clock;
    }

    @Schema(name = "StaticToken", description = "A HubSpot static credential: a service key or a private-app token")
    public record StaticTokenRequest(
            @Schema(required = true, examples = "pat-na1-00000000-0000-0000-0000-000000000000") String token,
            @Schema(required = true, enumeration = {
                    "service_key", "private_app" }) String kind){
        @Override
        public String toString() {
            return "StaticTokenRequest[kind=" + kind + ", token=<redacted>]";
        }
    }

    @Schema(name = "PrivateAppToken", description = "A HubSpot private-app (static bearer) token")
    public record PrivateAppTokenRequest(
            @Schema(required = true, examples = "pat-na1-00000000-0000-0000-0000-000000000000") String token) {
        @Override
        public String toString() {
            return "PrivateAppTokenRequest[token=<redacted>]";
        }
    }

    @Schema(name = "ConnectionPage")
    public record ConnectionPage(List<ConnectionResponse> items,
            @Schema(description = "pass as cursor to get the next page; null on the last page") String nextCursor) {
    }

    @GET
    @Path("/{portalId}")
    @Operation(summary = "One connection (admin)")
    @APIResponse(responseCode = "200", description = "The connection")
    @APIResponse(responseCode = "404", description = "Unknown app or connection")
    public Uni<ConnectionResponse> get(@PathParam("app") String app, @PathParam("portalId") String portalIdRaw) {
        long portalId = Params.portalId(portalIdRaw);
        Caller caller = authorizer.requireAdmin(app, portalId);
        apps.require(app);
        return connections.find(app, portalId).map(found -> {
            Connection c = found.orElseThrow(() -> notConnected(app, portalId));
            audit.record(caller.sub(), app, portalId, "connection.read", "ok", null);
            return ConnectionResponse.of(c, clock.instant());
        });
    }

    @GET
    @Operation(summary = "List connections (admin)", description = "Ordered by portal id; limited to the caller's portals unless its portals claim is \"*\".")
    public Uni<ConnectionPage> list(@PathParam("app") String app,
            @Parameter(description = "active or needs_reauth") @QueryParam("status") String status,
            @Parameter(description = "oauth, service_key or private_app") @QueryParam("authType") String authType,
            @Parameter(description = "an ISO-8601 duration such as P180D: only static credentials whose token was stored longer ago (tokenAge greater)") @QueryParam("olderThan") String olderThan,
            @Parameter(description = "1 to 500, default 100") @QueryParam("limit") String limitRaw,
            @QueryParam("cursor") String cursor) {
        Caller.PortalScope scope = authorizer.requireAdminScope(app);
        Caller caller = authorizer.caller();
        apps.require(app);
        Optional<ConnectionStatus> st = Optional.empty();
        if (status != null && !status.isEmpty()) {
            try {
                st = Optional.of(ConnectionStatus.of(status));
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest("status must be active or needs_reauth");
            }
        }
        Optional<AuthType> type = Optional.empty();
        if (authType != null && !authType.isEmpty()) {
            try {
                type = Optional.of(AuthType.of(authType));
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest("authType must be oauth, service_key or private_app");
            }
        }
        Optional<java.time.Instant> storedBefore = Optional.empty();
        if (olderThan != null && !olderThan.isEmpty()) {
            try {
                storedBefore = Optional.of(clock.instant().minus(olderThan(olderThan)));
            } catch (java.time.DateTimeException | ArithmeticException e) {
                throw ApiException.badRequest("olderThan is too long");
            }
        }
        ConnectionFilter filter = new ConnectionFilter(st, type, storedBefore);
        int limit = Params.intInRange("limit", limitRaw, 1, 500, 100);
        long after = cursor == null || cursor.isEmpty() ? 0 : parseCursor(cursor);
        Optional<List<Long>> only = scope.all() ? Optional.empty() : Optional.of(List.copyOf(scope.ids()));
        return connections.list(app, filter, after, only, limit + 1).map(page -> {
            boolean more = page.size() > limit;
            List<Connection> items = more ? page.subList(0, limit) : page;
            var now = clock.instant();
            audit.record(caller.sub(), app, null, "connection.list", "ok", null);
            return new ConnectionPage(items.stream().map(c -> ConnectionResponse.of(c, now)).toList(),
                    more ? Long.toString(items.get(items.size() - 1).portalId()) : null);
        });
    }

    @PUT
    @Path("/{portalId}/static-token")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Store a static credential: a HubSpot service key or private-app token (admin)", description = "A private-app token is checked first with HubSpot's token-info endpoint: refused (400) when HubSpot does not know it or says it belongs to another account, 503 when HubSpot cannot be asked; nothing is stored then. Its scopes are recorded. HubSpot documents no such check for service keys: they are stored as given. A different token replaces the current one at once in every replica; the replaced one is kept sealed for tokenvault.static-tokens.grace (default 7 days) for a rollback, then destroyed.")
    @APIResponse(responseCode = "200", description = "The connection")
    @APIResponse(responseCode = "400", description = "Malformed body, unknown kind, or a private-app token HubSpot refuses or places in another account; nothing stored")
    @APIResponse(responseCode = "409", description = "The portal is connected through OAuth")
    @APIResponse(responseCode = "503", description = "HubSpot, the key service or the database unavailable; nothing stored")
    public Uni<ConnectionResponse> putStaticToken(@PathParam("app") String app,
            @PathParam("portalId") String portalIdRaw, StaticTokenRequest body) {
        long portalId = Params.portalId(portalIdRaw);
        Caller caller = authorizer.requireAdmin(app, portalId);
        apps.require(app);
        if (body == null || body.kind() == null) {
            throw ApiException.badRequest("body must be {\"token\": \"...\", \"kind\": \"service_key\"|\"private_app\"}");
        }
        AuthType kind = switch (body.kind()) {
            case "service_key" -> AuthType.SERVICE_KEY;
            case "private_app" -> AuthType.PRIVATE_APP;
            default -> throw ApiException.badRequest("kind must be service_key or private_app");
        };
        return storeStatic(caller, app, portalId, kind, body.token(), "static_token");
    }

    @PUT
    @Path("/{portalId}/private-app-token")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Store a private-app token (admin; alias of static-token with kind private_app)")
    @APIResponse(responseCode = "200", description = "The connection")
    @APIResponse(responseCode = "400", description = "Malformed body, or a token HubSpot refuses or places in another account; nothing stored")
    @APIResponse(responseCode = "409", description = "The portal is connected through OAuth")
    @APIResponse(responseCode = "503", description = "HubSpot, the key service or the database unavailable; nothing stored")
    public Uni<ConnectionResponse> putPrivateAppToken(@PathParam("app") String app,
            @PathParam("portalId") String portalIdRaw, PrivateAppTokenRequest body) {
        long portalId = Params.portalId(portalIdRaw);
        Caller caller = authorizer.requireAdmin(app, portalId);
        apps.require(app);
        return storeStatic(caller, app, portalId, AuthType.PRIVATE_APP, body == null ? null : body.token(),
                "private_app_token");
    }

    private Uni<ConnectionResponse> storeStatic(Caller caller, String app, long portalId, AuthType kind, String token,
            String action) {
        if (token == null || token.isBlank()) {
            throw ApiException.badRequest("body must carry a non-empty \"token\"");
        }
        if (token.length() < 16 || token.length() > 4096 || !token.chars().allMatch(ch -> ch > 0x20 && ch < 0x7f)) {
            throw ApiException.badRequest("token must be 16 to 4096 printable ASCII characters without spaces");
        }
        return connections.storeStaticToken(app, portalId, kind, token)
                .onItemOrFailure().invoke((stored, failure) -> audit.record(caller.sub(), app, portalId,
                        action + (stored != null && stored.rotated() ? ".rotate" : ".put"),
                        failure == null ? "ok" : "failed",
                        failure == null ? "kind=" + kind.value() + (stored.rotated()
                                ? ", replaced token kept for rollback until " + stored.connection().previousUntil()
                                : "")
                                : "kind=" + kind.value() + ", " + failure.getClass().getSimpleName()))
                .map(stored -> ConnectionResponse.of(stored.connection(), clock.instant()));
    }

    @POST
    @Path("/{portalId}/static-token/rollback")
    @Operation(summary = "Restore the static token replaced by the last rotation (admin)", description = "Within tokenvault.static-tokens.grace of the rotation the replaced token becomes the current one again, at once in every replica; the token it replaces is destroyed. 409 when there is no replaced token or its grace has ended.")
    @APIResponse(responseCode = "200", description = "The connection, holding the restored token")
    @APIResponse(responseCode = "404", description = "Unknown app or connection")
    @APIResponse(responseCode = "409", description = "No replaced token to restore (none, rolled back already, grace ended, or an OAuth connection)", content = @Content(mediaType = Problem.MEDIA_TYPE))
    public Uni<ConnectionResponse> rollbackStaticToken(@PathParam("app") String app,
            @PathParam("portalId") String portalIdRaw) {
        long portalId = Params.portalId(portalIdRaw);
        Caller caller = authorizer.requireAdmin(app, portalId);
        apps.require(app);
        return connections.rollbackStaticToken(app, portalId)
                .onItemOrFailure().invoke((c, failure) -> audit.record(caller.sub(), app, portalId,
                        "static_token.rollback", failure == null ? "ok" : "failed",
                        failure == null ? "restored kind=" + c.authType().value()
                                : failure instanceof ApiException api ? "HTTP " + api.status()
                                        : failure.getClass().getSimpleName()))
                .map(c -> ConnectionResponse.of(c, clock.instant()));
    }

    @DELETE
    @Path("/{portalId}")
    @Operation(summary = "Erase a connection (admin)", description = "Destroys the connection's data key first (crypto-shredding), then its tokens and personal data, leaving an audit tombstone; then revokes the refresh token at HubSpot (retried until it succeeds). 204 also when already gone.")
    @APIResponse(responseCode = "204", description = "Erased, or nothing to erase")
    @APIResponse(responseCode = "503", description = "Key service or database unavailable; nothing changed")
    public Uni<Response> erase(@PathParam("app") String app, @PathParam("portalId") String portalIdRaw) {
        long portalId = Params.portalId(portalIdRaw);
        Caller caller = authorizer.requireAdmin(app, portalId);
        apps.require(app);
        return erasure.erase(app, portalId, caller.sub(), "admin").replaceWith(Response.noContent().build());
    }

    static ApiException notConnected(String app, long portalId) {
        return ApiException.notFound("portal " + portalId + " has no connection for app " + app);
    }

    /** An ISO-8601 duration of days, hours, minutes, seconds ({@code P180D}, {@code PT12H}); not negative. */
    static java.time.Duration olderThan(String raw) {
        try {
            java.time.Duration d = java.time.Duration.parse(raw);
            if (d.isNegative()) {
                throw ApiException.badRequest("olderThan must not be negative");
            }
            return d;
        } catch (java.time.format.DateTimeParseException e) {
            throw ApiException.badRequest("olderThan must be an ISO-8601 duration such as P180D or PT12H");
        }
    }

    private static long parseCursor(String cursor) {
        // a portal id (or 0 for the start) in its one spelling
        return "0".equals(cursor) ? 0
                : Params.canonicalId(cursor)
                        .orElseThrow(() -> ApiException.badRequest("cursor is not one this service returned"));
    }
}
