package dev.tokenvault.web;

import java.util.List;
import java.util.TreeSet;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import io.quarkus.security.Authenticated;
import io.smallrye.common.annotation.NonBlocking;

/** Tells a caller who the service thinks it is. */
@Path("/v1/whoami")
@Authenticated
@Tag(name = "caller")
@SecurityRequirement(name = "jwt")
public class WhoAmIResource {

    private final CallerAuthorizer authorizer;

    WhoAmIResource(CallerAuthorizer authorizer) {
        this.authorizer = authorizer;
    }

    public record WhoAmI(String sub, List<String> groups, List<String> portals) {
    }

    @GET
    @NonBlocking
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Who the service thinks the caller is", description = "Any valid JWT. `portals` is `[\"*\"]` or the portal ids the caller may touch.")
    public WhoAmI whoami() {
        Caller c = authorizer.caller();
        return new WhoAmI(c.sub(), List.copyOf(new TreeSet<>(c.groups())), c.portalsClaim());
    }
}
