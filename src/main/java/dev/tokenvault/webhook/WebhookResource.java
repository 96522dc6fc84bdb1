package dev.tokenvault.webhook;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;

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

import com.fasterxml.jackson.core.JsonParser;
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
 * allows them); an app uninstall erases the portal's connection. Unknown event types are acknowledged and ignored.
 * Replays are harmless: every replica remembers processed deliveries (by signature and timestamp) and uninstall
 * events (by portal, event id and occurrence time), answers them 200 without acting, ignores an uninstall that
 * occurred before the connection was installed, and one whose {@code appId} is not the app's configured
 * {@code hubspot-app-id}.
 */
@Path("/webhooks/{app}")
@Tag(name = "webhooks", description = "HubSpot webhooks")
public class WebhookResource {

    private static final Logger LOG = Logger.getLogger(WebhookResource.class);
    /** The largest future skew an operator may allow: the past window. */
    static final Duration MAX_FUTURE_SKEW = HubSpotSignatureVerifier.DEFAULT_WINDOW;

    private final Apps apps;
    private final AppCredentials credentials;
    private final ErasureService erasure;
    private final AuditLog audit;
    private final TokenVaultConfig config;
    private final HubSpotSignatureVerifier verifier;
    private final WebhookDeliveries deliveries;
    private final ObjectMapper json;

    WebhookResource(Apps apps, AppCredentials credentials, ErasureService erasure, AuditLog audit,
            TokenVaultConfig config, InstantSource clock, ObjectMapper json, WebhookDeliveries deliveries) {
        this.apps = apps;
        this.credentials = credentials;
        this.erasure = erasure;
        this.audit = audit;
        this.config = config;
        this.deliveries = deliveries;
        this.json = json.copy().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
        this.verifier = new HubSpotSignatureVerifier(clock, HubSpotSignatureVerifier.DEFAULT_WINDOW,
                futureSkew(config));
    }

    /** The configured future skew; refused at start-up (naming the key) when negative or above 5 minutes. */
    static Duration futureSkew(TokenVaultConfig config) {
        Duration skew = config.webhooks().maxFutureSkew();
        if (skew.isNegative() || skew.compareTo(MAX_FUTURE_SKEW) > 0) {
            throw new IllegalStateException("tokenvault.webhooks.max-future-skew must be between 0 and 5M, not " + skew);
        }
        return skew;
    }

    /**
     * What a batch did.
     *
     * @param events events in the batch
     * @param uninstalls uninstall events acted on (erased, or nothing to erase)
     * @param ignored uninstall events not acted on: already processed, stale, for another app id, or invalid
     * @param replay whether the whole delivery was a replay (then nothing was looked at)
     */
    public record Receipt(int events, int uninstalls, int ignored, boolean replay) {
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
            byte[] key = HubSpotSignatureVerifier.deliveryKey(request);
            if (key == null) {
                // cannot happen for a request verify() accepted; refuse rather than process without replay defence
                throw new IllegalStateException("a verified webhook has no delivery key");
            }
            Duration retention = result == HubSpotSignatureVerifier.Result.VALID_V3
                    ? WebhookDeliveries.DELIVERY_RETENTION
                    : WebhookDeliveries.EVENT_RETENTION;
            return deliveries.claimDelivery(app, key, retention).chain(first -> {
                if (!first) {
                    LOG.debugf("webhook for %s: a replayed delivery, acknowledged without acting", app);
                    audit.recordIfAccepting(null, app, null, "webhook.receive", "replay", null);
                    return Uni.createFrom().item(new Receipt(events.size(), 0, 0, true));
                }
                return process(app, conf, events)
                        .onFailure().call(e -> deliveries.releaseDelivery(app, key)
                                .onFailure().invoke(again -> LOG.debugf("webhook for %s: the delivery claim could "
                                        + "not be released (%s); a resend is taken for a replay until it expires", app,
                                        again.getClass().getSimpleName()))
                                .onFailure().recoverWithNull());
            });
        });
    }

    /** Acts on the batch's uninstall events, one after another. */
    private Uni<Receipt> process(String app, TokenVaultConfig.App conf, JsonNode events) {
        List<WebhookEvent> uninstalls = new ArrayList<>();
        int ignored = 0;
        for (JsonNode node : events) {
            WebhookEvent event = WebhookEvent.parse(node);
            if (!event.uninstall()) {
                continue;
            }
            String refusal = refusal(event, conf);
            if (refusal != null) {
                ignored++;
                LOG.debugf("webhook for %s: uninstall event ignored, %s", app, refusal);
                audit.record(null, app, event.portalId() > 0 ? event.portalId() : null, "webhook.event", "ignored",
                        refusal);
            } else {
                uninstalls.add(event);
            }
        }
        int refused = ignored;
        return Multi.createFrom().iterable(uninstalls)
                .onItem().transformToUniAndConcatenate(event -> uninstall(app, event))
                .collect().asList()
                .map(done -> {
                    int acted = (int) done.stream().filter(Boolean::booleanValue).count();
                    return new Receipt(events.size(), acted, refused + done.size() - acted, false);
                });
    }

    /** Why an uninstall event is not acted on, or null. */
    static String refusal(WebhookEvent event, TokenVaultConfig.App conf) {
        if (event.invalid() != null) {
            return event.invalid();
        }
        if (conf.hubspotAppId().isPresent() && event.appId() != conf.hubspotAppId().getAsLong()) {
            return event.appId() < 0 ? "no appId, and the app's hubspot-app-id is configured"
                    : "appId " + event.appId() + " is not the configured hubspot-app-id";
        }
        return null;
    }

    /** Erases the portal unless this event was processed before; true when acted on (erased or absent). */
    private Uni<Boolean> uninstall(String app, WebhookEvent event) {
        byte[] key = WebhookDeliveries.eventKey(event.portalId(), event.eventId(), event.occurredAt());
        return deliveries.eventSeen(app, key).chain(seen -> {
            if (seen) {
                LOG.debugf("webhook for %s: uninstall event %d of portal %d already processed", app, event.eventId(),
                        event.portalId());
                audit.record(null, app, event.portalId(), "webhook.event", "duplicate", "app.uninstall");
                return Uni.createFrom().item(false);
            }
            return erasure.eraseUninstalled(app, event.portalId(), Instant.ofEpochMilli(event.occurredAt()))
                    .call(outcome -> deliveries.rememberEvent(app, key))
                    .map(outcome -> outcome != ErasureService.Outcome.STALE);
        });
    }

    private String calledUri(UriInfo uri) {
        String query = uri.getRequestUri().getRawQuery();
        return PublicUrl.of(config, uri.getRequestUri().getRawPath() + (query == null ? "" : "?" + query));
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

    private static String describe(HubSpotSignatureVerifier.Result result) {
        return switch (result) {
            case MISSING_SIGNATURE -> "no signature header";
            case BAD_TIMESTAMP -> "missing or malformed X-HubSpot-Request-Timestamp";
            case STALE -> "timestamp older than 5 minutes";
            case FUTURE -> "timestamp ahead of this service's clock by more than tokenvault.webhooks.max-future-skew";
            default -> "signature does not match";
        };
    }
}
