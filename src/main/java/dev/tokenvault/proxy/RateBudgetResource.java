package dev.tokenvault.proxy;

import java.time.Instant;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import dev.tokenvault.budget.BudgetExhaustedException;
import dev.tokenvault.budget.BudgetKind;
import dev.tokenvault.budget.RateBudgets;
import dev.tokenvault.callers.Caller;
import dev.tokenvault.callers.CallerAuthorizer;
import dev.tokenvault.config.Apps;
import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.web.ApiException;
import dev.tokenvault.web.Params;
import dev.tokenvault.web.Problem;
import io.quarkus.security.Authenticated;
import io.smallrye.mutiny.Uni;

/**
 * The portal's rate budget for callers that still hold the token and call HubSpot themselves: they take permits
 * from the same deployment-wide budget as the proxy, so every caller of a portal shares HubSpot's limit.
 */
@Path("/v1/apps/{app}/portals/{portalId}/rate-budget")
@Authenticated
@Tag(name = "hubspot", description = "HubSpot API proxy and rate budget")
@SecurityRequirement(name = "jwt")
@Produces(MediaType.APPLICATION_JSON)
public class RateBudgetResource {

    private final RateBudgets budgets;
    private final CallerAuthorizer authorizer;
    private final Apps apps;
    private final TokenVaultConfig.Proxy config;

    RateBudgetResource(RateBudgets budgets, CallerAuthorizer authorizer, Apps apps, TokenVaultConfig config) {
        this.budgets = budgets;
        this.authorizer = authorizer;
        this.apps = apps;
        this.config = config.proxy();
    }

    /** Permits granted. */
    public record Granted(int granted, int remaining, Instant resetAt) {
    }

    /** The budget now. */
    public record Budget(int calls, long intervalMs, int remaining, Instant resetAt, Instant pausedUntil) {
    }

    @POST
    @Path("/acquire")
    @Operation(summary = "Take permits of the portal's rate budget", description = "Waits, like the proxy, up to tokenvault.proxy.max-wait for `calls` permits of the budget all replicas and callers share (kind=search: the budget of POST /crm/v3/objects/{type}/search), then 200, or 429 rate-budget-exhausted with Retry-After. Send the HubSpot calls right after.")
    @APIResponse(responseCode = "200", description = "Granted")
    @APIResponse(responseCode = "400", description = "calls outside 1..budget, or an unknown kind", content = @Content(mediaType = Problem.MEDIA_TYPE))
    @APIResponse(responseCode = "429", description = "No permit within the wait", content = @Content(mediaType = Problem.MEDIA_TYPE))
    public Uni<Granted> acquire(@PathParam("app") String app, @PathParam("portalId") String portalId,
            @QueryParam("calls") String calls, @QueryParam("kind") String kind) {
        long portal = Params.portalId(portalId);
        authorizer.require(app, portal, Caller.PROXY, Caller.READ);
        apps.require(app);
        BudgetKind k = kind(kind);
        int n = Params.intInRange("calls", calls, 1, 10_000, 1);
        return budgets.status(app, portal, k).chain(status -> {
            if (n > status.calls()) {
                throw ApiException.badRequest("calls must be from 1 to the budget's size, " + status.calls());
            }
            return budgets.acquire(app, portal, k, n, config.maxWait());
        }).map(g -> new Granted(g.granted(), g.remaining(), g.resetAt()))
                .onFailure(IllegalArgumentException.class).transform(e -> ApiException.badRequest(e.getMessage()))
                .onFailure(BudgetExhaustedException.class).transform(e -> ApiException.tooManyRequests(
                        "rate-budget-exhausted", "Rate budget exhausted", "no " + n + " permits of this portal's "
                                + "HubSpot rate budget within " + config.maxWait().toMillis() + " ms",
                        ((BudgetExhaustedException) e).retryAfter()));
    }

    @GET
    @Operation(summary = "The portal's rate budget now", description = "calls per intervalMs (configured, or learnt from HubSpot's X-HubSpot-RateLimit headers), what remains in the current rolling window, when the next permit frees, and pausedUntil after a HubSpot 429.")
    @APIResponse(responseCode = "200", description = "The budget")
    public Uni<Budget> status(@PathParam("app") String app, @PathParam("portalId") String portalId,
            @QueryParam("kind") String kind) {
        long portal = Params.portalId(portalId);
        authorizer.require(app, portal, Caller.PROXY, Caller.READ);
        apps.require(app);
        return budgets.status(app, portal, kind(kind)).map(s -> new Budget(s.calls(), s.intervalMs(), s.remaining(),
                s.resetAt(), s.pausedUntil()));
    }

    private static BudgetKind kind(String kind) {
        if (kind == null || kind.isEmpty() || kind.equals("general")) {
            return BudgetKind.GENERAL;
        }
        if (kind.equals("search")) {
            return BudgetKind.SEARCH;
        }
        throw ApiException.badRequest("kind must be general or search");
    }
}
