package dev.tokenvault.webhook;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Verifies the signatures HubSpot puts on webhook requests, as described in HubSpot's developer documentation
 * "Validating requests from HubSpot"
 * (<a href="https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests">legacy apps</a>,
 * same procedure for the
 * <a href="https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation">
 * developer platform</a>) and in the changelog
 * <a href="https://developers.hubspot.com/changelog/introducing-version-3-of-webhook-signatures">"Introducing version 3
 * of webhook signatures"</a>.
 * <ul>
 * <li><b>v3</b> ({@value #SIGNATURE_V3_HEADER}, {@value #TIMESTAMP_HEADER} in epoch milliseconds): the request is
 * refused when the timestamp is older than the window, or further ahead of now than the future skew (a small
 * allowance for clocks that disagree, so that a captured request is not replayable for longer than the window); the
 * signature is
 * {@code base64(HMAC-SHA256(clientSecret, method + uri + body + timestamp))} over the UTF-8 bytes, where
 * {@code timestamp} is the header text and {@code body} the raw request bytes. As HubSpot's page says, the URI is
 * signed after decoding these percent-escapes: {@code %3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B} (to
 * {@code : / ? @ ! $ ' ( ) * , ;}); every other escape is left as is. HubSpot's own client libraries (Node, Python,
 * PHP) sign the URL exactly as given, so when decoding changes the URI the URI as given is tried too.</li>
 * <li><b>v1</b> / <b>v2</b> ({@value #SIGNATURE_HEADER} with {@value #SIGNATURE_VERSION_HEADER} {@code v1} or
 * {@code v2}): {@code hex(SHA-256(clientSecret + body))} and {@code hex(SHA-256(clientSecret + method + uri + body))},
 * the URI exactly as given. Only when the caller allows them, and only when the request has no v3 signature: a
 * present v3 signature decides alone, so a stale v3 request cannot pass on its replayable v1 signature.</li>
 * </ul>
 * The method is compared in upper case (HubSpot signs {@code POST}, {@code GET}). Header names are
 * case-insensitive; a header repeated with different values is refused. Every secret in the list is tried (the
 * current one and those still in their rotation grace period); comparisons are constant-time on the decoded bytes.
 * {@link #verify} never throws: any input, however malformed, yields a {@link Result}. No secret or signature appears
 * in any message or {@code toString}. Immutable and thread-safe.
 */
public final class HubSpotSignatureVerifier {

    public static final String SIGNATURE_V3_HEADER = "X-HubSpot-Signature-v3";
    public static final String TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp";
    public static final String SIGNATURE_HEADER = "X-HubSpot-Signature";
    public static final String SIGNATURE_VERSION_HEADER = "X-HubSpot-Signature-Version";
    /** The window HubSpot documents: reject a request whose timestamp is older than 5 minutes. */
    public static final Duration DEFAULT_WINDOW = Duration.ofMinutes(5);
    /** How far ahead of this replica's clock a v3 timestamp may be, by default. */
    public static final Duration DEFAULT_FUTURE_SKEW = Duration.ofSeconds(30);

    /** Longer header values are refused without being decoded (a v3 signature has 44 characters, v1/v2 64). */
    private static final int MAX_SIGNATURE_CHARS = 256;
    /** Long.MAX_VALUE has 19 digits. */
    private static final int MAX_TIMESTAMP_DIGITS = 19;
    private static final int SHA256_BYTES = 32;

    /** What a verification found. Only {@link #VALID_V3} and {@link #VALID_LEGACY} let a request through. */
    public enum Result {
        /** A valid {@code X-HubSpot-Signature-v3} within the window. */
        VALID_V3,
        /** A valid v1 or v2 {@code X-HubSpot-Signature}, legacy signatures being allowed. */
        VALID_LEGACY,
        /** No signature this verification accepts (no v3 signature, and no legacy one or legacy not allowed). */
        MISSING_SIGNATURE,
        /** A v3 signature with a missing, repeated or unparseable timestamp. */
        BAD_TIMESTAMP,
        /** A v3 timestamp older than the window. */
        STALE,
        /** A v3 timestamp further ahead than the future skew. */
        FUTURE,
        /** A signature that matches none of the secrets, or is malformed, or could not be checked. */
        INVALID;

        public boolean isValid() {
            return this == VALID_V3 || this == VALID_LEGACY;
        }
    }

    /**
     * The parts of an incoming request a signature covers.
     *
     * @param method the HTTP method
     * @param uri the full URL HubSpot called: public base URL + path + query, as received (not decoded)
     * @param body the raw body bytes, not copied, not modified
     * @param headers the request headers; names are matched case-insensitively
     */
    public record Request(String method, String uri, byte[] body, Map<String, List<String>> headers) {

        /** Never shows header values (signatures) nor the body. */
        @Override
        public String toString() {
            return "Request[method=" + method + ", uri=" + uri + ", body="
                    + (body == null ? "none" : body.length + " bytes") + ", headers="
                    + (headers == null ? "none" : String.valueOf(headers.keySet())) + "]";
        }
    }

    private final InstantSource clock;
    private final long windowMillis;
    private final long futureSkewMillis;

    /**
     * A verifier with a symmetric window: the v3 timestamp may be that far from now, either way.
     *
     * @param clock the source of "now"
     * @param window how far the v3 timestamp may be from now, either way
     */
    public HubSpotSignatureVerifier(InstantSource clock, Duration window) {
        this(clock, window, window);
    }

    /**
     * @param clock the source of "now"
     * @param window how old the v3 timestamp may be ({@link #DEFAULT_WINDOW} in production)
     * @param futureSkew how far ahead of now the v3 timestamp may be ({@link #DEFAULT_FUTURE_SKEW} by default)
     */
    public HubSpotSignatureVerifier(InstantSource clock, Duration window, Duration futureSkew) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.windowMillis = millis(Objects.requireNonNull(window, "window"), "window");
        this.futureSkewMillis = millis(Objects.requireNonNull(futureSkew, "futureSkew"), "future skew");
    }

    private static long millis(Duration d, String what) {
        if (d.isNegative()) {
            throw new IllegalArgumentException("the " + what + " must not be negative");
        }
        try {
            return d.toMillis();
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("the " + what + " is too large");
        }
    }

    /**
     * Verifies a request.
     *
     * @param request the request; {@code null} is {@link Result#INVALID}
     * @param clientSecrets the app's client secrets, any of which may match; {@code null}, empty and blank entries are
     *        ignored, so an empty list verifies nothing
     * @param allowLegacy whether v1/v2 signatures are accepted when the request carries no v3 signature
     * @return the verdict; never {@code null}, never throws
     */
    public Result verify(Request request, List<String> clientSecrets, boolean allowLegacy) {
        try {
            if (request == null) {
                return Result.INVALID;
            }
            Map<String, List<String>> headers = request.headers();
            HeaderValue v3 = header(headers, SIGNATURE_V3_HEADER);
            if (v3.present()) {
                return verifyV3(request, v3, header(headers, TIMESTAMP_HEADER), secretKeys(clientSecrets));
            }
            if (!allowLegacy) {
                return Result.MISSING_SIGNATURE;
            }
            HeaderValue legacy = header(headers, SIGNATURE_HEADER);
            if (!legacy.present()) {
                return Result.MISSING_SIGNATURE;
            }
            return verifyLegacy(request, legacy, header(headers, SIGNATURE_VERSION_HEADER), secretKeys(clientSecrets));
        } catch (RuntimeException | GeneralSecurityException e) {
            // Last resort for hostile inputs (a header map that throws while iterated, ...): refuse, never propagate.
            return Result.INVALID;
        }
    }

    private Result verifyV3(Request request, HeaderValue signatureHeader, HeaderValue timestampHeader,
            List<byte[]> secrets) throws GeneralSecurityException {
        if (timestampHeader.ambiguous() || timestampHeader.value() == null) {
            return Result.BAD_TIMESTAMP;
        }
        String timestamp = timestampHeader.value();
        long timestampMillis = parseMillis(timestamp);
        if (timestampMillis < 0) {
            return Result.BAD_TIMESTAMP;
        }
        long now = clock.millis();
        long age;
        try {
            age = Math.subtractExact(now, timestampMillis);
        } catch (ArithmeticException e) {
            return now > timestampMillis ? Result.STALE : Result.FUTURE;
        }
        if (age > windowMillis) {
            return Result.STALE;
        }
        if (age < -futureSkewMillis) {
            return Result.FUTURE;
        }
        if (signatureHeader.ambiguous() || request.method() == null || request.uri() == null) {
            return Result.INVALID;
        }
        byte[] given = decodeBase64(signatureHeader.value());
        if (given == null || given.length != SHA256_BYTES) {
            return Result.INVALID;
        }
        String method = normalizeMethod(request.method());
        String uri = request.uri();
        String decodedUri = decodeUri(uri);
        byte[] body = bodyOf(request);
        byte[] suffix = timestamp.getBytes(StandardCharsets.UTF_8);
        boolean match = false;
        for (byte[] secret : secrets) {
            match |= MessageDigest.isEqual(hmacV3(secret, method, decodedUri, body, suffix), given);
            if (!decodedUri.equals(uri)) {
                match |= MessageDigest.isEqual(hmacV3(secret, method, uri, body, suffix), given);
            }
        }
        return match ? Result.VALID_V3 : Result.INVALID;
    }

    private static Result verifyLegacy(Request request, HeaderValue signatureHeader, HeaderValue versionHeader,
            List<byte[]> secrets) throws GeneralSecurityException {
        if (signatureHeader.ambiguous() || versionHeader.ambiguous() || versionHeader.value() == null) {
            return Result.INVALID;
        }
        boolean v2;
        if ("v1".equalsIgnoreCase(versionHeader.value())) {
            v2 = false;
        } else if ("v2".equalsIgnoreCase(versionHeader.value())) {
            v2 = true;
        } else {
            return Result.INVALID;
        }
        if (v2 && (request.method() == null || request.uri() == null)) {
            return Result.INVALID;
        }
        byte[] given = decodeHex(signatureHeader.value());
        if (given == null || given.length != SHA256_BYTES) {
            return Result.INVALID;
        }
        byte[] infix = v2 ? (normalizeMethod(request.method()) + request.uri()).getBytes(StandardCharsets.UTF_8)
                : new byte[0];
        byte[] body = bodyOf(request);
        boolean match = false;
        for (byte[] secret : secrets) {
            MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
            sha256.update(secret);
            sha256.update(infix);
            sha256.update(body);
            match |= MessageDigest.isEqual(sha256.digest(), given);
        }
        return match ? Result.VALID_LEGACY : Result.INVALID;
    }

    /**
     * What identifies a delivery for replay detection, to be asked only of a request {@link #verify} accepted: the
     * SHA-256 of the decoded v3 signature bytes and the timestamp header (or, for a legacy request, of the decoded
     * v1/v2 signature and its version). Decoded bytes, not header text, so that spellings of one signature (padding,
     * case of hex digits) are one delivery. Never the signature itself; {@code null} when the request has no usable
     * signature.
     */
    public static byte[] deliveryKey(Request request) {
        try {
            Map<String, List<String>> headers = request.headers();
            HeaderValue v3 = header(headers, SIGNATURE_V3_HEADER);
            MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
            if (v3.present()) {
                HeaderValue timestamp = header(headers, TIMESTAMP_HEADER);
                byte[] signature = v3.value() == null ? null : decodeBase64(v3.value());
                if (signature == null || timestamp.value() == null) {
                    return null;
                }
                sha256.update("v3|".getBytes(StandardCharsets.UTF_8));
                sha256.update(signature);
                sha256.update(("|" + timestamp.value()).getBytes(StandardCharsets.UTF_8));
                return sha256.digest();
            }
            HeaderValue legacy = header(headers, SIGNATURE_HEADER);
            HeaderValue version = header(headers, SIGNATURE_VERSION_HEADER);
            byte[] signature = legacy.value() == null ? null : decodeHex(legacy.value());
            if (signature == null || version.value() == null) {
                return null;
            }
            sha256.update((version.value().toLowerCase(Locale.ROOT) + "|").getBytes(StandardCharsets.UTF_8));
            sha256.update(signature);
            return sha256.digest();
        } catch (RuntimeException | GeneralSecurityException e) {
            return null;
        }
    }

    /**
     * The v3 signature HubSpot would put on a request, for test doubles and the development simulator: the URI is
     * decoded as {@link HubSpotSignatureVerifier described above} and the method upper-cased, as the verifier does.
     *
     * @throws IllegalArgumentException when the secret is empty or an argument is missing
     */
    public static String signV3(String clientSecret, String method, String uri, byte[] body, long timestampMillis) {
        if (clientSecret == null || clientSecret.isEmpty() || method == null || uri == null || body == null) {
            throw new IllegalArgumentException("a client secret, method, URI and body are required");
        }
        try {
            byte[] mac = hmacV3(clientSecret.getBytes(StandardCharsets.UTF_8), normalizeMethod(method), decodeUri(uri),
                    body, Long.toString(timestampMillis).getBytes(StandardCharsets.UTF_8));
            return Base64.getEncoder().encodeToString(mac);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA256 unavailable: " + e.getClass().getSimpleName());
        }
    }

    /**
     * Decodes the percent-escapes HubSpot's "Validating requests" page lists for v3 (hex digits in either case), and
     * only those, in one pass: {@code %253A} stays {@code %253A}.
     */
    static String decodeUri(String uri) {
        int percent = uri.indexOf('%');
        if (percent < 0) {
            return uri;
        }
        StringBuilder out = new StringBuilder(uri.length());
        out.append(uri, 0, percent);
        int i = percent;
        while (i < uri.length()) {
            char c = uri.charAt(i);
            if (c == '%' && i + 2 < uri.length()) {
                char decoded = decodedEscape(uri.charAt(i + 1), uri.charAt(i + 2));
                if (decoded != 0) {
                    out.append(decoded);
                    i += 3;
                    continue;
                }
            }
            out.append(c);
            i++;
        }
        return out.toString();
    }

    /** The character an escape {@code %hl} stands for when it is one HubSpot decodes, else 0. */
    private static char decodedEscape(char high, char low) {
        int h = hexDigit(high);
        int l = hexDigit(low);
        if (h < 0 || l < 0) {
            return 0;
        }
        char c = (char) (h * 16 + l);
        return switch (c) {
            case ':', '/', '?', '@', '!', '$', '\'', '(', ')', '*', ',', ';' -> c;
            default -> 0;
        };
    }

    private static byte[] hmacV3(byte[] secret, String method, String uri, byte[] body, byte[] timestamp)
            throws GeneralSecurityException {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret, "HmacSHA256"));
        mac.update((method + uri).getBytes(StandardCharsets.UTF_8));
        mac.update(body);
        mac.update(timestamp);
        return mac.doFinal();
    }

    private static String normalizeMethod(String method) {
        return method.trim().toUpperCase(Locale.ROOT);
    }

    private static byte[] bodyOf(Request request) {
        return request.body() == null ? new byte[0] : request.body();
    }

    /** Usable secrets as UTF-8 bytes: null and blank entries dropped (an HMAC key cannot be empty). */
    private static List<byte[]> secretKeys(List<String> clientSecrets) {
        List<byte[]> keys = new ArrayList<>();
        if (clientSecrets != null) {
            for (String secret : clientSecrets) {
                if (secret != null && !secret.isBlank()) {
                    keys.add(secret.getBytes(StandardCharsets.UTF_8));
                }
            }
        }
        return keys;
    }

    /** Epoch milliseconds from 1 to 19 ASCII digits, or -1. */
    private static long parseMillis(String text) {
        if (text.isEmpty() || text.length() > MAX_TIMESTAMP_DIGITS) {
            return -1;
        }
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
        }
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static byte[] decodeBase64(String text) {
        if (text.length() > MAX_SIGNATURE_CHARS) {
            return null;
        }
        try {
            return Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static byte[] decodeHex(String text) {
        if (text.length() > MAX_SIGNATURE_CHARS || text.length() % 2 != 0) {
            return null;
        }
        byte[] out = new byte[text.length() / 2];
        for (int i = 0; i < out.length; i++) {
            int high = hexDigit(text.charAt(2 * i));
            int low = hexDigit(text.charAt(2 * i + 1));
            if (high < 0 || low < 0) {
                return null;
            }
            out[i] = (byte) (high << 4 | low);
        }
        return out;
    }

    /** ASCII hex only ({@link Character#digit} would also take full-width and other Unicode digits). */
    private static int hexDigit(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    /**
     * A header's single value, trimmed: {@code value} null when absent (no non-blank value under any spelling of the
     * name), {@code ambiguous} when it has several different values.
     */
    private record HeaderValue(String value, boolean ambiguous) {

        boolean present() {
            return value != null || ambiguous;
        }
    }

    private static HeaderValue header(Map<String, List<String>> headers, String name) {
        if (headers == null) {
            return new HeaderValue(null, false);
        }
        String found = null;
        for (Map.Entry<String, List<String>> entry : headers.entrySet()) {
            if (entry == null || !name.equalsIgnoreCase(entry.getKey()) || entry.getValue() == null) {
                continue;
            }
            for (String value : entry.getValue()) {
                if (value == null || value.isBlank()) {
                    continue;
                }
                String trimmed = value.trim();
                if (found == null) {
                    found = trimmed;
                } else if (!found.equals(trimmed)) {
                    return new HeaderValue(null, true);
                }
            }
        }
        return new HeaderValue(found, false);
    }
}
