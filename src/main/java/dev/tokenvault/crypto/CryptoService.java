package dev.tokenvault.crypto;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import com.github.benmanes.caffeine.cache.Cache;

import dev.tokenvault.config.Caches;
import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.metrics.Metrics;
import io.smallrye.mutiny.Uni;

/**
 * Envelope encryption for connection secrets: each connection has its own random AES-256 data key, stored only
 * wrapped by the key-encryption provider; secret fields are sealed with AES-256-GCM under that data key with
 * associated data naming app, portal and field. Opened data keys are cached in memory (bounded, expiring).
 */
@ApplicationScoped
public class CryptoService {

    private final KeyEncryptionProvider provider;
    private final Envelope envelope = new Envelope();
    /** Null when caching is disabled ({@code tokenvault.crypto.data-key-cache-size=0}). */
    private final Cache<String, byte[]> openedKeys;

    /**
     * Keys opened ahead by {@link #prefetch} for the refreshes of one page, each taken out by its first read. Apart
     * from {@link #openedKeys}: that cache admits a new entry only when it seems used more often than the one it would
     * evict (Caffeine's TinyLFU), so once it is full most keys of a page would be turned away before their refresh
     * reads them (measured: 0.43 Vault calls per refresh at 100 000 connections with 10 000 cached keys). Never full
     * in use (pages are far smaller than its bound); what no refresh takes expires with the lease. Null when caching
     * is disabled.
     */
    private final Cache<String, byte[]> prefetched;

    /** Null in unit tests that build the service directly. */
    private final Metrics metrics;

    @Inject
    CryptoService(KeyEncryptionProvider provider, TokenVaultConfig config, Metrics metrics) {
        this(provider, config.crypto().dataKeyCacheSize(), config.crypto().dataKeyCacheTtl(),
                16L * Math.max(16, config.refresh().maxConcurrency()), metrics);
    }

    CryptoService(KeyEncryptionProvider provider, int cacheSize, Duration cacheTtl) {
        this(provider, cacheSize, cacheTtl, 256, null);
    }

    private CryptoService(KeyEncryptionProvider provider, int cacheSize, Duration cacheTtl, long prefetchBound,
            Metrics metrics) {
        this.metrics = metrics;
        this.provider = provider;
        this.openedKeys = cacheSize <= 0 ? null
                : Caches.expireAfterWrite(cacheSize, cacheTtl);
        this.prefetched = cacheSize <= 0 ? null : Caches.expireAfterWrite(prefetchBound, PREFETCH_TTL);
    }

    /** How long a key opened ahead waits for its refresh (the refresh lease's default). */
    static final Duration PREFETCH_TTL = Duration.ofSeconds(60);

    /** A new data key for a new connection, wrapped by the key-encryption provider. */
    public Uni<DataKey> newDataKey() {
        byte[] key = envelope.newKey();
        return provider.wrap(key).map(wrapped -> {
            remember(wrapped, key);
            return new DataKey(key, wrapped);
        });
    }

    /** Opens a wrapped data key (from memory when it was opened recently). */
    public Uni<DataKey> openDataKey(WrappedKey wrapped) {
        byte[] cached = openedKeys == null ? null : openedKeys.getIfPresent(wrapped.ciphertext());
        if (cached == null && prefetched != null) {
            cached = prefetched.asMap().remove(wrapped.ciphertext());
            if (cached != null) {
                remember(wrapped, cached);
            }
        }
        if (cached != null) {
            counted("cache");
            return Uni.createFrom().item(new DataKey(cached, wrapped));
        }
        counted("provider");
        return provider.unwrap(wrapped).map(key -> {
            if (key.length != Envelope.KEY_BYTES) {
                throw new CryptoException("unwrapped data key has " + key.length + " bytes, expected 32");
            }
            remember(wrapped, key);
            return new DataKey(key, wrapped);
        });
    }

    /**
     * Opens, in one call to the key service where the provider has one (Vault), those of {@code wrapped} that are not
     * in memory, and keeps them until their first read (at most {@link #PREFETCH_TTL}), so that reading each
     * connection afterwards finds its key in memory.
     * Does nothing without a cache or a batch call, or for fewer than two keys. A failure is the caller's to ignore:
     * each key is then unwrapped alone when it is read, which names the one that does not open.
     */
    public Uni<Void> prefetch(List<WrappedKey> wrapped) {
        if (openedKeys == null) {
            return Uni.createFrom().voidItem();
        }
        List<WrappedKey> missing = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (WrappedKey w : wrapped) {
            if (seen.add(w.ciphertext()) && openedKeys.getIfPresent(w.ciphertext()) == null
                    && prefetched.getIfPresent(w.ciphertext()) == null) {
                missing.add(w);
            }
        }
        if (missing.size() < 2) {
            return Uni.createFrom().voidItem();
        }
        return provider.unwrapBatch(missing).invoke(opened -> {
            if (!opened.isEmpty() && metrics != null) {
                metrics.dataKeysBatchUnwrapped(opened.size());
            }
            for (WrappedKey w : missing) {
                byte[] key = opened.get(w.ciphertext());
                if (key != null && key.length == Envelope.KEY_BYTES) {
                    prefetched.put(w.ciphertext(), key);
                }
            }
        }).replaceWithVoid();
    }

    private void counted(String source) {
        if (metrics != null) {
            metrics.dataKeyOpened(source);
        }
    }

    private void remember(WrappedKey wrapped, byte[] key) {
        if (openedKeys != null) {
            openedKeys.put(wrapped.ciphertext(), key);
        }
    }

    public byte[] seal(DataKey key, String app, long portalId, SecretField field, String plaintext) {
        return envelope.seal(key.key(), plaintext.getBytes(StandardCharsets.UTF_8), field.aad(app, portalId));
    }

    /**
     * @throws CryptoException when the ciphertext was sealed for another connection or field, with another key, or
     *         was altered
     */
    public String open(DataKey key, String app, long portalId, SecretField field, byte[] sealed) {
        try {
            return new String(Envelope.open(key.key(), sealed, field.aad(app, portalId)), StandardCharsets.UTF_8);
        } catch (CryptoException e) {
            throw new CryptoException("cannot open " + field.column() + " of " + app + "/" + portalId + ": "
                    + e.getMessage());
        }
    }

    /** Moves a wrapped data key to the newest key version (inside Vault with the vault provider). */
    public Uni<WrappedKey> rewrap(WrappedKey wrapped) {
        return provider.rewrap(wrapped);
    }

    public Uni<String> currentKeyVersion() {
        return provider.currentKeyVersion();
    }

    /** Drops an opened data key from memory (erase, uninstall). */
    public void forget(WrappedKey wrapped) {
        if (openedKeys != null) {
            openedKeys.invalidate(wrapped.ciphertext());
            prefetched.invalidate(wrapped.ciphertext());
        }
    }
}
