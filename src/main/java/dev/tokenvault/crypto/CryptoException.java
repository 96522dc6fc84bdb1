package dev.tokenvault.crypto;

/** A ciphertext could not be sealed or opened. Messages never contain key material or plaintext. */
public class CryptoException extends RuntimeException {
    public CryptoException(String message) {
        super(message, null, false, false);
    }
}
