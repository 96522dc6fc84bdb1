package dev.tokenvault.crypto;

/** The key-encryption service (Vault, or the local key) cannot serve now; the caller may retry later. */
public class KeyServiceUnavailableException extends RuntimeException {
    public KeyServiceUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
