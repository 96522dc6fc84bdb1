package dev.tokenvault.crypto;

/**
 * A data key wrapped by the key-encryption key: the provider's ciphertext (e.g. {@code vault:v3:...} or
 * {@code local:k1a2b3c4d:...}) and the key version it was wrapped with. Not secret by itself.
 */
public record WrappedKey(String ciphertext, String keyVersion) {
}
