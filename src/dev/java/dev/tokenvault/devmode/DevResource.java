package dev.tokenvault.devmode;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import jakarta.enterprise.event.Observes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.logging.Logger;

import dev.tokenvault.callers.Caller;
import dev.tokenvault.config.PublicUrl;
import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.web.ApiException;
import io.quarkus.arc.properties.IfBuildProperty;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.jwt.build.Jwt;

/**
 * Dev-only conveniences: a home page and ready-made caller JWTs. Exists only in builds with
 * {@code tokenvault.sandbox.enabled=true}; production builds answer 404.
 */
@Path("/")
@Tag(name = "dev")
@IfBuildProperty(name = "tokenvault.sandbox.enabled", stringValue = "true")
public class DevResource {

    private static final Logger LOG = Logger.getLogger(DevResource.class);

    private final TokenVaultConfig config;

    DevResource(TokenVaultConfig config) {
        this.config = config;
    }

    void announce(@Observes StartupEvent event) {
        if (io.quarkus.runtime.LaunchMode.current() == io.quarkus.runtime.LaunchMode.NORMAL) {
            throw new IllegalStateException("this build contains the dev-only routes (tokenvault.sandbox.enabled=true "
                    + "at build time): they are refused in production");
        }
        String base = base();
        LOG.infof(
                "Dev mode: try the API with%n  curl -s -H \"Authorization: Bearer $(curl -s '%s/dev/caller-token')\" %s/v1/whoami"
                        + "%nHome page: %s/  Install a portal: %s/oauth/default/install  Sandbox: %s/sandbox",
                base, base, base,
                base, base);
    }

    @GET
    @Path("/dev/caller-token")
    @Produces(MediaType.TEXT_PLAIN)
    @Operation(summary = "A signed caller JWT for trying the API (dev mode only)")
    public String callerToken(@QueryParam("groups") String groups, @QueryParam("portals") String portals,
            @QueryParam("sub") String sub) {
        Set<String> groupSet = new LinkedHashSet<>();
        for (String g : split(groups, Caller.READ + "," + Caller.ADMIN + "," + Caller.PROXY)) {
            if (!g.equals(Caller.READ) && !g.equals(Caller.ADMIN) && !g.equals(Caller.PROXY)) {
                throw ApiException.badRequest("groups may contain tokens.read, tokens.admin and hubspot.proxy");
            }
            groupSet.add(g);
        }
        List<String> portalList = new ArrayList<>();
        for (String p : split(portals, Caller.ALL)) {
            if (!p.equals(Caller.ALL) && !p.matches("[1-9][0-9]{0,18}")) {
                throw ApiException.badRequest("portals is a comma-separated list of portal ids, or *");
            }
            portalList.add(p);
        }
        String subject = sub == null || sub.isBlank() ? "dev-caller" : sub.trim();
        if (!subject.matches("[A-Za-z0-9._@-]{1,64}")) {
            throw ApiException.badRequest("sub must be 1 to 64 letters, digits or ._@-");
        }
        return Jwt.subject(subject).groups(groupSet).claim("portals", portalList)
                .expiresIn(Duration.ofHours(12)).sign();
    }

    @GET
    @Produces(MediaType.TEXT_HTML)
    @Operation(summary = "Dev home page")
    public String home() {
        String base = base();
        String token = "$(curl -s " + base + "/dev/caller-token)";
        return """
                <!doctype html><html lang="en"><head><meta charset="utf-8"><title>tokenvault (dev)</title>
                <style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#213343}
                pre{background:#f4f4f6;padding:.6rem;overflow-x:auto}</style></head><body>
                <h1>tokenvault — dev mode</h1>
                <ul>
                <li><a id="install" href="/oauth/default/install">Install a portal</a> (through the built-in HubSpot sandbox)</li>
                <li><a href="/sandbox">Sandbox</a>: revoke a refresh token, uninstall the app</li>
                <li><a href="/q/swagger-ui">OpenAPI UI</a> · <a href="/q/openapi">OpenAPI document</a></li>
                <li>On the management port: <a href="%s/q/health">Health</a> · <a href="%s/q/metrics">Metrics</a></li>
                </ul>
                <h2>Hand-out</h2>
                <pre>curl -s -H "Authorization: Bearer %s" %s/v1/apps/default/portals/%d/token</pre>
                <h2>Forced refresh</h2>
                <pre>curl -s -X POST -H "Authorization: Bearer %s" %s/v1/apps/default/portals/%d/token/refresh</pre>
                </body></html>
                """
                .formatted(management(), management(), token, base, config.sandbox().defaultPortalId(), token, base,
                        config.sandbox().defaultPortalId());
    }

    /** Health and metrics are on the management interface's own port. */
    private static String management() {
        var c = org.eclipse.microprofile.config.ConfigProvider.getConfig();
        boolean test = io.quarkus.runtime.LaunchMode.current() == io.quarkus.runtime.LaunchMode.TEST;
        int port = c.getOptionalValue(test ? "quarkus.management.test-port" : "quarkus.management.port", Integer.class)
                .orElse(test ? 9001 : 9000);
        return "http://localhost:" + port;
    }

    private String base() {
        return PublicUrl.base(config);
    }

    private static List<String> split(String raw, String defaults) {
        String value = raw == null || raw.isBlank() ? defaults : raw;
        List<String> out = new ArrayList<>();
        for (String part : value.split(",")) {
            if (!part.isBlank()) {
                out.add(part.trim());
            }
        }
        return out;
    }
}
