package dev.tokenvault.crypto;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * The benchmark's direct seeder seals connections with the service's own crypto classes (not a test; used by
 * {@code dev.tokenvault.bench.BenchSupport}): a fresh data key per connection from {@link Envelope}, wrapped by the
 * {@link LocalKeyProvider} of the service's key file or by Vault Transit (the caller's batch {@code transit/encrypt},
 * whose ciphertexts become {@link WrappedKey}s exactly as {@link VaultTransitKeyProvider} makes them), and each secret
 * field sealed by {@link CryptoService#seal} with the field's associated data. What a connection stored this way holds
 * is what the install flow would have stored, so the service opens it on a hand-out or a refresh.
 */
public final class BenchSealer {

    /** One sealed connection: the wrapped data key and the sealed refresh and access tokens. */
    public record Sealed(String wrapped, String keyVersion, byte[] refreshToken, byte[] accessToken) {
        @Override
        public String toString() {
            return "Sealed[" + keyVersion + "]";
        }
    }

    private final Envelope envelope = new Envelope();
    private final CryptoService crypto;
    /** Null for Vault: wrapping is {@link #vaultEncrypt}, a batch. */
    private final KeyEncryptionProvider local;
    private final Function<List<byte[]>, List<String>> vaultEncrypt;

    private BenchSealer(KeyEncryptionProvider local, Function<List<byte[]>, List<String>> vaultEncrypt) {
        this.local = local;
        this.vaultEncrypt = vaultEncrypt;
        // no data-key cache: the seeder never opens a key
        this.crypto = new CryptoService(local, 0, Duration.ofMinutes(1));
    }

    /** With the service's local key file (as in prod: it must be private to its owner). */
    public static BenchSealer local(Path keyFile) {
        return new BenchSealer(new LocalKeyProvider(keyFile, Optional.empty(), false, true), null);
    }

    /**
     * With Vault Transit: {@code batchEncrypt} takes data keys and answers their {@code vault:vN:...} ciphertexts in
     * order (one {@code transit/encrypt} call with {@code batch_input}).
     */
    public static BenchSealer vault(Function<List<byte[]>, List<String>> batchEncrypt) {
        return new BenchSealer(null, batchEncrypt);
    }

    /** Seals one batch of connections of {@code app}: {@code portals[i]} gets {@code refresh[i]} and {@code access[i]}. */
    public List<Sealed> seal(String app, long[] portals, String[] refresh, String[] access) {
        List<DataKey> keys = new ArrayList<>(portals.length);
        if (local != null) {
            for (int i = 0; i < portals.length; i++) {
                keys.add(crypto.newDataKey().await().indefinitely());
            }
        } else {
            List<byte[]> plain = new ArrayList<>(portals.length);
            for (int i = 0; i < portals.length; i++) {
                plain.add(envelope.newKey());
            }
            List<String> wrapped = vaultEncrypt.apply(plain);
            if (wrapped.size() != plain.size()) {
                throw new IllegalStateException("Vault answered " + wrapped.size() + " ciphertexts for " + plain.size());
            }
            for (int i = 0; i < portals.length; i++) {
                keys.add(new DataKey(plain.get(i), VaultTransitKeyProvider.toWrapped(wrapped.get(i))));
            }
        }
        List<Sealed> out = new ArrayList<>(portals.length);
        for (int i = 0; i < portals.length; i++) {
            DataKey k = keys.get(i);
            out.add(new Sealed(k.wrapped().ciphertext(), k.wrapped().keyVersion(),
                    crypto.seal(k, app, portals[i], SecretField.REFRESH_TOKEN, refresh[i]),
                    crypto.seal(k, app, portals[i], SecretField.ACCESS_TOKEN, access[i])));
        }
        return out;
    }
}
