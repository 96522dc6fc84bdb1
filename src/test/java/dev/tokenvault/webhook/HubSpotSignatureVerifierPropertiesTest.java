package dev.tokenvault.webhook;

import static dev.tokenvault.webhook.HubSpotSignatureVerifierTest.headers;
import static dev.tokenvault.webhook.HubSpotSignatureVerifierTest.oracleLegacy;
import static dev.tokenvault.webhook.HubSpotSignatureVerifierTest.oracleV3;
import static dev.tokenvault.webhook.HubSpotSignatureVerifierTest.v3Request;
import static dev.tokenvault.webhook.HubSpotSignatureVerifierTest.verifierAt;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import dev.tokenvault.webhook.HubSpotSignatureVerifier.Request;
import dev.tokenvault.webhook.HubSpotSignatureVerifier.Result;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.ByteRange;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.NotEmpty;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.constraints.WithNull;

class HubSpotSignatureVerifierPropertiesTest {

    private static final long WINDOW_MILLIS = HubSpotSignatureVerifierTest.WINDOW.toMillis();
    /** Up to year 2286 (10^13 ms): the range real timestamps live in, with plenty of slack. */
    private static final long MAX_TS = 9_999_999_999_999L;

    @Provide
    Arbitrary<String> methods() {
        return Arbitraries.of("POST", "GET", "PUT", "PATCH", "DELETE", "post", "Get");
    }

    /** URLs as HubSpot would call them, with percent-escapes (listed by HubSpot or not) and odd characters. */
    @Provide
    Arbitrary<String> uris() {
        Arbitrary<String> segment = Arbitraries.oneOf(
                Arbitraries.strings().withCharRange('a', 'z').withChars("-_.~0123456789").ofMinLength(1)
                        .ofMaxLength(12),
                Arbitraries.of("%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A", "%2C", "%3B",
                        "%3a", "%2f", "%20", "%25", "%26", "%3D", "%2B", "%C3%A9", "%", "%3", "é", "✓", "=", "&",
                        "?", "#", ":", "@"),
                Arbitraries.strings().ofMaxLength(6));
        Arbitrary<String> path = segment.list().ofMaxSize(6).map(parts -> String.join("/", parts));
        Arbitrary<String> query = segment.list().ofMaxSize(4).map(parts -> parts.isEmpty() ? ""
                : "?" + String.join("&", parts));
        Arbitrary<String> host = Arbitraries.of("https://vault.example.com", "http://localhost:8080",
                "https://vault.example.com:8443/base");
        return Combinators.combine(host, path, query).as((h, p, q) -> h + "/" + p + q);
    }

    @Provide
    Arbitrary<String> secrets() {
        return Arbitraries.oneOf(Arbitraries.strings().ofMinLength(1).ofMaxLength(64).filter(s -> !s.isBlank()),
                Arbitraries.strings().withCharRange('a', 'f').numeric().withChars('-').ofLength(36));
    }

    private static String timestampText(long ts) {
        return Long.toString(ts);
    }

    /** Signatures cover UTF-8 bytes: two strings differing only in unpaired surrogates sign alike. */
    private static boolean sameBytes(String a, String b) {
        return Arrays.equals(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }

    private static String upper(String method) {
        return method.toUpperCase(Locale.ROOT);
    }

    // ---- never throws -----------------------------------------------------------------------------------

    @Property
    void neverThrowsOnArbitraryRequests(@ForAll @WithNull(0.05) String method, @ForAll @WithNull(0.05) String uri,
            @ForAll @WithNull(0.05) byte[] body, @ForAll @WithNull(0.1) String signature,
            @ForAll @WithNull(0.1) String timestamp, @ForAll @WithNull(0.1) String legacySignature,
            @ForAll @WithNull(0.1) String version, @ForAll @WithNull(0.05) List<@WithNull(0.1) String> secrets,
            @ForAll boolean allowLegacy, @ForAll long now) {
        Request request = new Request(method, uri, body,
                headers("X-HubSpot-Signature-v3", signature, "X-HubSpot-Request-Timestamp", timestamp,
                        "X-HubSpot-Signature", legacySignature, "X-HubSpot-Signature-Version", version));
        Result result = verifierAt(now).verify(request, secrets, allowLegacy);
        assertThat(result).isNotNull();
        if (!allowLegacy) {
            assertThat(result).isNotEqualTo(Result.VALID_LEGACY);
        }
    }

    @Property
    void neverThrowsOnArbitraryTimestamps(@ForAll String timestamp, @ForAll long now,
            @ForAll("uris") String uri) {
        byte[] body = "[]".getBytes(StandardCharsets.UTF_8);
        Request request = v3Request("POST", uri, body, oracleV3("s", "POST", uri, body, timestamp), timestamp);
        assertThat(verifierAt(now).verify(request, List.of("s"), true)).isNotNull();
    }

    @Property
    void neverThrowsOnArbitraryHeaderMaps(
            @ForAll("randomHeaderMaps") Map<String, List<String>> randomHeaders,
            @ForAll("headerMaps") Map<String, List<String>> hubSpotishHeaders, @ForAll @WithNull(0.1) String uri,
            @ForAll boolean allowLegacy) {
        HubSpotSignatureVerifier verifier = verifierAt(HubSpotSignatureVerifierTest.T0);
        byte[] body = new byte[] { '[', ']' };
        assertThat(verifier.verify(new Request("POST", uri, body, randomHeaders), List.of("s"), allowLegacy))
                .isNotNull();
        assertThat(verifier.verify(new Request("POST", uri, body, hubSpotishHeaders), List.of("s"), allowLegacy))
                .isNotNull();
    }

    /** Any names and values, nulls included. */
    @Provide
    Arbitrary<Map<String, List<String>>> randomHeaderMaps() {
        Arbitrary<String> names = Arbitraries.strings().ofMaxLength(40).injectNull(0.02);
        Arbitrary<List<String>> values = Arbitraries.strings().ofMaxLength(80).injectNull(0.1).list().ofMaxSize(4)
                .injectNull(0.05);
        return Arbitraries.maps(names, values).ofMaxSize(8);
    }

    /** Maps whose names are HubSpot's header names in any case, with plausible and implausible values. */
    @Provide
    Arbitrary<Map<String, List<String>>> headerMaps() {
        Arbitrary<String> names = Arbitraries.of(HubSpotSignatureVerifier.SIGNATURE_V3_HEADER,
                HubSpotSignatureVerifier.TIMESTAMP_HEADER, HubSpotSignatureVerifier.SIGNATURE_HEADER,
                HubSpotSignatureVerifier.SIGNATURE_VERSION_HEADER, "Content-Type")
                .flatMap(n -> Arbitraries.of(n, n.toLowerCase(Locale.ROOT), n.toUpperCase(Locale.ROOT)));
        Arbitrary<String> values = Arbitraries.oneOf(Arbitraries.strings().ofMaxLength(80),
                Arbitraries.longs().map(String::valueOf), Arbitraries.of("v1", "v2", "v3", "V1", "", " "),
                Arbitraries.bytes().array(byte[].class).ofSize(32).map(b -> Base64.getEncoder().encodeToString(b)),
                Arbitraries.strings().withChars("0123456789abcdef").ofLength(64));
        return Arbitraries.maps(names, values.injectNull(0.05).list().ofMaxSize(3).injectNull(0.05)).ofMaxSize(6);
    }

    // ---- correct signatures verify ----------------------------------------------------------------------

    @Property
    void aCorrectV3SignatureAlwaysVerifies(@ForAll("methods") String method, @ForAll("uris") String uri,
            @ForAll @Size(max = 2048) byte[] body, @ForAll @LongRange(min = 0, max = MAX_TS) long ts,
            @ForAll @IntRange(min = -300_000, max = 300_000) int skew, @ForAll("secrets") String secret,
            @ForAll boolean hubSpotDecodesTheUri, @ForAll boolean allowLegacy) {
        String signedUri = hubSpotDecodesTheUri ? HubSpotSignatureVerifier.decodeUri(uri) : uri;
        String signature = oracleV3(secret, upper(method), signedUri, body, timestampText(ts));
        Request request = v3Request(method, uri, body, signature, timestampText(ts));

        assertThat(verifierAt(ts + skew).verify(request, List.of(secret), allowLegacy)).isEqualTo(Result.VALID_V3);
        assertThat(verifierAt(ts + skew).verify(request, List.of("other-" + secret, secret), allowLegacy))
                .isEqualTo(Result.VALID_V3);
        if (hubSpotDecodesTheUri) {
            assertThat(HubSpotSignatureVerifier.signV3(secret, method, uri, body, ts)).isEqualTo(signature);
        }
    }

    @Property
    void aCorrectLegacySignatureVerifiesOnlyWhenAllowed(@ForAll("methods") String method,
            @ForAll("uris") String uri, @ForAll @Size(max = 2048) byte[] body, @ForAll("secrets") String secret,
            @ForAll boolean v2) {
        String signature = oracleLegacy(v2 ? secret + upper(method) + uri : secret, body);
        Request request = new Request(method, uri, body, headers("X-HubSpot-Signature", signature,
                "X-HubSpot-Signature-Version", v2 ? "v2" : "v1"));
        HubSpotSignatureVerifier verifier = verifierAt(HubSpotSignatureVerifierTest.T0);

        assertThat(verifier.verify(request, List.of(secret), true)).isEqualTo(Result.VALID_LEGACY);
        assertThat(verifier.verify(request, List.of(secret), false)).isEqualTo(Result.MISSING_SIGNATURE);
    }

    // ---- any change fails -------------------------------------------------------------------------------

    @Property
    void anySingleByteChangeOfTheBodyFails(@ForAll("uris") String uri, @ForAll @NotEmpty @Size(max = 2048) byte[] body,
            @ForAll @IntRange(min = 0, max = 2047) int position, @ForAll @ByteRange(min = 1) byte delta,
            @ForAll @LongRange(min = 0, max = MAX_TS) long ts, @ForAll("secrets") String secret) {
        String signature = oracleV3(secret, "POST", HubSpotSignatureVerifier.decodeUri(uri), body, timestampText(ts));
        byte[] changed = body.clone();
        changed[position % body.length] += delta;

        Request request = v3Request("POST", uri, changed, signature, timestampText(ts));
        assertThat(verifierAt(ts).verify(request, List.of(secret), true)).isEqualTo(Result.INVALID);
    }

    @Property
    void anySingleByteChangeOfTheBodyFailsForLegacySignaturesToo(@ForAll @NotEmpty @Size(max = 512) byte[] body,
            @ForAll @IntRange(min = 0, max = 511) int position, @ForAll @ByteRange(min = 1) byte delta,
            @ForAll("secrets") String secret, @ForAll boolean v2) {
        String uri = "https://vault.example.com/webhooks/default";
        String signature = oracleLegacy(v2 ? secret + "POST" + uri : secret, body);
        byte[] changed = body.clone();
        changed[position % body.length] += delta;

        Request request = new Request("POST", uri, changed, headers("X-HubSpot-Signature", signature,
                "X-HubSpot-Signature-Version", v2 ? "v2" : "v1"));
        assertThat(verifierAt(0).verify(request, List.of(secret), true)).isEqualTo(Result.INVALID);
    }

    @Property
    void anyOtherUriFails(@ForAll("uris") String signedUri, @ForAll("uris") String otherUri,
            @ForAll @Size(max = 256) byte[] body, @ForAll @LongRange(min = 0, max = MAX_TS) long ts,
            @ForAll("secrets") String secret) {
        String canonical = HubSpotSignatureVerifier.decodeUri(signedUri);
        // Escapes HubSpot decodes are the same URI to it; anything else is another URI.
        Assume.that(!sameBytes(HubSpotSignatureVerifier.decodeUri(otherUri), canonical)
                && !sameBytes(otherUri, canonical));
        String signature = oracleV3(secret, "POST", canonical, body, timestampText(ts));

        Request request = v3Request("POST", otherUri, body, signature, timestampText(ts));
        assertThat(verifierAt(ts).verify(request, List.of(secret), true)).isEqualTo(Result.INVALID);
    }

    @Property
    void aSingleCharacterEditOfTheUriFails(@ForAll("uris") String uri, @ForAll @IntRange(min = 0, max = 500) int at,
            @ForAll char inserted, @ForAll("secrets") String secret) {
        int position = at % (uri.length() + 1);
        String edited = uri.substring(0, position) + inserted + uri.substring(position);
        String canonical = HubSpotSignatureVerifier.decodeUri(uri);
        Assume.that(!sameBytes(HubSpotSignatureVerifier.decodeUri(edited), canonical) && !sameBytes(edited, canonical));
        byte[] body = "[]".getBytes(StandardCharsets.UTF_8);
        long ts = HubSpotSignatureVerifierTest.T0;
        String signature = oracleV3(secret, "POST", canonical, body, timestampText(ts));

        assertThat(verifierAt(ts).verify(v3Request("POST", edited, body, signature, timestampText(ts)),
                List.of(secret), false)).isEqualTo(Result.INVALID);
    }

    @Property
    void timestampsOutsideTheWindowAreRefusedWhateverTheSignature(@ForAll @LongRange(min = 0, max = MAX_TS) long ts,
            @ForAll @LongRange(min = 1, max = MAX_TS) long beyond, @ForAll boolean future,
            @ForAll("secrets") String secret) {
        String uri = "https://vault.example.com/webhooks/default";
        byte[] body = "[]".getBytes(StandardCharsets.UTF_8);
        Request request = v3Request("POST", uri, body, oracleV3(secret, "POST", uri, body, timestampText(ts)),
                timestampText(ts));
        long now = future ? ts - WINDOW_MILLIS - beyond : ts + WINDOW_MILLIS + beyond;

        assertThat(verifierAt(now).verify(request, List.of(secret), true))
                .isEqualTo(future ? Result.FUTURE : Result.STALE);
    }

    // ---- arbitrary signatures never verify --------------------------------------------------------------

    @Property
    void randomV3SignaturesNeverVerify(@ForAll @Size(32) byte[] randomMac, @ForAll("uris") String uri,
            @ForAll @Size(max = 256) byte[] body, @ForAll("secrets") String secret) {
        long ts = HubSpotSignatureVerifierTest.T0;
        Request request = v3Request("POST", uri, body, Base64.getEncoder().encodeToString(randomMac),
                timestampText(ts));
        assertThat(verifierAt(ts).verify(request, List.of(secret), true)).isEqualTo(Result.INVALID);
    }

    @Property
    void arbitrarySignatureStringsNeverVerify(@ForAll String signature, @ForAll("secrets") String secret,
            @ForAll boolean v2) {
        long ts = HubSpotSignatureVerifierTest.T0;
        String uri = "https://vault.example.com/webhooks/default";
        byte[] body = "[]".getBytes(StandardCharsets.UTF_8);
        HubSpotSignatureVerifier verifier = verifierAt(ts);

        assertThat(verifier.verify(v3Request("POST", uri, body, signature, timestampText(ts)), List.of(secret), true)
                .isValid()).isFalse();
        Request legacy = new Request("POST", uri, body, headers("X-HubSpot-Signature", signature,
                "X-HubSpot-Signature-Version", v2 ? "v2" : "v1"));
        assertThat(verifier.verify(legacy, List.of(secret), true).isValid()).isFalse();
    }

    @Property
    void randomLegacySignaturesNeverVerify(@ForAll @Size(32) byte[] randomDigest, @ForAll("secrets") String secret,
            @ForAll boolean v2) {
        String hex = HexFormat.of().formatHex(randomDigest);
        Request legacy = new Request("POST", "https://vault.example.com/webhooks/default", new byte[] { '[', ']' },
                headers("X-HubSpot-Signature", hex, "X-HubSpot-Signature-Version", v2 ? "v2" : "v1"));
        assertThat(verifierAt(0).verify(legacy, List.of(secret), true)).isEqualTo(Result.INVALID);
    }
}
