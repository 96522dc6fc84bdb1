package dev.tokenvault.crypto;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;

import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES-256-GCM sealing, the one primitive behind data ciphertexts and local key wrapping.
 * <p>
 * Format: {@code 0x01 || nonce (12 bytes) || ciphertext || tag (16 bytes)}. The leading byte names the format so
 * a later one can be introduced without guessing. Thread-safe; its only state is its random source, an instance
 * field created at run time (a native image must never carry a seeded {@link SecureRandom} in its heap, so no class
 * of the production build holds one in static state; see docs/architecture.md, "Native image").
 */
public final class Envelope {

    static final byte FORMAT_V1 = 1;
    static final int KEY_BYTES = 32;
    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;
    private final SecureRandom random = new SecureRandom();

    /** A fresh random 256-bit key. */
    public byte[] newKey() {
        byte[] key = new byte[KEY_BYTES];
        random.nextBytes(key);
        return key;
    }

    public byte[] seal(byte[] key, byte[] plaintext, byte[] aad) {
        requireKey(key);
        byte[] nonce = new byte[NONCE_BYTES];
        random.nextBytes(nonce);
        try {
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(TAG_BITS, nonce));
            cipher.updateAAD(aad);
            byte[] sealed = cipher.doFinal(plaintext);
            return ByteBuffer.allocate(1 + NONCE_BYTES + sealed.length).put(FORMAT_V1).put(nonce).put(sealed).array();
        } catch (GeneralSecurityException e) {
            throw new CryptoException("AES-GCM sealing failed: " + e.getClass().getSimpleName());
        }
    }

    /**
     * Opens a sealed value.
     *
     * @throws CryptoException when the value was not sealed with this key and associated data, or was altered
     */
    public static byte[] open(byte[] key, byte[] sealed, byte[] aad) {
        requireKey(key);
        if (sealed == null || sealed.length < 1 + NONCE_BYTES + TAG_BITS / 8 || sealed[0] != FORMAT_V1) {
            throw new CryptoException("not a sealed value of a known format");
        }
        try {
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"),
                    new GCMParameterSpec(TAG_BITS, sealed, 1, NONCE_BYTES));
            cipher.updateAAD(aad);
            return cipher.doFinal(sealed, 1 + NONCE_BYTES, sealed.length - 1 - NONCE_BYTES);
        } catch (AEADBadTagException e) {
            throw new CryptoException(
                    "authentication failed: wrong key, or the ciphertext belongs to another connection or field, or was altered");
        } catch (GeneralSecurityException e) {
            throw new CryptoException("AES-GCM opening failed: " + e.getClass().getSimpleName());
        }
    }

    private static void requireKey(byte[] key) {
        if (key == null || key.length != KEY_BYTES) {
            throw new CryptoException("an AES-256 key has 32 bytes");
        }
    }
}
