package dev.tokenvault.crypto;

/**
 * An opened (plaintext) data key together with its wrapped form. Lives only in memory; {@link #toString()} never
 * shows the key.
 */
public final class DataKey {

    private final byte[] key;
    private final WrappedKey wrapped;

    DataKey(byte[] key, WrappedKey wrapped) {
        this.key = key;
        this.wrapped = wrapped;
    }

    byte[] key() {
        return key;
    }

    public WrappedKey wrapped() {
        return wrapped;
    }

    @Override
    public String toString() {
        return "DataKey[version=" + wrapped.keyVersion() + ", key=<redacted>]";
    }
}
