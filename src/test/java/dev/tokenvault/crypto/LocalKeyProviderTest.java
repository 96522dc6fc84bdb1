package dev.tokenvault.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalKeyProviderTest {

    @TempDir
    Path dir;

    @Test
    void generatesAPrivateKeyFileInDevAndWrapsAndUnwraps() throws Exception {
        Path file = dir.resolve("sub/tokenvault.key");
        LocalKeyProvider provider = new LocalKeyProvider(file, Optional.empty(), true, true);

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(Base64.getDecoder().decode(Files.readString(file).trim())).hasSize(32);

        byte[] dek = new Envelope().newKey();
        WrappedKey wrapped = provider.wrap(dek).await().indefinitely();
        String version = provider.currentKeyVersion().await().indefinitely();
        assertThat(wrapped.keyVersion()).isEqualTo(version).matches("k[0-9a-f]{8}");
        assertThat(wrapped.ciphertext()).startsWith("local:" + version + ":")
                .doesNotContain(Base64.getEncoder().encodeToString(dek));
        assertThat(provider.unwrap(wrapped).await().indefinitely()).isEqualTo(dek);
    }

    @Test
    void prodRefusesAMissingKeyFileNamingTheKey() {
        assertThatThrownBy(() -> new LocalKeyProvider(dir.resolve("none.key"), Optional.empty(), false, true))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("tokenvault.crypto.local.key-file").hasMessageContaining("does not exist");
    }

    @Test
    void prodRefusesAKeyFileReadableByOthers() throws Exception {
        Path file = keyFile("open.key", "rw-r--r--");
        assertThatThrownBy(() -> new LocalKeyProvider(file, Optional.empty(), false, true))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("tokenvault.crypto.local.key-file").hasMessageContaining("chmod 600");
    }

    @Test
    void refusesMalformedKeyFilesWithoutShowingThem() throws Exception {
        Path notBase64 = dir.resolve("bad.key");
        Files.writeString(notBase64, "this is !!! not base64");
        Files.setPosixFilePermissions(notBase64, PosixFilePermissions.fromString("rw-------"));
        assertThatThrownBy(() -> new LocalKeyProvider(notBase64, Optional.empty(), false, true))
                .hasMessageContaining("not one line of base64").hasMessageNotContaining("!!!");

        Path shortKey = dir.resolve("short.key");
        Files.writeString(shortKey, Base64.getEncoder().encodeToString(new byte[16]));
        Files.setPosixFilePermissions(shortKey, PosixFilePermissions.fromString("rw-------"));
        assertThatThrownBy(() -> new LocalKeyProvider(shortKey, Optional.empty(), false, true))
                .hasMessageContaining("holds 16 bytes");
    }

    @Test
    void rotationWithAPreviousKeyRewrapsToTheNewKey() throws Exception {
        Path oldFile = keyFile("old.key", "rw-------");
        Path newFile = keyFile("new.key", "rw-------");
        LocalKeyProvider before = new LocalKeyProvider(oldFile, Optional.empty(), false, true);
        byte[] dek = new Envelope().newKey();
        WrappedKey old = before.wrap(dek).await().indefinitely();

        LocalKeyProvider withoutPrevious = new LocalKeyProvider(newFile, Optional.empty(), false, true);
        assertThatThrownBy(() -> withoutPrevious.unwrap(old).await().indefinitely())
                .isInstanceOf(CryptoException.class).hasMessageContaining("previous-key-file");

        LocalKeyProvider after = new LocalKeyProvider(newFile, Optional.of(oldFile), false, true);
        assertThat(after.unwrap(old).await().indefinitely()).isEqualTo(dek);
        WrappedKey moved = after.rewrap(old).await().indefinitely();
        assertThat(moved.keyVersion()).isEqualTo(after.currentKeyVersion().await().indefinitely())
                .isNotEqualTo(old.keyVersion());
        assertThat(withoutPrevious.unwrap(moved).await().indefinitely()).isEqualTo(dek);
        assertThat(after.rewrap(moved).await().indefinitely()).isSameAs(moved);
    }

    private Path keyFile(String name, String perms) throws Exception {
        Path file = dir.resolve(name);
        Files.writeString(file, Base64.getEncoder().encodeToString(new Envelope().newKey()) + "\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(perms));
        return file;
    }
}
