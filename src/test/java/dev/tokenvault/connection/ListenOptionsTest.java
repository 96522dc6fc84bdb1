package dev.tokenvault.connection;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Optional;

import org.eclipse.microprofile.config.Config;
import org.junit.jupiter.api.Test;

import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfigBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.SslMode;

/** The LISTEN connection connects the way the reactive pool does: same URL, credentials and TLS settings. */
class ListenOptionsTest {

    static Config config(Map<String, String> values) {
        return new SmallRyeConfigBuilder().withSources(new PropertiesConfigSource(values, "test", 100)).build();
    }

    @Test
    void plainUrlAndCredentials() {
        PgConnectOptions o = ConnectionChangeListener.listenOptions("vertx-reactive:postgresql://db.example:6432/vault",
                Optional.of("tv"), Optional.of("pw"), config(Map.of()));
        assertThat(o.getHost()).isEqualTo("db.example");
        assertThat(o.getPort()).isEqualTo(6432);
        assertThat(o.getDatabase()).isEqualTo("vault");
        assertThat(o.getUser()).isEqualTo("tv");
        assertThat(o.getPassword()).isEqualTo("pw");
        assertThat(o.getSslMode()).isEqualTo(SslMode.DISABLE);
        assertThat(o.getPemTrustOptions()).isNull();
    }

    @Test
    void theDatasourceTlsSettingsApply() {
        PgConnectOptions o = ConnectionChangeListener.listenOptions("postgresql://db.example/vault", Optional.empty(),
                Optional.empty(), config(Map.of(
                        "quarkus.datasource.reactive.postgresql.ssl-mode", "VERIFY_FULL", // enum spelling; "verify-full" works too
                        "quarkus.datasource.reactive.trust-certificate-pem.enabled", "true",
                        "quarkus.datasource.reactive.trust-certificate-pem.certs", "/etc/pg/ca.crt,/etc/pg/ca2.crt",
                        "quarkus.datasource.reactive.hostname-verification-algorithm", "HTTPS")));
        assertThat(o.getSslMode()).isEqualTo(SslMode.VERIFY_FULL);
        assertThat(o.getPemTrustOptions().getCertPaths()).containsExactly("/etc/pg/ca.crt", "/etc/pg/ca2.crt");
        assertThat(o.getHostnameVerificationAlgorithm()).isEqualTo("HTTPS");
        assertThat(o.isTrustAll()).isFalse();
    }

    @Test
    void sslModeInTheUrlAndTrustAllAndJks() {
        PgConnectOptions o = ConnectionChangeListener.listenOptions("postgresql://db.example/vault?sslmode=require",
                Optional.empty(), Optional.empty(), config(Map.of(
                        "quarkus.datasource.reactive.trust-all", "true",
                        "quarkus.datasource.reactive.trust-certificate-jks.enabled", "true",
                        "quarkus.datasource.reactive.trust-certificate-jks.path", "/etc/pg/trust.jks",
                        "quarkus.datasource.reactive.hostname-verification-algorithm", "NONE")));
        assertThat(o.getSslMode()).isEqualTo(SslMode.REQUIRE);
        assertThat(o.isTrustAll()).isTrue();
        assertThat(o.getTrustStoreOptions().getPath()).isEqualTo("/etc/pg/trust.jks");
        assertThat(o.getHostnameVerificationAlgorithm()).isNotEqualTo("NONE");
    }
}
