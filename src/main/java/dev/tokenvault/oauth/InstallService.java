package dev.tokenvault.oauth;

import java.net.URI;
import java.time.InstantSource;

import jakarta.enterprise.context.ApplicationScoped;

import org.jboss.logging.Logger;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.config.Apps;
import dev.tokenvault.config.PublicUrl;
import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.connection.Connection;
import dev.tokenvault.connection.ConnectionService;
import dev.tokenvault.connection.ConnectionService.OAuthInstall;
import dev.tokenvault.hubspot.AppCredentials;
import dev.tokenvault.hubspot.ClientCredentials;
import dev.tokenvault.hubspot.HubSpotException;
import dev.tokenvault.hubspot.HubSpotOAuthClient;
import dev.tokenvault.hubspot.TokenGrant;
import dev.tokenvault.hubspot.TokenInfo;
import io.smallrye.mutiny.Uni;

/**
 * Completes an install: exchanges the code (once, never retried), introspects the access token to learn the portal,
 * checks it was issued for this app, and stores the connection sealed. Nothing is stored unless every step succeeds.
 */
@ApplicationScoped
public class InstallService {

    private static final Logger LOG = Logger.getLogger(InstallService.class);

    private final HubSpotOAuthClient hubspot;
    private final AppCredentials credentials;
    private final ConnectionService connections;
    private final Apps apps;
    private final TokenVaultConfig config;
    private final AuditLog audit;
    private final InstantSource clock;

    InstallService(HubSpotOAuthClient hubspot, AppCredentials credentials, ConnectionService connections, Apps apps,
            TokenVaultConfig config, AuditLog audit, InstantSource clock) {
        this.hubspot = hubspot;
        this.credentials = credentials;
        this.connections = connections;
        this.apps = apps;
        this.config = config;
        this.audit = audit;
        this.clock = clock;
    }

    /** {@code {public-base-url}/oauth/{app}/callback}. */
    public URI redirectUri(String app) {
        return URI.create(PublicUrl.of(config, "/oauth/" + app + "/callback"));
    }

    /** Where a portal admin starts (or restarts) an install. */
    public URI installUrl(String app) {
        return URI.create(PublicUrl.of(config, "/oauth/" + app + "/install"));
    }

    /** Completes the install of a valid {@code state}: its PKCE verifier goes with the code exchange. */
    Uni<Connection> complete(String app, String code, String state) {
        Long expectedAppId = apps.require(app).hubspotAppId().isPresent()
                ? apps.require(app).hubspotAppId().getAsLong()
                : null;
        return credentials.require(app).chain(client -> hubspot.exchangeCode(client, code, redirectUri(app),
                OAuthStateStore.pkceVerifier(client.clientSecret(), app, state))
                .onFailure(HubSpotException.class).invoke(e -> {
                    if (((HubSpotException) e).kind() == HubSpotException.Kind.BAD_CLIENT) {
                        credentials.rejected(app);
                    }
                })
                .onFailure(HubSpotException.class).transform(e -> exchangeFailed((HubSpotException) e))
                .chain(grant -> introspect(client, grant).map(info -> toInstall(app, grant, info, expectedAppId))
                        .chain(connections::storeOAuthInstall)
                        // nothing stored: do not leave a live grant behind at HubSpot
                        .onFailure().call(e -> revokeQuietly(client, grant))))
                .invoke(c -> {
                    audit.record(null, app, c.portalId(), "oauth.install", "ok", c.hubDomain() == null ? null
                            : "scopes=" + String.join(" ", c.scopes()));
                    LOG.infof("installed app %s for portal %d", app, c.portalId());
                })
                .onFailure().invoke(e -> audit.recordIfAccepting(null, app, null, "oauth.install", "failed",
                        e instanceof InstallFailure f ? f.title() : e.getClass().getSimpleName()));
    }

    private Uni<Void> revokeQuietly(ClientCredentials client, TokenGrant grant) {
        if (grant.refreshToken() == null || grant.refreshToken().isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return hubspot.revokeRefreshToken(client, grant.refreshToken())
                .onFailure().invoke(e -> LOG.warnf("could not revoke the refresh token of an install that was not "
                        + "stored (%s)", e.getMessage()))
                .onFailure().recoverWithNull().replaceWithVoid();
    }

    private Uni<TokenInfo> introspect(ClientCredentials client, TokenGrant grant) {
        return hubspot.introspect(client, grant.accessToken())
                .onFailure(HubSpotException.class).transform(e -> {
                    HubSpotException h = (HubSpotException) e;
                    if (h.kind() == HubSpotException.Kind.BUSY) {
                        return new InstallFailure(503, "Too many installs at once", "Too many installs are being "
                                + "completed right now; nothing was stored. Please start the install again in a moment.");
                    }
                    return h.kind() == HubSpotException.Kind.TIMEOUT
                            ? new InstallFailure(504, "HubSpot did not answer in time",
                                    "HubSpot did not answer while we looked up the portal. Please start the install again.")
                            : new InstallFailure(502, "HubSpot is unavailable",
                                    "HubSpot could not tell which portal was connected (" + h.getMessage()
                                            + "). Please start the install again.");
                });
    }

    private OAuthInstall toInstall(String app, TokenGrant grant, TokenInfo info, Long expectedAppId) {
        Long hubId = info.hubId() != null ? info.hubId() : grant.hubId();
        if (!info.active() || hubId == null || hubId <= 0) {
            throw new InstallFailure(502, "HubSpot answered unexpectedly",
                    "HubSpot did not confirm which portal the new token belongs to. Please start the install again.");
        }
        if (expectedAppId != null && !expectedAppId.equals(info.appId())) {
            LOG.warnf("install for app %s refused: token issued for HubSpot app %s, expected %d", app, info.appId(),
                    expectedAppId);
            throw new InstallFailure(400, "Token issued for another app",
                    "HubSpot issued this token for another app than the one configured here; nothing was stored.");
        }
        if (grant.refreshToken() == null || grant.refreshToken().isEmpty()) {
            throw new InstallFailure(502, "HubSpot answered unexpectedly",
                    "HubSpot did not return a refresh token; nothing was stored. Please start the install again.");
        }
        return new OAuthInstall(app, hubId, grant.accessToken(), grant.refreshToken(), grant.expiresIn(),
                info.scopes().isEmpty() && grant.scopes() != null ? grant.scopes() : info.scopes(), info.hubDomain(),
                info.user(), info.appId(), clock.instant());
    }

    private static InstallFailure exchangeFailed(HubSpotException e) {
        return switch (e.kind()) {
            case BAD_AUTH_CODE -> new InstallFailure(400, "Authorization code not accepted",
                    "HubSpot did not accept the authorization code: it was already used or has expired. "
                            + "Please start the install again.");
            case BAD_CLIENT -> new InstallFailure(502, "App credentials rejected",
                    "HubSpot rejected this app's client credentials. An operator must check the app configuration.");
            case TIMEOUT -> new InstallFailure(504, "HubSpot did not answer in time",
                    "HubSpot did not answer the code exchange in time; nothing was stored. Please start the install again.");
            case BUSY -> new InstallFailure(503, "Too many installs at once",
                    "Too many installs are being completed right now; nothing was stored. Please start the install "
                            + "again in a moment.");
            case RATE_LIMITED, UNAVAILABLE -> new InstallFailure(502, "HubSpot is unavailable",
                    "HubSpot could not complete the install right now; nothing was stored. Please try again in a few minutes.");
            default -> new InstallFailure(502, "HubSpot refused the install",
                    "HubSpot refused the code exchange (" + e.hubspotStatus() + "); nothing was stored.");
        };
    }
}
