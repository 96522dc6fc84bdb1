package dev.tokenvault.hubspot;

import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.MultivaluedMap;
import jakarta.ws.rs.core.Response;

import io.smallrye.mutiny.Uni;

/**
 * HubSpot's OAuth endpoints, both generations, and the private-app token-info endpoint. Built programmatically by
 * {@link HubSpotOAuthClient} with the base URL
 * from {@code tokenvault.hubspot.api-base-url}; responses are read raw so that HubSpot's error bodies can be
 * interpreted.
 */
@Path("/oauth")
interface HubSpotOAuthApi {

    @POST
    @Path("/v1/token")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    Uni<Response> tokenV1(MultivaluedMap<String, String> form);

    @GET
    @Path("/v1/access-tokens/{token}")
    Uni<Response> introspectV1(@PathParam("token") String accessToken);

    @DELETE
    @Path("/v1/refresh-tokens/{token}")
    Uni<Response> revokeV1(@PathParam("token") String refreshToken);

    /** What HubSpot knows of a private-app token: {@code {"tokenKey": "..."}} in, hubId, appId, userId, scopes out. */
    @POST
    @Path("/v2/private-apps/get/access-token-info")
    @Consumes(MediaType.APPLICATION_JSON)
    Uni<Response> privateAppTokenInfo(@HeaderParam("Authorization") String authorization, String body);

    @POST
    @Path("/{version}/token")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    Uni<Response> token(@PathParam("version") String version, MultivaluedMap<String, String> form);

    @POST
    @Path("/{version}/token/introspect")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    Uni<Response> introspect(@PathParam("version") String version, MultivaluedMap<String, String> form);

    @POST
    @Path("/{version}/token/revoke")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    Uni<Response> revoke(@PathParam("version") String version, MultivaluedMap<String, String> form);
}
