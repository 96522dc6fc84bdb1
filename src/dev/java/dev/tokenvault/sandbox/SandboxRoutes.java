package dev.tokenvault.sandbox;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import org.jboss.logging.Logger;

import dev.tokenvault.config.PublicUrl;
import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.sandbox.HubSpotSimulator.SimRequest;
import dev.tokenvault.sandbox.HubSpotSimulator.SimResponse;
import io.quarkus.arc.properties.IfBuildProperty;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;

/**
 * Dev mode's HubSpot sandbox: the one {@link HubSpotSimulator} mounted under {@code /sandbox/hubspot} on the
 * service's own port, and a {@code /sandbox} page to revoke a portal's refresh token or uninstall the app (a
 * correctly v3-signed webhook to this service). Exists only in builds with {@code tokenvault.sandbox.enabled=true}
 * (the dev profile, and tests that ask for it); production builds do not contain these routes.
 */
@ApplicationScoped
@IfBuildProperty(name = "tokenvault.sandbox.enabled", stringValue = "true")
public class SandboxRoutes {

    private static final Logger LOG = Logger.getLogger(SandboxRoutes.class);
    public static final String MOUNT = "/sandbox/hubspot";
    /** The HubSpot app id the sandbox gives apps that do not configure one. */
    public static final long DEFAULT_APP_ID = 1_000_001;

    private final HubSpotSimulator simulator;
    private final TokenVaultConfig config;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    SandboxRoutes(TokenVaultConfig config) {
        this.config = config;
        this.simulator = new HubSpotSimulator()
                .accessTokenLifetime(config.sandbox().accessTokenLifetime())
                .defaultPortalId(config.sandbox().defaultPortalId());
        String base = PublicUrl.base(config);
        // one simulated HubSpot app per client id; the "default" app's settings win when apps share a client id
        java.util.List<String> names = new java.util.ArrayList<>(config.apps().keySet());
        names.sort(java.util.Comparator.comparing(n -> !n.equals("default")));
        names.forEach(name -> {
            TokenVaultConfig.App app = config.apps().get(name);
            if (app.clientId().isPresent() && app.clientSecret().isPresent()
                    && simulator.app(app.clientId().get()).isEmpty()) {
                simulator.registerApp(new HubSpotSimulator.App(app.clientId().get(), app.clientSecret().get(),
                        app.hubspotAppId().orElse(DEFAULT_APP_ID), List.of(base + "/oauth/"), Set.of(), Set.of()));
            }
        });
    }

    public HubSpotSimulator simulator() {
        return simulator;
    }

    void routes(@Observes Router router) {
        if (io.quarkus.runtime.LaunchMode.current() == io.quarkus.runtime.LaunchMode.NORMAL) {
            // built with tokenvault.sandbox.enabled=true and launched as a production application
            throw new IllegalStateException("this build contains the HubSpot sandbox (tokenvault.sandbox.enabled=true "
                    + "at build time): it is refused in production");
        }
        router.route(MOUNT + "/*").handler(BodyHandler.create().setBodyLimit(64 * 1024)).handler(this::simulate);
        router.get("/sandbox").handler(this::page);
        router.post("/sandbox/portals/:portalId/:action").handler(BodyHandler.create()).handler(this::act);
    }

    private void simulate(RoutingContext ctx) {
        String path = ctx.request().path().substring(MOUNT.length());
        Map<String, List<String>> query = HubSpotSimulator.parseQuery(ctx.request().query());
        Map<String, List<String>> headers = new LinkedHashMap<>();
        ctx.request().headers().forEach(h -> headers.computeIfAbsent(h.getKey(), k -> new ArrayList<>())
                .add(h.getValue()));
        byte[] body = ctx.body() == null || ctx.body().buffer() == null ? new byte[0]
                : ctx.body().buffer().getBytes();
        SimRequest request = new SimRequest(ctx.request().method().name(), path, query, headers, body, MOUNT);
        ctx.vertx().<SimResponse> executeBlocking(() -> simulator.handle(request), false)
                .onSuccess(r -> {
                    var response = ctx.response().setStatusCode(r.status());
                    r.headers().forEach(response::putHeader);
                    response.end(io.vertx.core.buffer.Buffer.buffer(r.body()));
                })
                .onFailure(ctx::fail);
    }

    private void page(RoutingContext ctx) {
        StringBuilder rows = new StringBuilder();
        for (long portal : simulator.portalIds().stream().sorted().toList()) {
            var p = simulator.portal(portal).orElseThrow();
            rows.append("<tr><td>").append(portal).append("</td><td>").append(esc(p.hubDomain()))
                    .append("</td><td>").append(simulator.tokenGeneration(portal)).append("</td><td>")
                    .append(simulator.activeRefreshTokens(portal).size()).append("</td><td>")
                    .append(button(portal, "revoke", "Revoke refresh token")).append(' ')
                    .append(button(portal, "uninstall", "Uninstall app")).append(' ')
                    .append(button(portal, "private-app-token", "New private-app token")).append(' ')
                    .append(button(portal, "service-key", "New service key")).append("</td></tr>\n");
        }
        String message = ctx.queryParams().get("done");
        String html = """
                <!doctype html><html lang="en"><head><meta charset="utf-8"><title>HubSpot sandbox</title>
                <style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#213343}
                table{border-collapse:collapse;width:100%%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}
                form{display:inline}.note{background:#eef;padding:.5rem}</style></head><body>
                <h1>HubSpot sandbox</h1>
                <p>A simulated HubSpot for trying the vault. <a href="/oauth/default/install">Install a portal</a> ·
                <a href="/">Home</a></p>%s
                <table><thead><tr><th>Portal</th><th>Domain</th><th>Token generations</th><th>Active refresh tokens</th><th></th></tr></thead>
                <tbody>%s</tbody></table>
                <p>Revoking makes the next refresh fail with <code>BAD_REFRESH_TOKEN</code>: the connection goes to
                <code>needs_reauth</code>. Uninstalling sends a v3-signed <code>app.uninstall</code> webhook to
                <code>/webhooks/default</code>. A new private-app token or service key is a static credential of that
                portal that the simulated CRM accepts; store it with <code>PUT /v1/apps/{app}/portals/{portalId}/static-token</code>
                (private-app tokens are checked with the simulated token-info endpoint).</p></body></html>
                """
                .formatted(message == null ? "" : "<p class=\"note\">" + esc(message) + "</p>",
                        rows.length() == 0 ? "<tr><td colspan=5>No portal yet: install one.</td></tr>" : rows);
        ctx.response().putHeader("Content-Type", "text/html; charset=utf-8").end(html);
    }

    private void act(RoutingContext ctx) {
        long portal;
        try {
            portal = Long.parseLong(ctx.pathParam("portalId"));
        } catch (NumberFormatException e) {
            ctx.response().setStatusCode(400).end("portal id must be a number");
            return;
        }
        String action = ctx.pathParam("action");
        if (simulator.portal(portal).isEmpty()) {
            ctx.response().setStatusCode(404).end("unknown sandbox portal");
            return;
        }
        switch (action) {
            case "revoke" -> {
                int n = simulator.revokeRefreshTokens(portal);
                redirect(ctx, "Revoked " + n + " refresh token(s) of portal " + portal);
            }
            case "uninstall" -> ctx.vertx().executeBlocking(() -> uninstall(portal), false)
                    .onSuccess(status -> redirect(ctx, "Uninstall webhook for portal " + portal + " answered " + status))
                    .onFailure(e -> redirect(ctx, "Uninstall webhook failed: " + e.getClass().getSimpleName()));
            case "private-app-token" -> redirect(ctx, "New private-app token of portal " + portal + ": "
                    + simulator.issuePrivateAppToken(portal) + " (kind private_app)");
            case "service-key" -> redirect(ctx, "New service key of portal " + portal + ": "
                    + simulator.issueServiceKey(portal) + " (kind service_key)");
            default -> ctx.response().setStatusCode(404).end("unknown action");
        }
    }

    /** Sends the signed {@code app.uninstall} webhook HubSpot would send, to this service's {@code default} app. */
    public int uninstall(long portal) throws Exception {
        String url = PublicUrl.of(config, "/webhooks/default");
        TokenVaultConfig.App app = config.apps().get("default");
        long appId = app == null ? DEFAULT_APP_ID : app.hubspotAppId().orElse(DEFAULT_APP_ID);
        var signed = simulator.signedUninstallWebhook(url, portal, appId);
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(signed.body()));
        signed.headers().forEach((k, v) -> {
            if (!k.equalsIgnoreCase("Content-Length") && !k.equalsIgnoreCase("Host")) {
                request.header(k, v);
            }
        });
        request.header("Content-Type", "application/json");
        int status = http.send(request.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        LOG.infof("sandbox: uninstall webhook for portal %d answered %d", portal, status);
        return status;
    }

    private static void redirect(RoutingContext ctx, String message) {
        ctx.response().setStatusCode(303)
                .putHeader("Location", "/sandbox?done=" + java.net.URLEncoder.encode(message,
                        java.nio.charset.StandardCharsets.UTF_8))
                .end();
    }

    private static String button(long portal, String action, String label) {
        return "<form method=\"post\" action=\"/sandbox/portals/" + portal + "/" + action + "\"><button>" + label
                + "</button></form>";
    }

    private static String esc(String s) {
        return s == null ? "" : s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
