package dev.tokenvault.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

class EnvelopeTest {

    private static final byte[] AAD = SecretField.ACCESS_TOKEN.aad("default", 62515);
    private static final Envelope ENVELOPE = new Envelope();

    @Test
    void sealsAndOpens() {
        byte[] key = ENVELOPE.newKey();
        byte[] sealed = ENVELOPE.seal(key, "secret-token".getBytes(StandardCharsets.UTF_8), AAD);

        assertThat(sealed[0]).isEqualTo(Envelope.FORMAT_V1);
        assertThat(new String(sealed, StandardCharsets.ISO_8859_1)).doesNotContain("secret-token");
        assertThat(new String(Envelope.open(key, sealed, AAD), StandardCharsets.UTF_8)).isEqualTo("secret-token");
    }

    @Test
    void everySealUsesAFreshNonce() {
        byte[] key = ENVELOPE.newKey();
        byte[] a = ENVELOPE.seal(key, new byte[] { 1, 2, 3 }, AAD);
        byte[] b = ENVELOPE.seal(key, new byte[] { 1, 2, 3 }, AAD);
        assertThat(a).isNotEqualTo(b);
    }

    @Test
    void refusesAnotherPortalFieldOrApp() {
        byte[] key = ENVELOPE.newKey();
        byte[] sealed = ENVELOPE.seal(key, "t".getBytes(StandardCharsets.UTF_8), AAD);

        assertThatThrownBy(() -> Envelope.open(key, sealed, SecretField.ACCESS_TOKEN.aad("default", 62516)))
                .isInstanceOf(CryptoException.class).hasMessageContaining("authentication failed");
        assertThatThrownBy(() -> Envelope.open(key, sealed, SecretField.REFRESH_TOKEN.aad("default", 62515)))
                .isInstanceOf(CryptoException.class);
        assertThatThrownBy(() -> Envelope.open(key, sealed, SecretField.ACCESS_TOKEN.aad("other", 62515)))
                .isInstanceOf(CryptoException.class);
    }

    @Test
    void refusesWrongKeyTamperingAndGarbage() {
        byte[] key = ENVELOPE.newKey();
        byte[] sealed = ENVELOPE.seal(key, "t".getBytes(StandardCharsets.UTF_8), AAD);

        assertThatThrownBy(() -> Envelope.open(ENVELOPE.newKey(), sealed, AAD)).isInstanceOf(CryptoException.class);
        byte[] tampered = sealed.clone();
        tampered[tampered.length - 1] ^= 1;
        assertThatThrownBy(() -> Envelope.open(key, tampered, AAD)).isInstanceOf(CryptoException.class);
        assertThatThrownBy(() -> Envelope.open(key, new byte[] { 9, 9, 9 }, AAD)).isInstanceOf(CryptoException.class)
                .hasMessageContaining("known format");
        assertThatThrownBy(() -> ENVELOPE.seal(new byte[16], new byte[1], AAD)).isInstanceOf(CryptoException.class);
    }

    @Property(tries = 200)
    void anyPlaintextRoundTrips(@ForAll byte[] plaintext) {
        byte[] key = ENVELOPE.newKey();
        assertThat(Envelope.open(key, ENVELOPE.seal(key, plaintext, AAD), AAD)).isEqualTo(plaintext);
    }

    @Property(tries = 200)
    void garbageNeverOpensAndNeverThrowsAnythingElse(@ForAll byte[] garbage) {
        byte[] key = ENVELOPE.newKey();
        assertThatThrownBy(() -> Envelope.open(key, garbage, AAD)).isInstanceOf(CryptoException.class);
    }
}
