package dev.tokenvault.testing;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.tokenvault.sandbox.HubSpotSimulator;
import io.restassured.response.Response;

/**
 * Walks the browser side of an install like a cookie-keeping browser: start at the vault, approve (or deny) on the
 * simulator's consent form, follow the redirect back to the vault's callback.
 */
public final class InstallFlow {

    public static final String COOKIE = "tokenvault_oauth";

    /** The vault's redirect to the consent screen, with the state cookie it set. */
    public record Started(Response response, URI consent, Map<String, String> params, String cookie) {
    }

    private InstallFlow() {
    }

    public static Started start(String app) {
        Response r = given().redirects().follow(false).get("/oauth/" + app + "/install");
        assertThat(r.statusCode()).as("install redirect").isEqualTo(302);
        URI consent = URI.create(r.header("Location"));
        Map<String, String> params = new HashMap<>();
        HubSpotSimulator.parseQuery(consent.getRawQuery()).forEach((k, v) -> params.put(k, v.get(0)));
        return new Started(r, consent, params, r.getCookie(COOKIE));
    }

    /** Submits the consent form; returns the callback URL HubSpot redirects to. */
    public static URI consent(Started started, long portalId, String action) {
        Map<String, String> form = new HashMap<>(started.params());
        form.put("portal_id", Long.toString(portalId));
        form.put("action", action);
        Response r = given().redirects().follow(false).baseUri(FakeHubSpotResource.hubspot().baseUrl())
                .contentType("application/x-www-form-urlencoded").formParams(form).post("/oauth/authorize");
        assertThat(r.statusCode()).as("consent redirect: " + r.asString()).isEqualTo(302);
        return URI.create(r.header("Location"));
    }

    /** Calls the vault's callback as the browser would (with the given cookie, or none). */
    public static Response callback(URI callback, String cookie) {
        var req = given().redirects().follow(false);
        if (cookie != null) {
            req.cookie(COOKIE, cookie);
        }
        return req.get(callback.getRawPath() + "?" + callback.getRawQuery());
    }

    /**
     * The whole flow: start, allow, callback. A callback the vault answers 503 because it is completing too many
     * installs this second (tokenvault.oauth.callbacks-per-second) is reloaded, as its page asks a user to do.
     */
    public static Response install(String app, long portalId) {
        Started s = start(app);
        URI callback = consent(s, portalId, "allow");
        Response r = callback(callback, s.cookie());
        for (int reloads = 0; r.statusCode() == 503 && r.asString().contains("Too many installs") && reloads < 50; reloads++) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            r = callback(callback, s.cookie());
        }
        return r;
    }

    public static List<String> scopes(Started s) {
        return List.of(s.params().get("scope").split(" "));
    }
}
