package dev.tokenvault.config;

/** URLs as the outside world sees this service ({@code tokenvault.public-base-url}). */
public final class PublicUrl {

    private PublicUrl() {
    }

    /** The public base URL without a trailing slash, ready to have a path appended. */
    public static String base(TokenVaultConfig config) {
        String base = config.publicBaseUrl().toString();
        return base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
    }

    /** {@code base + path}, {@code path} starting with a slash. */
    public static String of(TokenVaultConfig config, String path) {
        return base(config) + path;
    }
}
