package dev.tokenvault.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import dev.tokenvault.budget.BudgetKind;
import dev.tokenvault.web.ApiException;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Path checks of the HubSpot proxy: nothing that could be normalised to another path, never /oauth. */
class ProxyPathTest {

    static final Optional<List<String>> ANY = Optional.empty();

    static int status(String method, String raw, String query, Optional<List<String>> allowed) {
        try {
            ProxyPath.of(method, raw, query, allowed);
            return 200;
        } catch (ApiException e) {
            return e.status();
        }
    }

    @Test
    void ordinaryPathsPassUnchangedWithTheirQuery() {
        ProxyPath p = ProxyPath.of("GET", "/crm/v3/objects/contacts", "limit=10&after=abc%20d", ANY);
        assertThat(p.pathAndQuery()).isEqualTo("/crm/v3/objects/contacts?limit=10&after=abc%20d");
        assertThat(p.budget()).isEqualTo(BudgetKind.GENERAL);
        assertThat(ProxyPath.of("GET", "/contacts/v1/contact/email/a%40b.com/profile", null, ANY).pathAndQuery())
                .isEqualTo("/contacts/v1/contact/email/a%40b.com/profile");
        assertThat(ProxyPath.of("GET", "/crm/v3/objects/contacts/", null, ANY).path()).endsWith("/");
    }

    @Test
    void searchHasItsOwnBudget() {
        assertThat(ProxyPath.of("POST", "/crm/v3/objects/deals/search", null, ANY).budget())
                .isEqualTo(BudgetKind.SEARCH);
        assertThat(ProxyPath.of("GET", "/crm/v3/objects/deals/search", null, ANY).budget())
                .isEqualTo(BudgetKind.GENERAL);
        assertThat(ProxyPath.of("POST", "/crm/v3/objects/deals/batch/read", null, ANY).budget())
                .isEqualTo(BudgetKind.GENERAL);
    }

    @Test
    void pathTricksAre400() {
        for (String raw : List.of("", "/", "crm/v3", "/crm/../oauth/v1/token", "/crm/./v3", "/crm/v3/..",
                "/crm//v3", "//oauth/v1/token", "/crm/%2e%2e/oauth", "/crm/%2E%2E/oauth", "/crm%2fv3", "/crm%2Fv3",
                "/crm%5cv3", "/crm\\v3", "/crm/v3%00", "/crm/%252e%252e/x", "/crm/v3 x", "/crm/v3\tx",
                "/crm/v3/\u00e9")) {
            assertThat(status("GET", raw, null, ANY)).as(raw).isEqualTo(400);
        }
        assertThat(status("GET", "/crm/v3/objects", "a=b\r\nX-Injected: 1", ANY)).isEqualTo(400);
    }

    @Test
    void hubSpotsOAuthEndpointsAreNeverReachable() {
        for (String raw : List.of("/oauth", "/oauth/", "/oauth/v1/token", "/OAuth/v1/access-tokens/x",
                "/oauth/2026-03/token/introspect", "/OAUTH/v1/refresh-tokens/abc")) {
            assertThat(status("POST", raw, null, ANY)).as(raw).isEqualTo(403);
        }
        assertThat(status("GET", "/oauthish/v1", null, ANY)).isEqualTo(200);
        // spellings a decoding server reads as /oauth: encoded unreserved characters, path parameters
        for (String raw : List.of("/%6Fauth/v1/token", "/o%61uth/v1/token", "/%4Fauth/v1/token", "/oauth;x/v1/token",
                "/crm/v3/%41bc", "/crm/v3/abc%4", "/crm/v3/abc%zz")) {
            assertThat(status("POST", raw, null, ANY)).as(raw).isEqualTo(400);
        }
    }

    @Test
    void anAllowListLimitsThePrefixesOnSegmentBoundaries() {
        Optional<List<String>> allowed = Optional.of(List.of("/crm/v3/objects/contacts", "files/v3/"));
        assertThat(status("GET", "/crm/v3/objects/contacts", null, allowed)).isEqualTo(200);
        assertThat(status("GET", "/crm/v3/objects/contacts/12", null, allowed)).isEqualTo(200);
        assertThat(status("GET", "/files/v3/files", null, allowed)).isEqualTo(200);
        assertThat(status("GET", "/crm/v3/objects/contactsX", null, allowed)).isEqualTo(403);
        assertThat(status("GET", "/crm/v3/objects/deals", null, allowed)).isEqualTo(403);
        assertThatThrownBy(() -> ProxyPath.of("GET", "/crm/v3/objects/deals/123/associations", null, allowed))
                .hasMessageContaining("/crm/v3/objects/deals").hasMessageNotContaining("123");
    }

    @Provide
    Arbitrary<String> segments() {
        return Arbitraries.strings().withCharRange('!', '~').ofMinLength(0).ofMaxLength(12).list().ofMinSize(1)
                .ofMaxSize(6).map(list -> "/" + String.join("/", list));
    }

    /** Whatever passes names no dot segment, no empty segment, nothing encoded to a separator, and never /oauth. */
    @Property(tries = 2000)
    void whatPassesCannotBeNormalisedElsewhere(@ForAll("segments") String raw) {
        ProxyPath p;
        try {
            p = ProxyPath.of("GET", raw, null, ANY);
        } catch (ApiException e) {
            assertThat(e.status()).isIn(400, 403);
            return;
        }
        String lower = p.path().toLowerCase();
        assertThat(lower).doesNotContain("%2e", "%2f", "%5c", "%00", "%25", "\\", "//");
        assertThat(List.of(lower.substring(1).split("/", -1))).doesNotContain(".", "..");
        assertThat(lower.equals("/oauth") || lower.startsWith("/oauth/")).isFalse();
        assertThat(p.path()).isEqualTo(raw);
    }

    @Test
    void auditRecordsShowAtMostFourSegments() {
        assertThat(ProxyPath.firstSegments("/contacts/v1/contact/email/a%40b.com/profile"))
                .isEqualTo("/contacts/v1/contact/email");
        assertThat(ProxyPath.firstSegments("/crm/v3")).isEqualTo("/crm/v3");
    }
}
