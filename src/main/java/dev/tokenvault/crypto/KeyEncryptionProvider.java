package dev.tokenvault.crypto;

import io.smallrye.mutiny.Uni;

/**
 * Wraps and unwraps data keys with a key-encryption key that this service never stores next to the data. One
 * implementation is active, chosen by {@code tokenvault.crypto.provider}.
 * <p>
 * Failures to reach the key service are {@link KeyServiceUnavailableException}; a wrapped key that does not open is
 * a {@link CryptoException}.
 */
public interface KeyEncryptionProvider {

    /** {@code local} or {@code vault}. */
    String name();

    Uni<WrappedKey> wrap(byte[] dataKey);

    Uni<byte[]> unwrap(WrappedKey wrapped);

    /**
     * Unwraps several keys in one call to the key service, where it has one (Vault Transit's {@code batch_input}).
     * Answers the opened keys by wrapped ciphertext; a provider without such a call answers an empty map (the caller
     * then unwraps each key when it needs it). Fails as a whole, e.g. when one of the keys does not open.
     */
    default Uni<java.util.Map<String, byte[]>> unwrapBatch(java.util.List<WrappedKey> wrapped) {
        return Uni.createFrom().item(java.util.Map.of());
    }

    /** Re-encrypts under the newest key version without the data key leaving the key service in clear. */
    Uni<WrappedKey> rewrap(WrappedKey wrapped);

    /** The newest key version, the target of a rewrap. */
    Uni<String> currentKeyVersion();
}
