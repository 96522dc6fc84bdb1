package dev.tokenvault.crypto;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import io.smallrye.mutiny.Uni;

/**
 * Key-encryption with a local AES-256 key file: the embedded default for a laptop and for tests.
 * <p>
 * Wrapped keys look like {@code local:k1a2b3c4d:<base64>}, where {@code k1a2b3c4d} identifies the key file's key
 * (a hash prefix, not the key) and doubles as the key version. A previous key file may be configured so that keys
 * wrapped before a rotation still open until they are rewrapped.
 */
final class LocalKeyProvider implements KeyEncryptionProvider {

    static final String KEY_FILE = "tokenvault.crypto.local.key-file";
    static final String PREVIOUS_KEY_FILE = "tokenvault.crypto.local.previous-key-file";
    private static final String PREFIX = "local:";
    private static final byte[] AAD = "tokenvault/dek".getBytes(StandardCharsets.US_ASCII);

    private final Envelope envelope = new Envelope();
    private final String currentId;
    private final Map<String, byte[]> keys = new LinkedHashMap<>();

    /**
     * @param generateIfMissing create the key file on first start (dev and test only)
     * @param requirePrivate refuse a key file readable by group or others (prod)
     */
    LocalKeyProvider(Path keyFile, Optional<Path> previousKeyFile, boolean generateIfMissing, boolean requirePrivate) {
        if (generateIfMissing && !Files.exists(keyFile)) {
            generate(keyFile);
        }
        byte[] current = load(keyFile, KEY_FILE, requirePrivate);
        currentId = keyId(current);
        keys.put(currentId, current);
        previousKeyFile.ifPresent(p -> {
            byte[] previous = load(p, PREVIOUS_KEY_FILE, requirePrivate);
            keys.putIfAbsent(keyId(previous), previous);
        });
    }

    @Override
    public String name() {
        return "local";
    }

    @Override
    public Uni<WrappedKey> wrap(byte[] dataKey) {
        return Uni.createFrom().item(() -> wrapNow(dataKey));
    }

    @Override
    public Uni<byte[]> unwrap(WrappedKey wrapped) {
        return Uni.createFrom().item(() -> unwrapNow(wrapped.ciphertext()));
    }

    @Override
    public Uni<WrappedKey> rewrap(WrappedKey wrapped) {
        return Uni.createFrom().item(() -> {
            if (currentId.equals(wrapped.keyVersion()) && wrapped.ciphertext().startsWith(PREFIX + currentId + ":")) {
                return wrapped;
            }
            return wrapNow(unwrapNow(wrapped.ciphertext()));
        });
    }

    @Override
    public Uni<String> currentKeyVersion() {
        return Uni.createFrom().item(currentId);
    }

    private WrappedKey wrapNow(byte[] dataKey) {
        byte[] sealed = envelope.seal(keys.get(currentId), dataKey, AAD);
        return new WrappedKey(PREFIX + currentId + ":" + Base64.getEncoder().encodeToString(sealed), currentId);
    }

    private byte[] unwrapNow(String ciphertext) {
        String[] parts = ciphertext.split(":", 3);
        if (parts.length != 3 || !"local".equals(parts[0])) {
            throw new CryptoException("not a locally wrapped data key (expected local:<key id>:<base64>)");
        }
        byte[] key = keys.get(parts[1]);
        if (key == null) {
            throw new CryptoException("data key wrapped by key " + parts[1] + ", which is neither " + KEY_FILE
                    + " nor " + PREVIOUS_KEY_FILE);
        }
        try {
            return Envelope.open(key, Base64.getDecoder().decode(parts[2]), AAD);
        } catch (IllegalArgumentException e) {
            throw new CryptoException("wrapped data key is not valid base64");
        }
    }

    static String keyId(byte[] key) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update("tokenvault key id".getBytes(StandardCharsets.US_ASCII));
            return "k" + HexFormat.of().formatHex(sha.digest(key), 0, 4);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private void generate(Path keyFile) {
        try {
            Path parent = keyFile.toAbsolutePath().getParent();
            Files.createDirectories(parent);
            String line = Base64.getEncoder().encodeToString(envelope.newKey()) + "\n";
            if (posix()) {
                Files.createFile(keyFile, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                Files.writeString(keyFile, line, StandardOpenOption.TRUNCATE_EXISTING);
            } else {
                Files.writeString(keyFile, line, StandardOpenOption.CREATE_NEW);
            }
        } catch (IOException e) {
            throw new IllegalStateException(KEY_FILE + ": cannot create the key file " + keyFile + " ("
                    + e.getClass().getSimpleName() + ")");
        }
    }

    private static byte[] load(Path file, String configKey, boolean requirePrivate) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalStateException(configKey + ": key file " + file.toAbsolutePath()
                    + " does not exist; create one with: (umask 077; openssl rand -base64 32 > " + file + ")");
        }
        try {
            if (requirePrivate && posix()) {
                Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
                if (perms.contains(PosixFilePermission.GROUP_READ) || perms.contains(PosixFilePermission.OTHERS_READ)
                        || perms.contains(PosixFilePermission.GROUP_WRITE)
                        || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
                    throw new IllegalStateException(configKey + ": key file " + file.toAbsolutePath()
                            + " is accessible by group or others (" + PosixFilePermissions.toString(perms)
                            + "); restrict it with: chmod 600 " + file);
                }
            }
            String text = Files.readString(file, StandardCharsets.US_ASCII).trim();
            byte[] key;
            try {
                key = Base64.getDecoder().decode(text);
            } catch (IllegalArgumentException e) {
                throw new IllegalStateException(configKey + ": key file " + file.toAbsolutePath()
                        + " is not one line of base64 (expected the output of: openssl rand -base64 32)");
            }
            if (key.length != Envelope.KEY_BYTES) {
                throw new IllegalStateException(configKey + ": key file " + file.toAbsolutePath() + " holds "
                        + key.length + " bytes; it must hold 32 (openssl rand -base64 32)");
            }
            return key;
        } catch (IOException e) {
            throw new IllegalStateException(configKey + ": cannot read key file " + file.toAbsolutePath() + " ("
                    + e.getClass().getSimpleName() + ")");
        }
    }

    private static boolean posix() {
        return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    }
}
