package dev.tokenvault.devmode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

/**
 * Starts one embedded PostgreSQL per JVM for dev mode, keeping its data between runs. Loaded only by
 * {@link EmbeddedPostgresConfigSourceFactory}, by reflection, in the dev profile.
 */
public final class EmbeddedPostgresLauncher {

    private static final String URL_PROPERTY = "dev.tokenvault.embedded-postgres.port";

    private EmbeddedPostgresLauncher() {
    }

    /** Starts PostgreSQL once per JVM (config is read more than once, by several class loaders) and returns URLs. */
    public static synchronized Map<String, String> start(String dataDir) throws IOException {
        String port = System.getProperty(URL_PROPERTY);
        if (port == null) {
            Path dir = Path.of(dataDir).toAbsolutePath();
            Files.createDirectories(dir.getParent());
            EmbeddedPostgres pg = EmbeddedPostgres.builder()
                    .setDataDirectory(dir)
                    .setCleanDataDirectory(false)
                    .start();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    pg.close();
                } catch (IOException ignored) {
                    // the process is ending anyway
                }
            }, "embedded-postgres-stop"));
            port = Integer.toString(pg.getPort());
            System.setProperty(URL_PROPERTY, port);
        }
        return Map.of(
                "quarkus.datasource.reactive.url", "postgresql://localhost:" + port + "/postgres",
                "quarkus.datasource.jdbc.url", "jdbc:postgresql://localhost:" + port + "/postgres",
                "quarkus.datasource.username", "postgres",
                "quarkus.datasource.password", "postgres");
    }
}
