package dev.tokenvault.refresh;

/** The connection needs a re-install: HubSpot rejected its refresh token (now or earlier). */
public class NeedsReauthException extends RuntimeException {
    public NeedsReauthException(String app, long portalId) {
        super("connection " + app + "/" + portalId + " needs re-authorization", null, false, false);
    }
}
