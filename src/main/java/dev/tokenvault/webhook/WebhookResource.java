package dev.tokenvault.webhook;

import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.UriInfo;

import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.logging.Logger;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.config.Apps;
import dev.tokenvault.config.PublicUrl;
import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.connection.ErasureService;
import dev.tokenvault.hubspot.AppCredentials;
import dev.tokenvault.web.ApiException;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;

/**
 * Receives HubSpot webhook batches. Only requests with a valid signature are processed (v3; v1/v2 when the app
 * allows them); an app uninstall erases the portal's connection. Unknown event types are acknowledged and ignored;
 * duplicates and replays are harmless because erasure is idempotent.
 */
@Path("/webhooks/{app}")
@Tag(name = "webhooks", description = "HubSpot webhooks")
public class WebhookResource {

    private static final Logger LOG = Logger.getLogger(WebhookResource.class);
    /** HubSpot's event type id of the app-uninstall lifecycle event. */
    static final String UNINSTALL_EVENT_TYPE_ID = "4-1916193";

    private final Apps apps;
    private final AppCredentials credentials;
    private final ErasureService erasure;
    private final AuditLog audit;
    private final TokenVaultConfig config;
    private final HubSpotSignatureVerifier verifier;
    private final ObjectMapper json;

    WebhookResource(Apps apps, AppCredentials credentials, ErasureService erasure, AuditLog audit,
            TokenVaultConfig config, InstantSource clock, ObjectMapper json) {
        this.apps = apps;
        this.credentials = credentials;
        this.erasure = erasure;
        this.audit = audit;
        this.config = config;
        this.json = json;
        this.verifier = new HubSpotSignatureVerifier(clock, HubSpotSignatureVerifier.DEFAULT_WINDOW);
    }

    public record Receipt(int events, int uninstalls) {
    }

    @POST
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "HubSpot webhook batch (signed by HubSpot)")
    public Uni<Receipt> receive(@PathParam("app") String app, byte[] body, @Context HttpHeaders headers,
            @Context UriInfo uri) {
        TokenVaultConfig.App conf = apps.require(app);
        HubSpotSignatureVerifier.Request request = new HubSpotSignatureVerifier.Request("POST", calledUri(uri), body,
                headers.getRequestHeaders());
        return credentials.webhookSecrets(app).chain(secrets -> {
            HubSpotSignatureVerifier.Result first = verifier.verify(request, secrets, conf.allowLegacySignatures());
            if (first != HubSpotSignatureVerifier.Result.INVALID || !credentials.fromVault(app)) {
                return Uni.createFrom().item(first);
            }
            // the secret may have been rotated in Vault since it was read: read it again (rate-limited) and retry
            credentials.signatureMismatch(app);
            return credentials.webhookSecrets(app)
                    .map(fresh -> verifier.verify(request, fresh, conf.allowLegacySignatures()));
        }).chain(result -> {
            if (!result.isValid()) {
                LOG.debugf("webhook for %s refused: %s", app, result);
                audit.recordIfAccepting(null, app, null, "webhook.receive", "refused", result.name());
                throw new ApiException(401, "invalid-signature", "Invalid webhook signature",
                        "the request is not signed by HubSpot for this app (" + describe(result) + ")", null, null,
                        null);
            }
            JsonNode events = parse(body);
            List<Long> uninstalls = uninstalledPortals(events);
            return Multi.createFrom().iterable(uninstalls)
                    .onItem().transformToUniAndConcatenate(portal -> erasure.erase(app, portal, null, "app.uninstall"))
                    .collect().asList()
                    .map(done -> new Receipt(events.size(), uninstalls.size()));
        });
    }

    private String calledUri(UriInfo uri) {
        String query = uri.getRequestUri().getRawQuery();
        return PublicUrl.of(config, uri.getRequestUri().getRawPath() + (query == null ? "" : "?" + query));
    }

    /** Portals whose uninstall the batch announces, each once, in order. */
    static List<Long> uninstalledPortals(JsonNode events) {
        Set<Long> portals = new LinkedHashSet<>();
        for (JsonNode event : events) {
            if (!event.isObject() || !isUninstall(event)) {
                continue;
            }
            JsonNode portal = event.has("portalId") ? event.get("portalId") : event.get("portal_id");
            long id = portal == null ? -1 : portal.canConvertToLong() ? portal.asLong() : parseLong(portal.asText());
            if (id > 0) {
                portals.add(id);
            } else {
                throw ApiException.badRequest("an uninstall event has no valid portalId");
            }
        }
        return new ArrayList<>(portals);
    }

    static boolean isUninstall(JsonNode event) {
        String type = text(event, "subscriptionType");
        if ("app.uninstall".equalsIgnoreCase(type)) {
            return true;
        }
        boolean lifecycle = "APP_LIFECYCLE_EVENT".equalsIgnoreCase(type)
                || "APP_LIFECYCLE_EVENT".equalsIgnoreCase(text(event, "eventType"));
        if (!lifecycle) {
            return false;
        }
        for (String field : new String[] { "action", "type", "changeType", "eventType", "lifecycleEventType",
                "eventTypeName" }) {
            String v = text(event, field);
            if (v != null && v.toUpperCase(Locale.ROOT).contains("APP_UNINSTALL")) {
                return true;
            }
        }
        return UNINSTALL_EVENT_TYPE_ID.equals(text(event, "eventTypeId"));
    }

    private JsonNode parse(byte[] body) {
        try {
            JsonNode node = json.readTree(body);
            if (node == null || !node.isArray()) {
                throw ApiException.badRequest("a HubSpot webhook body is a JSON array of events");
            }
            return node;
        } catch (java.io.IOException e) {
            throw ApiException.badRequest("the webhook body is not valid JSON");
        }
    }

    private static String text(JsonNode node, String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }

    private static long parseLong(String s) {
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static String describe(HubSpotSignatureVerifier.Result result) {
        return switch (result) {
            case MISSING_SIGNATURE -> "no signature header";
            case BAD_TIMESTAMP -> "missing or malformed X-HubSpot-Request-Timestamp";
            case STALE -> "timestamp older than 5 minutes";
            case FUTURE -> "timestamp more than 5 minutes ahead";
            default -> "signature does not match";
        };
    }
}
