package dev.tokenvault.web;

/** Parsing of path and query parameters into typed values, with a 400 that says what is wrong. */
public final class Params {

    private Params() {
    }

    /**
     * The one spelling of a positive 64-bit id: ASCII digits only, no sign, no leading zero, no spaces, at most
     * {@code Long.MAX_VALUE}. Empty when {@code raw} is anything else (other scripts' digits, {@code +4001},
     * {@code 04001}, {@code 4001 }, {@code 3.9}, ...): every place that reads an id (paths, query parameters, the
     * {@code portals} claim, webhook bodies) reads it this way, so one id has one spelling.
     */
    public static java.util.OptionalLong canonicalId(String raw) {
        if (raw == null || raw.isEmpty() || raw.length() > 19 || raw.charAt(0) == '0') {
            return java.util.OptionalLong.empty();
        }
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c < '0' || c > '9') {
                return java.util.OptionalLong.empty();
            }
        }
        try {
            return java.util.OptionalLong.of(Long.parseLong(raw));
        } catch (NumberFormatException e) {
            return java.util.OptionalLong.empty(); // over Long.MAX_VALUE
        }
    }

    /** A HubSpot portal id: a positive 64-bit integer in its one spelling ({@link #canonicalId}). */
    public static long portalId(String raw) {
        return canonicalId(raw).orElseThrow(() -> ApiException.badRequest(
                "portalId must be a positive integer of at most 19 ASCII digits, without sign or leading zero"));
    }

    /** An integer query parameter within [min, max], or the default when absent. */
    public static int intInRange(String name, String raw, int min, int max, int defaultValue) {
        if (raw == null || raw.isEmpty()) {
            return defaultValue;
        }
        // ASCII digits with an optional leading minus: one spelling (no '+', no other scripts' digits)
        boolean canonical = raw.length() <= 10 && raw.matches("-?(0|[1-9][0-9]*)");
        if (!canonical) {
            throw ApiException.badRequest(name + " must be an integer from " + min + " to " + max);
        }
        try {
            int v = Integer.parseInt(raw);
            if (v < min || v > max) {
                throw ApiException.badRequest(name + " must be an integer from " + min + " to " + max);
            }
            return v;
        } catch (NumberFormatException e) {
            throw ApiException.badRequest(name + " must be an integer from " + min + " to " + max);
        }
    }
}
