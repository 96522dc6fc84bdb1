package dev.tokenvault.webhook;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tokenvault.webhook.HubSpotSignatureVerifier.Request;
import dev.tokenvault.webhook.HubSpotSignatureVerifier.Result;

class HubSpotSignatureVerifierTest {

    static final Duration WINDOW = HubSpotSignatureVerifier.DEFAULT_WINDOW;
    static final String SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
    static final String URL = "https://vault.example.com/webhooks/default";
    static final String BODY = "[{\"eventId\":1,\"portalId\":62515,\"subscriptionType\":\"app.uninstall\"}]";
    static final long T0 = 1_764_000_000_000L;

    /** One entry of {@code hubspot-webhook-signatures.json}; {@code timestamp} only for v3. */
    record Vector(String version, String method, String url, String body, Long timestamp, String clientSecret,
            String signature) {

        @Override
        public String toString() {
            return version + " " + method + " " + url + " body=" + body.length() + " chars";
        }
    }

    static List<Vector> vectors() throws IOException {
        try (InputStream in = HubSpotSignatureVerifierTest.class.getClassLoader()
                .getResourceAsStream("hubspot-webhook-signatures.json")) {
            assertThat(in).as("classpath resource hubspot-webhook-signatures.json").isNotNull();
            JsonNode root = new ObjectMapper().readTree(in);
            List<Vector> vectors = new ArrayList<>();
            for (JsonNode v : root.get("vectors")) {
                vectors.add(new Vector(v.get("version").asText(), v.get("method").asText(), v.get("url").asText(),
                        v.get("body").asText(), v.hasNonNull("timestamp") ? v.get("timestamp").asLong() : null,
                        v.get("clientSecret").asText(), v.get("signature").asText()));
            }
            assertThat(vectors).extracting(Vector::version).contains("v1", "v2", "v3");
            return vectors;
        }
    }

    static Stream<Vector> v3Vectors() throws IOException {
        return vectors().stream().filter(v -> v.version().equals("v3"));
    }

    static Stream<Vector> legacyVectors() throws IOException {
        return vectors().stream().filter(v -> !v.version().equals("v3"));
    }

    // ---- helpers shared with the property tests -------------------------------------------------------------

    static HubSpotSignatureVerifier verifierAt(long nowMillis) {
        return new HubSpotSignatureVerifier(InstantSource.fixed(Instant.ofEpochMilli(nowMillis)), WINDOW);
    }

    static Map<String, List<String>> headers(String... namesAndValues) {
        Map<String, List<String>> headers = new LinkedHashMap<>();
        for (int i = 0; i < namesAndValues.length; i += 2) {
            headers.computeIfAbsent(namesAndValues[i], k -> new ArrayList<>()).add(namesAndValues[i + 1]);
        }
        return headers;
    }

    static Request v3Request(String method, String uri, byte[] body, String signature, String timestamp) {
        return new Request(method, uri, body, headers(HubSpotSignatureVerifier.SIGNATURE_V3_HEADER, signature,
                HubSpotSignatureVerifier.TIMESTAMP_HEADER, timestamp));
    }

    /** Independent v3 oracle: base64(HMAC-SHA256(secret, utf8(method + uri) || body || utf8(timestamp))). */
    static String oracleV3(String secret, String method, String uri, byte[] body, String timestamp) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            mac.update((method + uri).getBytes(StandardCharsets.UTF_8));
            mac.update(body);
            mac.update(timestamp.getBytes(StandardCharsets.UTF_8));
            return Base64.getEncoder().encodeToString(mac.doFinal());
        } catch (GeneralSecurityException e) {
            throw new AssertionError(e);
        }
    }

    /** Independent v1/v2 oracle: hex(SHA-256(utf8(prefix) || body)). */
    static String oracleLegacy(String prefix, byte[] body) {
        try {
            MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
            sha256.update(prefix.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(sha256.digest(body));
        } catch (GeneralSecurityException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static Request request(Vector v) {
        if (v.version().equals("v3")) {
            return v3Request(v.method(), v.url(), utf8(v.body()), v.signature(), Long.toString(v.timestamp()));
        }
        return new Request(v.method(), v.url(), utf8(v.body()), headers(HubSpotSignatureVerifier.SIGNATURE_HEADER,
                v.signature(), HubSpotSignatureVerifier.SIGNATURE_VERSION_HEADER, v.version()));
    }

    private static Request withHeader(Request r, String name, String value) {
        Map<String, List<String>> headers = new LinkedHashMap<>(r.headers());
        headers.put(name, List.of(value));
        return new Request(r.method(), r.uri(), r.body(), headers);
    }

    private static Request without(Request r, String name) {
        Map<String, List<String>> headers = new LinkedHashMap<>(r.headers());
        headers.remove(name);
        return new Request(r.method(), r.uri(), r.body(), headers);
    }

    // ---- the project's vectors (computed with @hubspot/api-client) ----------------------------------------

    @ParameterizedTest
    @MethodSource("v3Vectors")
    void everyV3VectorVerifies(Vector v) {
        HubSpotSignatureVerifier verifier = verifierAt(v.timestamp());
        assertThat(verifier.verify(request(v), List.of(v.clientSecret()), false)).isEqualTo(Result.VALID_V3);
        assertThat(verifier.verify(request(v), List.of(v.clientSecret()), true)).isEqualTo(Result.VALID_V3);
        assertThat(HubSpotSignatureVerifier.signV3(v.clientSecret(), v.method(), v.url(), utf8(v.body()),
                v.timestamp())).isEqualTo(v.signature());
        assertThat(oracleV3(v.clientSecret(), v.method(), v.url(), utf8(v.body()), Long.toString(v.timestamp())))
                .as("the test oracle agrees with the vector").isEqualTo(v.signature());
    }

    @ParameterizedTest
    @MethodSource("legacyVectors")
    void everyLegacyVectorVerifiesOnlyWhenLegacyIsAllowed(Vector v) {
        HubSpotSignatureVerifier verifier = verifierAt(T0);
        assertThat(verifier.verify(request(v), List.of(v.clientSecret()), true)).isEqualTo(Result.VALID_LEGACY);
        assertThat(verifier.verify(request(v), List.of(v.clientSecret()), false))
                .isEqualTo(Result.MISSING_SIGNATURE);
        assertThat(verifier.verify(request(v), List.of("another-secret"), true)).isEqualTo(Result.INVALID);
        byte[] tampered = utf8(v.body() + " ");
        assertThat(verifier.verify(new Request(v.method(), v.url(), tampered, request(v).headers()),
                List.of(v.clientSecret()), true)).isEqualTo(Result.INVALID);
    }

    @ParameterizedTest
    @MethodSource("v3Vectors")
    void tamperedBodyWrongSecretAndWrongUriFail(Vector v) {
        HubSpotSignatureVerifier verifier = verifierAt(v.timestamp());
        Request r = request(v);
        List<String> secrets = List.of(v.clientSecret());

        assertThat(verifier.verify(new Request(r.method(), r.uri(), utf8(v.body() + " "), r.headers()), secrets,
                false)).isEqualTo(Result.INVALID);
        if (!v.body().isEmpty()) {
            byte[] flipped = utf8(v.body());
            flipped[flipped.length / 2] ^= 1;
            assertThat(verifier.verify(new Request(r.method(), r.uri(), flipped, r.headers()), secrets, false))
                    .isEqualTo(Result.INVALID);
        }
        assertThat(verifier.verify(r, List.of("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"), false))
                .isEqualTo(Result.INVALID);

        for (String other : List.of(v.url().replace("vault.example.com", "evil.example.com"),
                v.url().replace("https://", "http://"),
                v.url().replace("/webhooks/default", "/webhooks/other"),
                v.url().contains("?") ? v.url().replace("v=3", "v=4") : v.url() + "?v=3",
                v.url().contains("?") ? v.url().substring(0, v.url().indexOf('?')) : v.url() + "/",
                v.url() + "&")) {
            assertThat(verifier.verify(new Request(r.method(), other, r.body(), r.headers()), secrets, false))
                    .as(other).isEqualTo(Result.INVALID);
        }
    }

    // ---- HubSpot's documented examples ("Validating requests from HubSpot") -------------------------------

    @Test
    void hubSpotDocumentationExamplesVerify() {
        HubSpotSignatureVerifier verifier = verifierAt(T0);
        String v1Body = "[{\"eventId\":1,\"subscriptionId\":12345,\"portalId\":62515,\"occurredAt\":1564113600000,"
                + "\"subscriptionType\":\"contact.creation\",\"attemptNumber\":0,\"objectId\":123,"
                + "\"changeSource\":\"CRM\",\"changeFlag\":\"NEW\",\"appId\":54321}]";
        Request v1 = new Request("POST", "https://www.example.com/webhook_uri", utf8(v1Body),
                headers("X-HubSpot-Signature", "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de",
                        "X-HubSpot-Signature-Version", "v1"));
        Request v2Get = new Request("GET", "https://www.example.com/webhook_uri", new byte[0],
                headers("X-HubSpot-Signature", "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e",
                        "X-HubSpot-Signature-Version", "v2"));
        Request v2Post = new Request("POST", "https://www.example.com/webhook_uri",
                utf8("{\"example_field\":\"example_value\"}"),
                headers("X-HubSpot-Signature", "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900",
                        "X-HubSpot-Signature-Version", "v2"));

        assertThat(verifier.verify(v1, List.of(SECRET), true)).isEqualTo(Result.VALID_LEGACY);
        assertThat(verifier.verify(v2Get, List.of(SECRET), true)).isEqualTo(Result.VALID_LEGACY);
        assertThat(verifier.verify(v2Post, List.of(SECRET), true)).isEqualTo(Result.VALID_LEGACY);
        assertThat(verifier.verify(new Request("POST", v2Get.uri(), v2Get.body(), v2Get.headers()),
                List.of(SECRET), true)).as("v2 covers the method").isEqualTo(Result.INVALID);
    }

    // ---- time window ------------------------------------------------------------------------------------

    @ParameterizedTest
    @MethodSource("v3Vectors")
    void timestampMustBeWithinFiveMinutesEitherWay(Vector v) {
        long ts = v.timestamp();
        long window = WINDOW.toMillis();
        List<String> secrets = List.of(v.clientSecret());

        assertThat(verifierAt(ts + window).verify(request(v), secrets, false)).isEqualTo(Result.VALID_V3);
        assertThat(verifierAt(ts - window).verify(request(v), secrets, false)).isEqualTo(Result.VALID_V3);
        assertThat(verifierAt(ts + window + 1).verify(request(v), secrets, false)).isEqualTo(Result.STALE);
        assertThat(verifierAt(ts + Duration.ofDays(400).toMillis()).verify(request(v), secrets, false))
                .isEqualTo(Result.STALE);
        assertThat(verifierAt(ts - window - 1).verify(request(v), secrets, false)).isEqualTo(Result.FUTURE);
        assertThat(verifierAt(ts - Duration.ofHours(1).toMillis()).verify(request(v), secrets, false))
                .isEqualTo(Result.FUTURE);
    }

    @Test
    void aStaleV3RequestDoesNotPassOnItsLegacySignature() {
        byte[] body = utf8(BODY);
        Request r = new Request("POST", URL, body,
                headers("X-HubSpot-Signature-v3", oracleV3(SECRET, "POST", URL, body, Long.toString(T0)),
                        "X-HubSpot-Request-Timestamp", Long.toString(T0),
                        "X-HubSpot-Signature", oracleLegacy(SECRET, body),
                        "X-HubSpot-Signature-Version", "v1"));

        assertThat(verifierAt(T0).verify(r, List.of(SECRET), true)).isEqualTo(Result.VALID_V3);
        assertThat(verifierAt(T0 + Duration.ofHours(1).toMillis()).verify(r, List.of(SECRET), true))
                .isEqualTo(Result.STALE);
        assertThat(verifierAt(T0).verify(without(r, "X-HubSpot-Signature-v3"), List.of(SECRET), true))
                .isEqualTo(Result.VALID_LEGACY);
        Request badV3 = withHeader(r, "X-HubSpot-Signature-v3", oracleV3("other", "POST", URL, body, "" + T0));
        assertThat(verifierAt(T0).verify(badV3, List.of(SECRET), true)).isEqualTo(Result.INVALID);
    }

    // ---- missing and malformed headers ------------------------------------------------------------------

    @ParameterizedTest
    @MethodSource("v3Vectors")
    void missingHeaders(Vector v) {
        HubSpotSignatureVerifier verifier = verifierAt(v.timestamp());
        List<String> secrets = List.of(v.clientSecret());
        Request r = request(v);

        assertThat(verifier.verify(without(r, "X-HubSpot-Signature-v3"), secrets, false))
                .isEqualTo(Result.MISSING_SIGNATURE);
        assertThat(verifier.verify(without(r, "X-HubSpot-Signature-v3"), secrets, true))
                .isEqualTo(Result.MISSING_SIGNATURE);
        assertThat(verifier.verify(new Request(r.method(), r.uri(), r.body(), Map.of()), secrets, true))
                .isEqualTo(Result.MISSING_SIGNATURE);
        assertThat(verifier.verify(new Request(r.method(), r.uri(), r.body(), null), secrets, true))
                .isEqualTo(Result.MISSING_SIGNATURE);
        assertThat(verifier.verify(withHeader(r, "X-HubSpot-Signature-v3", "   "), secrets, false))
                .as("a blank header is no header").isEqualTo(Result.MISSING_SIGNATURE);
        assertThat(verifier.verify(without(r, "X-HubSpot-Request-Timestamp"), secrets, false))
                .isEqualTo(Result.BAD_TIMESTAMP);
    }

    @ParameterizedTest
    @ValueSource(strings = { "", " ", "abc", "1764000000000.0", "1.764e12", "-1764000000000", "+1764000000000",
            "0x19AB", "1764000000000ms", "17640000000000000000000000", "99999999999999999999", "١٧٦٤", "1 764" })
    void garbledTimestampsAreRefused(String timestamp) throws IOException {
        Vector v = v3Vectors().findFirst().orElseThrow();
        Request r = withHeader(request(v), "X-HubSpot-Request-Timestamp", timestamp);
        assertThat(verifierAt(v.timestamp()).verify(r, List.of(v.clientSecret()), true))
                .isEqualTo(Result.BAD_TIMESTAMP);
    }

    @Test
    void aTimestampInSecondsIsStale() {
        long seconds = T0 / 1000;
        String sig = oracleV3(SECRET, "POST", URL, utf8(BODY), Long.toString(seconds));
        assertThat(verifierAt(T0).verify(v3Request("POST", URL, utf8(BODY), sig, Long.toString(seconds)),
                List.of(SECRET), false)).isEqualTo(Result.STALE);
    }

    @ParameterizedTest
    @ValueSource(strings = { "not base64!", "====", "AAAA", "51dFV50sy-KiOn6gTvwWpPgiPHkLpVsgZwbHk09iM7k=",
            "51dFV50sy KiOn6gTvwWpPgiPHkLpVsgZwbHk09iM7k=",
            "51dFV50sy+KiOn6gTvwWpPgiPHkLpVsgZwbHk09iM7k=51dFV50sy+KiOn6gTvwWpPgiPHkLpVsgZwbHk09iM7k=",
            "ebb60ff0a3d53edb449f77c6e14b86f4db3c350ad629565355ae2edb7b412234", "\u0000\uffff" })
    void malformedOrForeignV3SignaturesAreInvalid(String signature) throws IOException {
        Vector v = v3Vectors().findFirst().orElseThrow();
        Request r = withHeader(request(v), "X-HubSpot-Signature-v3", signature);
        assertThat(verifierAt(v.timestamp()).verify(r, List.of(v.clientSecret()), true)).isEqualTo(Result.INVALID);
    }

    @Test
    void unpaddedBase64OfTheRightMacIsAccepted() throws IOException {
        Vector v = v3Vectors().findFirst().orElseThrow();
        Request r = withHeader(request(v), "X-HubSpot-Signature-v3", v.signature().replace("=", ""));
        assertThat(verifierAt(v.timestamp()).verify(r, List.of(v.clientSecret()), false))
                .isEqualTo(Result.VALID_V3);
    }

    @Test
    void headerNamesAreCaseInsensitiveAndValuesTrimmed() throws IOException {
        Vector v = v3Vectors().findFirst().orElseThrow();
        Request r = new Request("POST", v.url(), utf8(v.body()), headers("x-hubspot-signature-v3",
                " " + v.signature() + " ", "X-HUBSPOT-REQUEST-TIMESTAMP", v.timestamp() + " "));
        assertThat(verifierAt(v.timestamp()).verify(r, List.of(v.clientSecret()), false))
                .isEqualTo(Result.VALID_V3);
    }

    @Test
    void repeatedHeadersMustAgree() throws IOException {
        Vector v = v3Vectors().findFirst().orElseThrow();
        HubSpotSignatureVerifier verifier = verifierAt(v.timestamp());
        List<String> secrets = List.of(v.clientSecret());
        String ts = Long.toString(v.timestamp());

        Request same = new Request("POST", v.url(), utf8(v.body()), headers("X-HubSpot-Signature-v3", v.signature(),
                "x-hubspot-signature-v3", v.signature(), "X-HubSpot-Request-Timestamp", ts));
        assertThat(verifier.verify(same, secrets, false)).isEqualTo(Result.VALID_V3);

        Request twoSignatures = new Request("POST", v.url(), utf8(v.body()), headers("X-HubSpot-Signature-v3",
                v.signature(), "X-HubSpot-Signature-v3", "AAAA", "X-HubSpot-Request-Timestamp", ts));
        assertThat(verifier.verify(twoSignatures, secrets, false)).isEqualTo(Result.INVALID);

        Request twoTimestamps = new Request("POST", v.url(), utf8(v.body()), headers("X-HubSpot-Signature-v3",
                v.signature(), "X-HubSpot-Request-Timestamp", ts, "x-hubspot-request-timestamp", ts + "1"));
        assertThat(verifier.verify(twoTimestamps, secrets, false)).isEqualTo(Result.BAD_TIMESTAMP);
    }

    @Test
    void legacyHeadersMustNameAKnownVersionAndMatchIt() throws IOException {
        HubSpotSignatureVerifier verifier = verifierAt(T0);
        Vector v1 = legacyVectors().filter(v -> v.version().equals("v1")).findFirst().orElseThrow();
        Request r = request(v1);
        List<String> secrets = List.of(v1.clientSecret());

        assertThat(verifier.verify(without(r, "X-HubSpot-Signature-Version"), secrets, true))
                .isEqualTo(Result.INVALID);
        assertThat(verifier.verify(withHeader(r, "X-HubSpot-Signature-Version", "v4"), secrets, true))
                .isEqualTo(Result.INVALID);
        assertThat(verifier.verify(withHeader(r, "X-HubSpot-Signature-Version", "v2"), secrets, true))
                .as("a v1 signature labelled v2").isEqualTo(Result.INVALID);
        assertThat(verifier.verify(withHeader(r, "X-HubSpot-Signature-Version", "V1"), secrets, true))
                .isEqualTo(Result.VALID_LEGACY);
        assertThat(verifier.verify(withHeader(r, "X-HubSpot-Signature", v1.signature().toUpperCase()), secrets,
                true)).isEqualTo(Result.VALID_LEGACY);
        for (String bad : List.of("zz", v1.signature().substring(1), v1.signature() + "00", "", "\uff10\uff11",
                Base64.getEncoder().encodeToString(HexFormat.of().parseHex(v1.signature())))) {
            assertThat(verifier.verify(withHeader(r, "X-HubSpot-Signature", bad), secrets, true)).as(bad)
                    .isIn(Result.INVALID, Result.MISSING_SIGNATURE);
        }
    }

    // ---- secrets ----------------------------------------------------------------------------------------

    @ParameterizedTest
    @MethodSource("v3Vectors")
    void anyListedSecretMayMatch(Vector v) {
        HubSpotSignatureVerifier verifier = verifierAt(v.timestamp());
        Request r = request(v);

        assertThat(verifier.verify(r, List.of("the-new-secret", v.clientSecret()), false))
                .as("previous secret still listed during rotation").isEqualTo(Result.VALID_V3);
        assertThat(verifier.verify(r, List.of(v.clientSecret(), "the-new-secret"), false))
                .isEqualTo(Result.VALID_V3);
        assertThat(verifier.verify(r, List.of("the-new-secret"), false)).as("previous secret dropped")
                .isEqualTo(Result.INVALID);
        assertThat(verifier.verify(r, List.of(), false)).isEqualTo(Result.INVALID);
        assertThat(verifier.verify(r, null, false)).isEqualTo(Result.INVALID);
        assertThat(verifier.verify(r, Arrays.asList(null, "", "  ", v.clientSecret()), false))
                .isEqualTo(Result.VALID_V3);
        assertThat(verifier.verify(r, Arrays.asList(null, "", "  "), false)).isEqualTo(Result.INVALID);
    }

    // ---- method and URI ---------------------------------------------------------------------------------

    @ParameterizedTest
    @MethodSource("v3Vectors")
    void methodIsComparedInUpperCase(Vector v) {
        HubSpotSignatureVerifier verifier = verifierAt(v.timestamp());
        Request r = request(v);
        List<String> secrets = List.of(v.clientSecret());

        for (String method : List.of("post", "Post", " POST ")) {
            assertThat(verifier.verify(new Request(method, r.uri(), r.body(), r.headers()), secrets, false))
                    .as(method).isEqualTo(Result.VALID_V3);
        }
        for (String method : List.of("GET", "PUT", "POS", "")) {
            assertThat(verifier.verify(new Request(method, r.uri(), r.body(), r.headers()), secrets, false))
                    .as(method).isEqualTo(Result.INVALID);
        }
    }

    @Test
    void uriIsSignedWithHubSpotsListedEscapesDecoded() {
        String raw = "https://vault.example.com/webhooks/default?next=https%3A%2F%2Fx.example%2Fa%20b%3Fq%3D1";
        String decoded = "https://vault.example.com/webhooks/default?next=https://x.example/a%20b?q%3D1";
        String ts = Long.toString(T0);
        byte[] body = utf8(BODY);
        HubSpotSignatureVerifier verifier = verifierAt(T0);

        assertThat(HubSpotSignatureVerifier.decodeUri(raw)).isEqualTo(decoded);
        assertThat(verifier.verify(v3Request("POST", raw, body, oracleV3(SECRET, "POST", decoded, body, ts), ts),
                List.of(SECRET), false)).as("as HubSpot's page says").isEqualTo(Result.VALID_V3);
        assertThat(verifier.verify(v3Request("POST", raw, body, oracleV3(SECRET, "POST", raw, body, ts), ts),
                List.of(SECRET), false)).as("as HubSpot's client libraries do").isEqualTo(Result.VALID_V3);
        assertThat(HubSpotSignatureVerifier.signV3(SECRET, "POST", raw, body, T0))
                .isEqualTo(oracleV3(SECRET, "POST", decoded, body, ts));

        String fullyDecoded = "https://vault.example.com/webhooks/default?next=https://x.example/a b?q=1";
        assertThat(verifier.verify(
                v3Request("POST", raw, body, oracleV3(SECRET, "POST", fullyDecoded, body, ts), ts), List.of(SECRET),
                false)).as("%20 and %3D are not on HubSpot's list").isEqualTo(Result.INVALID);
    }

    @Test
    void decodesExactlyTheListedEscapes() {
        assertThat(HubSpotSignatureVerifier.decodeUri("%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B"))
                .isEqualTo(":/?@!$'()*,;");
        assertThat(HubSpotSignatureVerifier.decodeUri("%3a%2f%3f%2a%2c%3b")).isEqualTo(":/?*,;");
        assertThat(HubSpotSignatureVerifier.decodeUri("%20%25%26%2B%3D%23%5B%5D%7E%41")).isEqualTo(
                "%20%25%26%2B%3D%23%5B%5D%7E%41");
        assertThat(HubSpotSignatureVerifier.decodeUri("%253A")).as("one pass only").isEqualTo("%253A");
        assertThat(HubSpotSignatureVerifier.decodeUri("a%3")).isEqualTo("a%3");
        assertThat(HubSpotSignatureVerifier.decodeUri("a%")).isEqualTo("a%");
        assertThat(HubSpotSignatureVerifier.decodeUri("%%3A%")).isEqualTo("%:%");
        assertThat(HubSpotSignatureVerifier.decodeUri("%\uff13\uff21")).isEqualTo("%\uff13\uff21");
        assertThat(HubSpotSignatureVerifier.decodeUri(URL)).isSameAs(URL);
    }

    // ---- bodies -----------------------------------------------------------------------------------------

    @Test
    void bodyIsTheExactRawBytes() {
        String ts = Long.toString(T0);
        HubSpotSignatureVerifier verifier = verifierAt(T0);
        byte[] notUtf8 = { '[', (byte) 0xC3, (byte) 0x28, (byte) 0xFF, ']' };
        assertThat(verifier.verify(v3Request("POST", URL, notUtf8, oracleV3(SECRET, "POST", URL, notUtf8, ts), ts),
                List.of(SECRET), false)).isEqualTo(Result.VALID_V3);

        String empty = oracleV3(SECRET, "POST", URL, new byte[0], ts);
        assertThat(verifier.verify(v3Request("POST", URL, null, empty, ts), List.of(SECRET), false))
                .as("a null body is an empty body").isEqualTo(Result.VALID_V3);

        byte[] reserialized = utf8(BODY.replace(",", ", "));
        assertThat(verifier.verify(
                v3Request("POST", URL, reserialized, oracleV3(SECRET, "POST", URL, utf8(BODY), ts), ts),
                List.of(SECRET), false)).isEqualTo(Result.INVALID);
    }

    // ---- robustness and hygiene -------------------------------------------------------------------------

    @Test
    void neverThrowsOnNullsAndGarbage() {
        HubSpotSignatureVerifier verifier = verifierAt(T0);
        String ts = Long.toString(T0);
        Map<String, List<String>> nullKeyAndValues = new LinkedHashMap<>();
        nullKeyAndValues.put(null, null);
        nullKeyAndValues.put("X-HubSpot-Signature-v3", Arrays.asList(null, "AAAA"));
        nullKeyAndValues.put("X-HubSpot-Request-Timestamp", null);
        Map<String, List<String>> throwing = new LinkedHashMap<>() {
            @Override
            public java.util.Set<Map.Entry<String, List<String>>> entrySet() {
                throw new IllegalStateException("hostile map");
            }
        };
        String huge = "A".repeat(1_000_000);

        assertThat(verifier.verify(null, List.of(SECRET), true)).isEqualTo(Result.INVALID);
        assertThat(verifier.verify(new Request(null, null, null, null), null, true))
                .isEqualTo(Result.MISSING_SIGNATURE);
        assertThat(verifier.verify(new Request(null, null, null, nullKeyAndValues), List.of(SECRET), true))
                .isEqualTo(Result.BAD_TIMESTAMP);
        assertThat(verifier.verify(new Request("POST", URL, null, throwing), List.of(SECRET), true))
                .isEqualTo(Result.INVALID);
        assertThat(verifier.verify(v3Request(null, URL, null, oracleV3(SECRET, "", URL, new byte[0], ts), ts),
                List.of(SECRET), true)).isEqualTo(Result.INVALID);
        assertThat(verifier.verify(v3Request("POST", null, null, "AAAA", ts), List.of(SECRET), true))
                .isEqualTo(Result.INVALID);
        assertThat(verifier.verify(v3Request("POST", huge, utf8(huge), huge, huge), List.of(SECRET), true))
                .isEqualTo(Result.BAD_TIMESTAMP);
        assertThat(verifier.verify(v3Request("POST", huge, utf8(huge), huge, ts), List.of(SECRET, huge), true))
                .isEqualTo(Result.INVALID);
        assertThat(verifier.verify(new Request("POST", URL, null, headers("X-HubSpot-Signature", huge,
                "X-HubSpot-Signature-Version", "v1")), List.of(SECRET), true)).isEqualTo(Result.INVALID);
        assertThat(verifier.verify(new Request(null, null, null, headers("X-HubSpot-Signature",
                oracleLegacy(SECRET, new byte[0]), "X-HubSpot-Signature-Version", "v2")), List.of(SECRET), true))
                .isEqualTo(Result.INVALID);
        assertThat(verifier.verify(new Request(null, null, null, headers("X-HubSpot-Signature",
                oracleLegacy(SECRET, new byte[0]), "X-HubSpot-Signature-Version", "v1")), List.of(SECRET), true))
                .as("v1 covers neither method nor URI").isEqualTo(Result.VALID_LEGACY);
    }

    @Test
    void extremeClocksAndTimestamps() {
        String sig = oracleV3(SECRET, "POST", URL, utf8(BODY), Long.toString(Long.MAX_VALUE));
        Request r = v3Request("POST", URL, utf8(BODY), sig, Long.toString(Long.MAX_VALUE));
        assertThat(verifierAt(Long.MIN_VALUE).verify(r, List.of(SECRET), false)).isEqualTo(Result.FUTURE);
        assertThat(verifierAt(Long.MAX_VALUE).verify(r, List.of(SECRET), false)).isEqualTo(Result.VALID_V3);
        Request zero = v3Request("POST", URL, utf8(BODY), sig, "0");
        assertThat(verifierAt(Long.MAX_VALUE).verify(zero, List.of(SECRET), false)).isEqualTo(Result.STALE);
        assertThat(verifierAt(Long.MIN_VALUE).verify(zero, List.of(SECRET), false)).isEqualTo(Result.FUTURE);

        HubSpotSignatureVerifier exact = new HubSpotSignatureVerifier(
                InstantSource.fixed(Instant.ofEpochMilli(T0)), Duration.ZERO);
        String ts = Long.toString(T0);
        assertThat(exact.verify(v3Request("POST", URL, utf8(BODY), oracleV3(SECRET, "POST", URL, utf8(BODY), ts),
                ts), List.of(SECRET), false)).isEqualTo(Result.VALID_V3);
    }

    @Test
    void requestToStringShowsNoSignatureNorBody() throws IOException {
        Vector v = v3Vectors().findFirst().orElseThrow();
        String text = request(v).toString();
        assertThat(text).doesNotContain(v.signature()).doesNotContain(v.body()).doesNotContain(v.clientSecret())
                .contains("X-HubSpot-Signature-v3").contains(v.body().length() + " bytes");
        assertThat(new Request(null, null, null, null).toString()).isNotNull();
    }

    @Test
    void constructorRefusesBadArgumentsAndSignRefusesEmptySecrets() {
        InstantSource clock = InstantSource.fixed(Instant.ofEpochMilli(T0));
        assertThatThrownBy(() -> new HubSpotSignatureVerifier(null, WINDOW)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> new HubSpotSignatureVerifier(clock, null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> new HubSpotSignatureVerifier(clock, Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new HubSpotSignatureVerifier(clock, Duration.ofSeconds(Long.MAX_VALUE)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> HubSpotSignatureVerifier.signV3("", "POST", URL, new byte[0], T0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageNotContaining(SECRET);
    }

    @Test
    void resultTellsWhichVerdictsLetARequestThrough() {
        assertThat(Arrays.stream(Result.values()).filter(Result::isValid))
                .containsExactlyInAnyOrder(Result.VALID_V3, Result.VALID_LEGACY);
    }
}
