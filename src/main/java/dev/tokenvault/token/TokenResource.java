package dev.tokenvault.token;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

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
import dev.tokenvault.metrics.Metrics;
import dev.tokenvault.web.ApiException;
import dev.tokenvault.web.Params;
import dev.tokenvault.web.Problem;
import io.quarkus.security.Authenticated;
import io.smallrye.mutiny.Uni;

/** Token hand-out to internal services ({@code tokens.read} and the portal in the caller's {@code portals}). */
@Path("/v1/apps/{app}/portals/{portalId}/token")
@Authenticated
@Tag(name = "tokens", description = "Access tokens for internal services")
@SecurityRequirement(name = "jwt")
@Produces(MediaType.APPLICATION_JSON)
public class TokenResource {

    private final TokenService tokens;
    private final CallerAuthorizer authorizer;
    private final Apps apps;
    private final AuditLog audit;
    private final Metrics metrics;

    TokenResource(TokenService tokens, CallerAuthorizer authorizer, Apps apps, AuditLog audit,
            Metrics metrics) {
        this.tokens = tokens;
        this.authorizer = authorizer;
        this.apps = apps;
        this.audit = audit;
        this.metrics = metrics;
    }

    @GET
    @Operation(summary = "A usable access token", description = "Valid for at least minValidity seconds: refreshed first (once, shared with any refresh in flight) when the cached one is too old. expiresIn always tells the truth, even when HubSpot gave a shorter life than asked.")
    @APIResponse(responseCode = "200", description = "The token", content = @Content(schema = @Schema(implementation = TokenResponse.class)))
    @APIResponse(responseCode = "400", description = "Invalid portal id or minValidity", content = @Content(mediaType = Problem.MEDIA_TYPE))
    @APIResponse(responseCode = "401", description = "Missing or invalid JWT", content = @Content(mediaType = Problem.MEDIA_TYPE))
    @APIResponse(responseCode = "403", description = "Not allowed for this portal", content = @Content(mediaType = Problem.MEDIA_TYPE))
    @APIResponse(responseCode = "404", description = "Unknown app or connection", content = @Content(mediaType = Problem.MEDIA_TYPE))
    @APIResponse(responseCode = "409", description = "needs_reauth; the body carries installUrl", content = @Content(mediaType = Problem.MEDIA_TYPE))
    @APIResponse(responseCode = "503", description = "HubSpot or the key service unavailable; see Retry-After", content = @Content(mediaType = Problem.MEDIA_TYPE))
    public Uni<TokenResponse> get(@PathParam("app") String app, @PathParam("portalId") String portalIdRaw,
            @Parameter(description = "seconds the token must still be valid, 0 to 3600", example = "60") @QueryParam("minValidity") String minValidityRaw) {
        Caller caller;
        long portalId;
        int minValidity;
        try {
            portalId = Params.portalId(portalIdRaw);
            minValidity = Params.intInRange("minValidity", minValidityRaw, 0, 3600, 60);
            caller = authorizer.requireRead(app, portalId);
            apps.require(app); // after authorisation: app names are not told to unauthorised callers
        } catch (ApiException e) {
            String outcome = switch (e.status()) {
                case 403 -> "forbidden";
                case 404 -> "not_found";
                case 503 -> "unavailable";
                default -> "invalid";
            };
            metrics.handedOut(outcome);
            // refusals and the 503 of a full audit backlog come from the authorizer, which audits refusals itself;
            // bad input may come before it, so it is queued only while the backlog has room (counted otherwise)
            if (e.status() == 400 || e.status() == 404) {
                audit.recordIfAccepting(authorizer.caller().sub(), app, null, "token.handout", outcome,
                        e.getMessage());
            }
            throw e;
        }
        return tokens.handOut(app, portalId, minValidity)
                .onItemOrFailure().invoke((handOut, failure) -> {
                    String outcome = failure == null ? handOut.source().name().toLowerCase() : outcome(failure);
                    metrics.handedOut(outcome);
                    audit.record(caller.sub(), app, portalId, "token.handout", outcome, null);
                })
                .map(TokenService.HandOut::token);
    }

    @POST
    @Path("/refresh")
    @Operation(summary = "Force a refresh now")
    @APIResponse(responseCode = "200", description = "The fresh token", content = @Content(schema = @Schema(implementation = TokenResponse.class)))
    @APIResponse(responseCode = "409", description = "needs_reauth, or a static credential (service key, private-app token)", content = @Content(mediaType = Problem.MEDIA_TYPE))
    @APIResponse(responseCode = "503", description = "HubSpot unavailable; see Retry-After", content = @Content(mediaType = Problem.MEDIA_TYPE))
    public Uni<TokenResponse> refresh(@PathParam("app") String app, @PathParam("portalId") String portalIdRaw) {
        long portalId = Params.portalId(portalIdRaw);
        Caller caller = authorizer.require(app, portalId, Caller.REFRESH, Caller.READ);
        apps.require(app);
        boolean mayRead = caller.may(Caller.READ, app, portalId);
        return tokens.forceRefresh(app, portalId)
                .onItemOrFailure().invoke((token, failure) -> audit.record(caller.sub(), app, portalId,
                        "token.force_refresh", failure == null ? "refreshed" : outcome(failure), null))
                // tokens.refresh alone may refresh, not read: the answer then has no token
                .map(token -> mayRead ? token : token.withoutAccessToken());
    }

    private static String outcome(Throwable failure) {
        if (failure instanceof ApiException a) {
            return switch (a.status()) {
                case 404 -> "not_found";
                case 409 -> "needs_reauth";
                case 503 -> "unavailable";
                default -> "error";
            };
        }
        return failure instanceof dev.tokenvault.crypto.KeyServiceUnavailableException ? "unavailable" : "error";
    }
}
