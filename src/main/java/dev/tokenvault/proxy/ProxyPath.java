package dev.tokenvault.proxy;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

import dev.tokenvault.budget.BudgetKind;
import dev.tokenvault.web.ApiException;

/**
 * The HubSpot path a proxied call names, checked before anything else happens. The path is kept exactly as the
 * caller sent it (percent-encoding untouched, so HubSpot sees the same bytes), and refused when it could mean
 * something else to a server that normalises: a {@code .} or {@code ..} segment, an encoded dot, slash or backslash,
 * an empty segment ({@code //}), a backslash, a control character or a NUL. What remains can only be under the proxy
 * prefix; then {@code /oauth} (any case) is refused, so the proxy can never introspect, refresh or revoke tokens, and
 * so is anything outside the app's {@code proxy.allowed-paths}.
 */
record ProxyPath(String path, String query, BudgetKind budget) {

    /** The part to append to {@code api-base-url}. */
    String pathAndQuery() {
        return query == null || query.isEmpty() ? path : path + "?" + query;
    }

    /**
     * @param raw the path after {@code .../hubspot}, as received (starting with {@code /}), percent-encoded
     * @param query the raw query string, or null
     */
    static ProxyPath of(String method, String raw, String query, Optional<List<String>> allowedPrefixes) {
        if (raw == null || raw.isEmpty() || raw.equals("/")) {
            throw ApiException.badRequest("name a HubSpot API path after /hubspot, e.g. /hubspot/crm/v3/objects/contacts");
        }
        if (raw.charAt(0) != '/') {
            throw ApiException.badRequest("the HubSpot path must start with /");
        }
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c < 0x21 || c == 0x7f || c == '\\' || c > 0x7e) {
                throw ApiException.badRequest("the HubSpot path holds a character that is not allowed unencoded");
            }
        }
        String lower = raw.toLowerCase(Locale.ROOT);
        for (String encoded : List.of("%2e", "%2f", "%5c", "%00", "%25")) {
            if (lower.contains(encoded)) {
                throw ApiException.badRequest("the HubSpot path holds an encoded dot, slash, backslash, NUL or percent "
                        + "sign, which could be normalised to another path");
            }
        }
        for (int i = lower.indexOf('%'); i >= 0; i = lower.indexOf('%', i + 1)) {
            // an encoded unreserved character (%6F for 'o') means the same path to a server that decodes it (RFC 3986
            // 6.2.2.2): /%6Fauth is /oauth
            if (i + 2 >= lower.length() || unreserved(lower.charAt(i + 1), lower.charAt(i + 2))) {
                throw ApiException.badRequest("the HubSpot path holds a percent-encoded letter, digit or -._~, or a "
                        + "truncated escape: write it unencoded");
            }
        }
        if (raw.indexOf(';') >= 0) {
            // path parameters (/oauth;x/...) are stripped by some servers before routing
            throw ApiException.badRequest("the HubSpot path must not hold ';'");
        }
        String[] segments = raw.substring(1).split("/", -1);
        for (int i = 0; i < segments.length; i++) {
            String s = segments[i];
            if (s.equals(".") || s.equals("..")) {
                throw ApiException.badRequest("the HubSpot path must not hold . or .. segments");
            }
            if (s.isEmpty() && i < segments.length - 1) {
                throw ApiException.badRequest("the HubSpot path must not hold empty segments (//)");
            }
        }
        if (query != null) {
            for (int i = 0; i < query.length(); i++) {
                char c = query.charAt(i);
                if (c < 0x21 || c == 0x7f || c > 0x7e) {
                    throw ApiException.badRequest("the query string holds a character that is not allowed unencoded");
                }
            }
        }
        if (lower.equals("/oauth") || lower.startsWith("/oauth/")) {
            throw ApiException.forbidden("the proxy never calls HubSpot's OAuth endpoints");
        }
        if (allowedPrefixes.isPresent() && allowedPrefixes.get().stream().map(ProxyPath::prefix)
                .noneMatch(p -> raw.equals(p) || raw.startsWith(p.endsWith("/") ? p : p + "/"))) {
            throw ApiException.forbidden("this app's proxy.allowed-paths do not include " + firstSegments(raw));
        }
        boolean search = "POST".equals(method) && segments.length == 5 && segments[0].equals("crm")
                && segments[1].equals("v3") && segments[2].equals("objects") && segments[4].equals("search");
        return new ProxyPath(raw, query, search ? BudgetKind.SEARCH : BudgetKind.GENERAL);
    }

    private static boolean unreserved(char hi, char lo) {
        int h = Character.digit(hi, 16);
        int l = Character.digit(lo, 16);
        if (h < 0 || l < 0) {
            return true; // not an escape at all
        }
        char c = (char) (h * 16 + l);
        return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.'
                || c == '_' || c == '~';
    }

    private static String prefix(String configured) {
        String p = configured.strip();
        return p.startsWith("/") ? p : "/" + p;
    }

    /** At most the first four segments: what audit records and messages show of a path (ids deeper in may be personal). */
    static String firstSegments(String path) {
        int slashes = 0;
        for (int i = 0; i < path.length(); i++) {
            if (path.charAt(i) == '/' && ++slashes == 5) {
                return path.substring(0, i);
            }
        }
        return path;
    }
}
