package dev.tokenvault.oauth;

import java.net.URI;
import java.util.List;
import java.util.stream.Collectors;

import jakarta.ws.rs.CookieParam;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.NewCookie;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriBuilder;

import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.logging.Logger;

import dev.tokenvault.config.Apps;
import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.hubspot.AppCredentials;
import dev.tokenvault.web.ApiException;
import io.smallrye.mutiny.Uni;

/** The browser-facing install flow: consent redirect and callback. Answers HTML, never a stack trace. */
@Path("/oauth/{app}")
@Tag(name = "install", description = "HubSpot OAuth install flow (browser)")
public class OAuthResource {

    private static final Logger LOG = Logger.getLogger(OAuthResource.class);
    static final String COOKIE = "tokenvault_oauth";

    private final Apps apps;
    private final AppCredentials credentials;
    private final OAuthStateStore states;
    private final InstallService installs;
    private final TokenVaultConfig config;

    OAuthResource(Apps apps, AppCredentials credentials, OAuthStateStore states, InstallService installs,
            TokenVaultConfig config) {
        this.apps = apps;
        this.credentials = credentials;
        this.states = states;
        this.installs = installs;
        this.config = config;
    }

    @GET
    @Path("/install")
    @Produces(MediaType.TEXT_HTML)
    @Operation(summary = "Start an install: redirect to HubSpot's consent screen")
    public Uni<Response> install(@PathParam("app") String app) {
        TokenVaultConfig.App conf;
        try {
            conf = apps.require(app);
        } catch (ApiException e) {
            return Uni.createFrom().item(html(e.status(), "Unknown app", "There is no app named this way here."));
        }
        return credentials.require(app)
                .chain(client -> states.issue(app).map(issued -> {
                    UriBuilder consent = UriBuilder.fromUri(config.hubspot().authorizeUrl())
                            .queryParam("client_id", client.clientId())
                            .queryParam("redirect_uri", installs.redirectUri(app))
                            .queryParam("scope", String.join(" ", conf.scopes()));
                    List<String> optional = conf.optionalScopes().orElse(List.of());
                    if (!optional.isEmpty()) {
                        consent.queryParam("optional_scope", String.join(" ", optional));
                    }
                    consent.queryParam("state", issued.state());
                    // PKCE (S256): an intercepted code is useless without the verifier, which only the vault can derive
                    consent.queryParam("code_challenge", OAuthStateStore.pkceChallenge(
                            OAuthStateStore.pkceVerifier(client.clientSecret(), app, issued.state())));
                    consent.queryParam("code_challenge_method", "S256");
                    return Response.status(302).location(consent.build())
                            .cookie(cookie(app, issued.browserBinding(), (int) OAuthStateStore.LIFETIME.toSeconds()))
                            .header("Cache-Control", "no-store")
                            .header("Referrer-Policy", "no-referrer")
                            .build();
                }))
                .onFailure().recoverWithItem(this::failurePage);
    }

    @GET
    @Path("/callback")
    @Produces(MediaType.TEXT_HTML)
    @Operation(summary = "HubSpot redirects here after consent")
    public Uni<Response> callback(@PathParam("app") String app, @QueryParam("code") String code,
            @QueryParam("state") String state, @QueryParam("error") String error,
            @QueryParam("error_description") String errorDescription, @CookieParam(COOKIE) String binding) {
        try {
            apps.require(app);
        } catch (ApiException e) {
            return Uni.createFrom().item(html(e.status(), "Unknown app", "There is no app named this way here."));
        }
        if (error != null) {
            // consume the state so the callback cannot be replayed, whatever it says (when this replica is busy the
            // state stays unused: nothing is done with it on this path anyway)
            return states.consume(app, state, binding).map(ignored -> "access_denied".equals(error)
                    ? html(403, "Installation cancelled",
                            "The app was not connected because access was denied on HubSpot's consent screen. Nothing was stored.")
                    : html(400, "Installation failed",
                            "HubSpot reported an error (" + truncate(error) + "). Nothing was stored."))
                    .onFailure().recoverWithItem(this::failurePage);
        }
        if (code == null || code.isBlank() || state == null || state.isBlank()) {
            return Uni.createFrom().item(html(400, "Incomplete callback",
                    "This address expects the code and state HubSpot sends back. Please start the install again."));
        }
        if (code.length() > 512) {
            return Uni.createFrom().item(html(400, "Invalid callback", "The authorization code is malformed."));
        }
        return states.consume(app, state, binding).chain(outcome -> switch (outcome) {
            // the state was not used and the cookie is kept: reloading the page completes the install
            case BUSY -> Uni.createFrom().item(html(503, "Too many installs at once",
                    "Too many installs are being completed right now; nothing was stored yet. Please reload this page "
                            + "in a moment."));
            case VALID -> installs.complete(app, code, state).map(c -> success(app, c.portalId()))
                    .onFailure().recoverWithItem(this::failurePage).map(r -> clearCookie(app, r));
            case EXPIRED -> Uni.createFrom().item(clearCookie(app, html(400, "Installation expired",
                    "More than 10 minutes passed since the install started. Please start it again.")));
            case OTHER_BROWSER -> Uni.createFrom().item(clearCookie(app, html(403, "Installation started elsewhere",
                    "This install was started in another browser (or its cookie was lost). Please start it again here.")));
            case UNKNOWN -> Uni.createFrom().item(clearCookie(app, html(400, "Invalid or used link",
                    "This install link is unknown or was already used. Please start the install again.")));
        }).onFailure().recoverWithItem(e -> clearCookie(app, failurePage(e)));
    }

    private Response clearCookie(String app, Response r) {
        return Response.fromResponse(r).cookie(cookie(app, "", 0)).build();
    }

    private Response success(String app, long portalId) {
        var successUrl = apps.require(app).successUrl();
        if (successUrl.isPresent()) {
            URI target = UriBuilder.fromUri(successUrl.get()).queryParam("app", app)
                    .queryParam("portalId", portalId).build();
            return Response.status(302).location(target).header("Cache-Control", "no-store").build();
        }
        return html(200, "Connected",
                "HubSpot portal " + portalId + " is now connected to " + app + ". You can close this window.");
    }

    private Response failurePage(Throwable e) {
        if (e instanceof InstallFailure f) {
            return html(f.status(), f.title(), f.getMessage());
        }
        if (e instanceof ApiException a) {
            if (a.status() >= 500) {
                LOG.errorf("install failed: %s", a.getMessage());
            }
            return html(a.status() == 503 ? 503 : a.status(), a.title(), a.getMessage());
        }
        LOG.errorf(dev.tokenvault.web.Redacted.of(e), "install failed unexpectedly");
        boolean keyService = e instanceof dev.tokenvault.crypto.KeyServiceUnavailableException;
        return html(503, "Temporarily unavailable", keyService
                ? "The key service is unavailable; nothing was stored. Please try again in a few minutes."
                : "The installation could not be completed; nothing was stored. Please try again in a few minutes.");
    }

    private NewCookie cookie(String app, String value, int maxAge) {
        boolean secure = "https".equalsIgnoreCase(config.publicBaseUrl().getScheme());
        return new NewCookie.Builder(COOKIE).value(value).path("/oauth/" + app + "/").httpOnly(true)
                .secure(secure).sameSite(NewCookie.SameSite.LAX).maxAge(maxAge).build();
    }

    private static Response html(int status, String title, String message) {
        return Response.status(status).type(MediaType.TEXT_HTML_TYPE.withCharset("utf-8"))
                .header("Cache-Control", "no-store")
                .header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
                .entity(Pages.page(title, message)).build();
    }

    private static String truncate(String s) {
        String clean = s.chars().filter(c -> c >= 0x20 && c < 0x7f).limit(60)
                .mapToObj(c -> String.valueOf((char) c)).collect(Collectors.joining());
        return clean;
    }
}
