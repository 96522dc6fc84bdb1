package dev.tokenvault.webhook;

import static dev.tokenvault.webhook.HubSpotSignatureVerifierTest.BODY;
import static dev.tokenvault.webhook.HubSpotSignatureVerifierTest.SECRET;
import static dev.tokenvault.webhook.HubSpotSignatureVerifierTest.T0;
import static dev.tokenvault.webhook.HubSpotSignatureVerifierTest.URL;
import static dev.tokenvault.webhook.HubSpotSignatureVerifierTest.headers;
import static dev.tokenvault.webhook.HubSpotSignatureVerifierTest.v3Request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Locale;

import org.junit.jupiter.api.Test;

import dev.tokenvault.webhook.HubSpotSignatureVerifier.Request;
import dev.tokenvault.webhook.HubSpotSignatureVerifier.Result;

/** The future skew of v3 timestamps, and the key a delivery is remembered by. */
class HubSpotSignatureVerifierReplayTest {

    static final byte[] BODY_BYTES = BODY.getBytes(StandardCharsets.UTF_8);

    static HubSpotSignatureVerifier production(long nowMillis) {
        return new HubSpotSignatureVerifier(InstantSource.fixed(Instant.ofEpochMilli(nowMillis)),
                HubSpotSignatureVerifier.DEFAULT_WINDOW, HubSpotSignatureVerifier.DEFAULT_FUTURE_SKEW);
    }

    static Request signedAt(long ts) {
        return v3Request("POST", URL, BODY_BYTES, HubSpotSignatureVerifier.signV3(SECRET, "POST", URL, BODY_BYTES, ts),
                Long.toString(ts));
    }

    @Test
    void onlyASmallFutureSkewIsAccepted() {
        long skew = HubSpotSignatureVerifier.DEFAULT_FUTURE_SKEW.toMillis();
        HubSpotSignatureVerifier verifier = production(T0);
        assertThat(verifier.verify(signedAt(T0 + skew), List.of(SECRET), false)).isEqualTo(Result.VALID_V3);
        assertThat(verifier.verify(signedAt(T0 + skew + 1), List.of(SECRET), false)).isEqualTo(Result.FUTURE);
        assertThat(verifier.verify(signedAt(T0 + Duration.ofMinutes(4).toMillis()), List.of(SECRET), false))
                .isEqualTo(Result.FUTURE);
        // the past window is unchanged: 5 minutes
        long window = HubSpotSignatureVerifier.DEFAULT_WINDOW.toMillis();
        assertThat(verifier.verify(signedAt(T0 - window), List.of(SECRET), false)).isEqualTo(Result.VALID_V3);
        assertThat(verifier.verify(signedAt(T0 - window - 1), List.of(SECRET), false)).isEqualTo(Result.STALE);
        // a captured request is replayable for at most window + skew, not twice the window
        HubSpotSignatureVerifier zeroSkew = new HubSpotSignatureVerifier(InstantSource.fixed(Instant.ofEpochMilli(T0)),
                HubSpotSignatureVerifier.DEFAULT_WINDOW, Duration.ZERO);
        assertThat(zeroSkew.verify(signedAt(T0 + 1), List.of(SECRET), false)).isEqualTo(Result.FUTURE);
        assertThat(zeroSkew.verify(signedAt(T0), List.of(SECRET), false)).isEqualTo(Result.VALID_V3);
        assertThatThrownBy(() -> new HubSpotSignatureVerifier(InstantSource.system(), Duration.ofMinutes(5),
                Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new HubSpotSignatureVerifier(InstantSource.system(), Duration.ofMinutes(5), null))
                .isInstanceOf(NullPointerException.class);
    }

    @Test
    void aDeliveryKeyIsAHashOfTheDecodedSignatureAndTimestamp() {
        Request request = signedAt(T0);
        byte[] key = HubSpotSignatureVerifier.deliveryKey(request);
        assertThat(key).hasSize(32);
        String signature = request.headers().get(HubSpotSignatureVerifier.SIGNATURE_V3_HEADER).get(0);
        // spellings of one signature are one delivery: without padding, surrounding blanks
        String unpadded = signature.replace("=", "");
        assertThat(HubSpotSignatureVerifier.deliveryKey(v3Request("POST", URL, BODY_BYTES, unpadded, Long.toString(T0))))
                .isEqualTo(key);
        assertThat(HubSpotSignatureVerifier.deliveryKey(v3Request("POST", URL, BODY_BYTES, " " + signature + " ",
                Long.toString(T0)))).isEqualTo(key);
        // the URI and body are not part of the key (a replay may spell the URI differently)
        assertThat(HubSpotSignatureVerifier.deliveryKey(v3Request("POST", URL + "%3A", new byte[0], signature,
                Long.toString(T0)))).isEqualTo(key);
        // another timestamp or signature is another delivery
        assertThat(HubSpotSignatureVerifier.deliveryKey(signedAt(T0 + 1))).isNotEqualTo(key);
        // legacy: by version and decoded signature (hex digits in either case are one signature)
        String v1 = HubSpotSignatureVerifierTest.oracleLegacy(SECRET, BODY_BYTES);
        byte[] legacy = HubSpotSignatureVerifier.deliveryKey(new Request("POST", URL, BODY_BYTES,
                headers(HubSpotSignatureVerifier.SIGNATURE_HEADER, v1,
                        HubSpotSignatureVerifier.SIGNATURE_VERSION_HEADER, "v1")));
        assertThat(legacy).hasSize(32).isNotEqualTo(key);
        assertThat(HubSpotSignatureVerifier.deliveryKey(new Request("POST", URL, BODY_BYTES,
                headers(HubSpotSignatureVerifier.SIGNATURE_HEADER, v1.toUpperCase(Locale.ROOT),
                        HubSpotSignatureVerifier.SIGNATURE_VERSION_HEADER, "V1"))))
                .isEqualTo(legacy);
        // nothing usable: no key
        assertThat(HubSpotSignatureVerifier.deliveryKey(new Request("POST", URL, BODY_BYTES, headers()))).isNull();
        assertThat(HubSpotSignatureVerifier.deliveryKey(v3Request("POST", URL, BODY_BYTES, "not base64!", "1")))
                .isNull();
    }
}
