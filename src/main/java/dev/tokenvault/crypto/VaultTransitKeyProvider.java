package dev.tokenvault.crypto;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.quarkus.vault.VaultTransitSecretReactiveEngine;
import io.quarkus.vault.client.VaultClientException;
import io.quarkus.vault.transit.ClearData;
import io.quarkus.vault.transit.DecryptionRequest;
import io.smallrye.mutiny.Uni;

/**
 * Key-encryption with HashiCorp Vault's Transit engine through quarkus-vault's reactive client. Data keys are
 * wrapped with {@code transit/encrypt}, opened with {@code transit/decrypt}, and moved to the newest key version with
 * {@code transit/rewrap}, so a rotation never brings them out of Vault in clear. The Transit mount is
 * {@code quarkus.vault.transit-secret-engine-mount-path} (defaulted from {@code tokenvault.crypto.vault.mount}).
 */
final class VaultTransitKeyProvider implements KeyEncryptionProvider {

    private static final Pattern VERSION = Pattern.compile("^vault:v(\\d+):");

    private final VaultTransitSecretReactiveEngine transit;
    private final String keyName;

    VaultTransitKeyProvider(VaultTransitSecretReactiveEngine transit, String keyName) {
        this.transit = transit;
        this.keyName = keyName;
    }

    @Override
    public String name() {
        return "vault";
    }

    @Override
    public Uni<WrappedKey> wrap(byte[] dataKey) {
        return transit.encrypt(keyName, new ClearData(dataKey), null)
                .map(VaultTransitKeyProvider::toWrapped)
                .onFailure().transform(e -> translate("encrypt", e));
    }

    @Override
    public Uni<byte[]> unwrap(WrappedKey wrapped) {
        return transit.decrypt(keyName, wrapped.ciphertext())
                .map(ClearData::getValue)
                .onFailure().transform(e -> translate("decrypt", e));
    }

    /** One {@code transit/decrypt} with {@code batch_input}: one round trip for a page of due connections. */
    @Override
    public Uni<Map<String, byte[]>> unwrapBatch(List<WrappedKey> wrapped) {
        List<DecryptionRequest> requests = new ArrayList<>(wrapped.size());
        wrapped.forEach(w -> requests.add(new DecryptionRequest(w.ciphertext())));
        return transit.decrypt(keyName, requests)
                .map(opened -> {
                    Map<String, byte[]> out = new HashMap<>();
                    for (DecryptionRequest r : requests) {
                        ClearData clear = opened.get(r);
                        if (clear != null) {
                            out.put(r.getCiphertext(), clear.getValue());
                        }
                    }
                    return out;
                })
                .onFailure().transform(e -> translate("decrypt (batch)", e));
    }

    @Override
    public Uni<WrappedKey> rewrap(WrappedKey wrapped) {
        return transit.rewrap(keyName, wrapped.ciphertext())
                .map(VaultTransitKeyProvider::toWrapped)
                .onFailure().transform(e -> translate("rewrap", e));
    }

    @Override
    public Uni<String> currentKeyVersion() {
        return transit.readKey(keyName)
                .map(detail -> detail.map(d -> "v" + d.getLatestVersion())
                        .orElseThrow(() -> new KeyServiceUnavailableException(
                                "Transit key '" + keyName + "' does not exist (tokenvault.crypto.vault.key-name)", null)))
                .onFailure(e -> !(e instanceof KeyServiceUnavailableException)).transform(e -> translate("read key", e));
    }

    static WrappedKey toWrapped(String ciphertext) {
        Matcher m = VERSION.matcher(ciphertext);
        if (!m.find()) {
            throw new CryptoException("Vault returned a ciphertext without a vault:vN: prefix");
        }
        return new WrappedKey(ciphertext, "v" + m.group(1));
    }

    /**
     * Vault's 4xx answers about a ciphertext (bad prefix, failed authentication, version below
     * {@code min_decryption_version}) mean the wrapped key cannot be opened; everything else (connection refused,
     * timeouts, 5xx, a sealed Vault, permission denied) means the key service is unavailable now.
     */
    private RuntimeException translate(String operation, Throwable e) {
        if (e instanceof CryptoException || e instanceof KeyServiceUnavailableException) {
            return (RuntimeException) e;
        }
        if (e instanceof VaultClientException vce) {
            Integer status = vce.getStatus();
            String errors = vce.getErrors() == null ? "" : String.join("; ", vce.getErrors());
            if (status != null && status == 400) {
                return new CryptoException("Vault Transit " + operation + " refused the wrapped data key: " + errors);
            }
            return new KeyServiceUnavailableException("Vault Transit " + operation + " failed with status " + status
                    + (errors.isEmpty() ? "" : ": " + errors), null);
        }
        if (e instanceof io.quarkus.vault.client.VaultException && e.getMessage() != null
                && e.getMessage().contains("ciphertext")) {
            // a failed batch item (rewrap answers 200 with the item's error): the wrapped key itself is refused
            return new CryptoException("Vault Transit " + operation + " refused the wrapped data key: " + e.getMessage());
        }
        return new KeyServiceUnavailableException(
                "Vault Transit " + operation + " failed: " + e.getClass().getSimpleName(), null);
    }
}
