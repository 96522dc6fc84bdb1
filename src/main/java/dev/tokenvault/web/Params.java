package dev.tokenvault.web;

/** Parsing of path and query parameters into typed values, with a 400 that says what is wrong. */
public final class Params {

    private Params() {
    }

    /** A HubSpot portal id: a positive 64-bit integer. */
    public static long portalId(String raw) {
        if (raw == null || raw.isEmpty() || raw.length() > 19 || !raw.chars().allMatch(Character::isDigit)) {
            throw ApiException.badRequest("portalId must be a positive integer of at most 19 digits");
        }
        try {
            long id = Long.parseLong(raw);
            if (id <= 0) {
                throw ApiException.badRequest("portalId must be a positive integer");
            }
            return id;
        } catch (NumberFormatException e) {
            throw ApiException.badRequest("portalId must fit in a signed 64-bit integer");
        }
    }

    /** An integer query parameter within [min, max], or the default when absent. */
    public static int intInRange(String name, String raw, int min, int max, int defaultValue) {
        if (raw == null || raw.isEmpty()) {
            return defaultValue;
        }
        if (raw.length() > 10 || !raw.chars().allMatch(c -> Character.isDigit(c) || c == '-')) {
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
