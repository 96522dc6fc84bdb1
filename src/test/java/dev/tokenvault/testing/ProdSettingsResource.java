package dev.tokenvault.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

/**
 * What a production start needs and no profile default provides: a private key file, the caller-JWT verification
 * key and an app. For tests of the packaged application ({@code @QuarkusIntegrationTest}).
 */
public class ProdSettingsResource implements QuarkusTestResourceLifecycleManager {

    public static Path keyFile() {
        Path file = Path.of("target", "it-data", "tokenvault.key").toAbsolutePath();
        try {
            if (!Files.exists(file)) {
                Files.createDirectories(file.getParent());
                byte[] key = new byte[32];
                new SecureRandom().nextBytes(key);
                Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                Files.writeString(file, Base64.getEncoder().encodeToString(key) + "\n");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    public static Map<String, String> settings() {
        return Map.of(
                "tokenvault.crypto.local.key-file", keyFile().toString(),
                "mp.jwt.verify.publickey.location",
                Path.of("src", "test", "resources", "test-jwt", "public.pem").toAbsolutePath().toString(),
                "mp.jwt.verify.issuer", Jwts.ISSUER,
                "tokenvault.apps.default.client-id", FakeHubSpotResource.CLIENT_ID,
                "tokenvault.apps.default.client-secret", FakeHubSpotResource.CLIENT_SECRET);
    }

    /** The packaged application under test: these settings, and its management interface on the tests' port. */
    @Override
    public Map<String, String> start() {
        Map<String, String> config = new java.util.HashMap<>(settings());
        config.put("quarkus.management.port", Integer.toString(Management.port()));
        return config;
    }

    @Override
    public void stop() {
    }
}
