package dev.tokenvault.connection;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.callers.Caller;
import dev.tokenvault.callers.CallerAuthorizer;
import dev.tokenvault.connection.RewrapService.RewrapProgress;
import io.quarkus.security.Authenticated;
import io.smallrye.mutiny.Uni;

/** Key rotation: rewrap every data key under the newest key version ({@code tokens.admin}, all portals). */
@Path("/v1/admin/rewrap")
@Authenticated
@Tag(name = "operations")
@SecurityRequirement(name = "jwt")
@Produces(MediaType.APPLICATION_JSON)
public class RewrapResource {

    private final RewrapService rewrap;
    private final CallerAuthorizer authorizer;
    private final AuditLog audit;

    RewrapResource(RewrapService rewrap, CallerAuthorizer authorizer, AuditLog audit) {
        this.rewrap = rewrap;
        this.authorizer = authorizer;
        this.audit = audit;
    }

    @POST
    @Operation(summary = "Rewrap all data keys under the newest key version", description = "Returns the progress of the run it started, or of the run already going on any replica.")
    @APIResponse(responseCode = "202", description = "Progress")
    public Uni<Response> start() {
        Caller caller = authorizer.requireAdminOfAll();
        return rewrap.start().map(p -> {
            audit.record(caller.sub(), null, null, "rewrap.start", p.state(), p.targetKeyVersion());
            return Response.accepted(p).build();
        });
    }

    @GET
    @Operation(summary = "Progress of the deployment's current or last rewrap run (whichever replica runs it)")
    public Uni<RewrapProgress> progress() {
        Caller caller = authorizer.requireAdminOfAll();
        return rewrap.progress()
                .invoke(p -> audit.record(caller.sub(), null, null, "rewrap.read", p.state(), null));
    }
}
