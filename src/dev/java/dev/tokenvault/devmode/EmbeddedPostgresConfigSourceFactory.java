package dev.tokenvault.devmode;

import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

import org.eclipse.microprofile.config.spi.ConfigSource;

import io.smallrye.config.ConfigSourceContext;
import io.smallrye.config.ConfigSourceFactory;
import io.smallrye.config.ConfigValue;
import io.smallrye.config.common.MapBackedConfigSource;

/**
 * Dev mode only: when no datasource URL is configured, starts an embedded PostgreSQL (zonky, data kept under
 * {@code ./data/postgres}) and points both the reactive and the JDBC datasource at it. Any configured URL wins (this
 * source has the lowest ordinal, and is not consulted at all outside the {@code dev} profile).
 * <p>
 * The embedded PostgreSQL library is a {@code provided} dependency: on the dev-mode and test class paths, never in
 * a packaged application, so this class refers to it only by reflection.
 */
public class EmbeddedPostgresConfigSourceFactory implements ConfigSourceFactory {

    static final String LAUNCHER = "dev.tokenvault.devmode.EmbeddedPostgresLauncher";

    @Override
    public Iterable<ConfigSource> getConfigSources(ConfigSourceContext context) {
        if (!context.getProfiles().contains("dev") || configured(context, "quarkus.datasource.reactive.url")
                || configured(context, "quarkus.datasource.jdbc.url")) {
            return List.of();
        }
        String enabled = value(context, "tokenvault.dev.embedded-postgres");
        if ("false".equalsIgnoreCase(enabled)) {
            return List.of();
        }
        Map<String, String> props = launch(value(context, "tokenvault.dev.postgres-data-dir"));
        return List.of(new MapBackedConfigSource("tokenvault-embedded-postgres", props, 1) {
        });
    }

    @Override
    public OptionalInt getPriority() {
        return OptionalInt.of(1);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, String> launch(String dataDir) {
        try {
            Class<?> launcher = Class.forName(LAUNCHER, true, Thread.currentThread().getContextClassLoader());
            return (Map<String, String>) launcher.getMethod("start", String.class).invoke(null,
                    dataDir == null ? "data/postgres" : dataDir);
        } catch (ReflectiveOperationException | LinkageError e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new IllegalStateException("dev mode could not start the embedded PostgreSQL ("
                    + cause + "); configure quarkus.datasource.reactive.url and quarkus.datasource.jdbc.url "
                    + "to use another database", cause);
        }
    }

    private static boolean configured(ConfigSourceContext context, String name) {
        String v = value(context, name);
        return v != null && !v.isBlank();
    }

    private static String value(ConfigSourceContext context, String name) {
        ConfigValue v = context.getValue(name);
        return v == null ? null : v.getValue();
    }
}
