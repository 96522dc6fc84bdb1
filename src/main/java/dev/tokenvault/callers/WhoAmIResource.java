package dev.tokenvault.callers;

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

    public record WhoAmI(String sub, String issuer, List<String> groups, List<String> portals,
            List<Grant.View> grants) {
    }

    @GET
    @NonBlocking
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Who the service thinks the caller is", description = "Any valid token of a trusted issuer. `issuer` is the issuer's configured name (`default` for mp.jwt.verify.*); `groups`/`portals` are the token's claims when its issuer is trusted with them (else empty); `grants` is what the caller may do, each with its source: `claims` or `policy:<name>`.")
    public WhoAmI whoami() {
        Caller c = authorizer.caller();
        return new WhoAmI(c.sub(), c.issuer(), List.copyOf(new TreeSet<>(c.groups())), c.portalsClaim(),
                c.grantViews());
    }
}
