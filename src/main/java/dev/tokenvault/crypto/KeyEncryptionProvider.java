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

    /** Re-encrypts under the newest key version without the data key leaving the key service in clear. */
    Uni<WrappedKey> rewrap(WrappedKey wrapped);

    /** The newest key version, the target of a rewrap. */
    Uni<String> currentKeyVersion();
}
