package dev.tokenvault.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Reads the Dockerfiles in {@code src/main/docker} as text (no Docker needed) and checks what the deployment relies
 * on: the base images, a non-root numeric USER, port 8080, the exec-form ENTRYPOINT, and that nothing secret or
 * outside the build output goes into an image.
 */
class DockerfilesTest {

    static final Path DOCKER = Path.of("src", "main", "docker");
    static final Pattern SECRET_NAME = Pattern.compile("(?i).*(password|secret|token|credentials?|private[-_.]?key).*");

    /** One instruction: keyword (upper case) and its arguments, continuation lines joined. */
    record Instruction(String keyword, String arguments) {
    }

    record Dockerfile(String name, List<Instruction> instructions) {

        List<Instruction> all(String keyword) {
            return instructions.stream().filter(i -> i.keyword().equals(keyword)).toList();
        }

        Instruction last(String keyword) {
            List<Instruction> found = all(keyword);
            assertThat(found).as("%s in %s", keyword, name).isNotEmpty();
            return found.get(found.size() - 1);
        }

        int indexOfLast(String keyword) {
            return instructions.lastIndexOf(last(keyword));
        }

        List<String> entrypoint() throws IOException {
            String arguments = last("ENTRYPOINT").arguments();
            assertThat(arguments).as("ENTRYPOINT of %s in exec (JSON) form", name).startsWith("[");
            return new ObjectMapper().readValue(arguments, new TypeReference<List<String>>() {
            });
        }
    }

    static Dockerfile parse(String name) throws IOException {
        List<Instruction> instructions = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : Files.readAllLines(DOCKER.resolve(name))) {
            String trimmed = line.strip();
            if (current.isEmpty() && (trimmed.isEmpty() || trimmed.startsWith("#"))) {
                continue;
            }
            if (!current.isEmpty() && trimmed.startsWith("#")) {
                continue; // comment lines inside a continued instruction are dropped by Docker
            }
            if (trimmed.endsWith("\\")) {
                current.append(trimmed, 0, trimmed.length() - 1).append(' ');
                continue;
            }
            current.append(trimmed);
            String instruction = current.toString().strip();
            current.setLength(0);
            String[] parts = instruction.split("\\s+", 2);
            instructions.add(new Instruction(parts[0].toUpperCase(Locale.ROOT), parts.length > 1 ? parts[1] : ""));
        }
        assertThat(current.toString()).as("%s ends inside a continued line", name).isEmpty();
        return new Dockerfile(name, instructions);
    }

    @ParameterizedTest
    @ValueSource(strings = { "Dockerfile.jvm", "Dockerfile.native", "Dockerfile.native-micro" })
    void everyImageRunsUnprivilegedOn8080WithoutSecrets(String name) throws IOException {
        Dockerfile dockerfile = parse(name);

        // one stage, from a pinned base image
        assertThat(dockerfile.all("FROM")).as("stages of %s", name).hasSize(1);
        String from = dockerfile.last("FROM").arguments();
        assertThat(from).doesNotEndWith(":latest").matches(".+:[0-9][^\\s]*");

        // a numeric, non-root user, set after the files are copied and in force for the entrypoint
        String user = dockerfile.last("USER").arguments();
        assertThat(user).matches("[0-9]+(:[0-9]+)?");
        assertThat(Integer.parseInt(user.split(":")[0])).isPositive();
        assertThat(dockerfile.indexOfLast("USER")).isGreaterThan(dockerfile.indexOfLast("COPY"))
                .isLessThan(dockerfile.indexOfLast("ENTRYPOINT"));

        assertThat(dockerfile.all("EXPOSE")).extracting(Instruction::arguments).containsExactly("8080");
        assertThat(dockerfile.all("CMD")).as("CMD in %s", name).isEmpty();
        assertThat(dockerfile.all("ADD")).as("ADD in %s (use COPY of build output)", name).isEmpty();
        assertThat(dockerfile.entrypoint()).isNotEmpty();

        // only build output goes into the image; no secret is baked in
        for (Instruction copy : dockerfile.all("COPY")) {
            List<String> words = List.of(copy.arguments().split("\\s+"));
            List<String> sources = words.stream().filter(w -> !w.startsWith("--")).toList();
            assertThat(sources.subList(0, sources.size() - 1)).as("COPY sources in %s", name)
                    .allMatch(source -> source.startsWith("target/"));
        }
        for (Instruction instruction : dockerfile.instructions()) {
            if (instruction.keyword().equals("ENV") || instruction.keyword().equals("ARG")) {
                String variable = instruction.arguments().split("[=\\s]", 2)[0];
                assertThat(variable).as("%s %s in %s", instruction.keyword(), variable, name)
                        .doesNotMatch(SECRET_NAME);
            }
        }
    }

    @Test
    void jvmImageRunsTheFastJarAsUser185() throws IOException {
        Dockerfile dockerfile = parse("Dockerfile.jvm");

        assertThat(dockerfile.last("FROM").arguments()).startsWith("registry.access.redhat.com/ubi9/openjdk-");
        assertThat(dockerfile.last("USER").arguments()).isEqualTo("185");
        assertThat(dockerfile.all("COPY")).extracting(Instruction::arguments).containsExactly(
                "--chown=185 target/quarkus-app/lib/ /deployments/lib/",
                "--chown=185 target/quarkus-app/*.jar /deployments/",
                "--chown=185 target/quarkus-app/app/ /deployments/app/",
                "--chown=185 target/quarkus-app/quarkus/ /deployments/quarkus/");
        assertThat(dockerfile.all("ENV")).extracting(Instruction::arguments)
                .contains("JAVA_APP_JAR=\"/deployments/quarkus-run.jar\"")
                .anySatisfy(env -> assertThat(env).startsWith("JAVA_OPTS_APPEND=")
                        .contains("-Dquarkus.http.host=0.0.0.0")
                        .contains("-Djava.util.logging.manager=org.jboss.logmanager.LogManager"));
        assertThat(dockerfile.entrypoint()).containsExactly("/opt/jboss/container/java/run/run-java.sh");
    }

    @Test
    void nativeImageRunsTheRunnerAsUser1001() throws IOException {
        Dockerfile dockerfile = parse("Dockerfile.native");

        assertThat(dockerfile.last("FROM").arguments()).startsWith("registry.access.redhat.com/ubi9/ubi-minimal:9.");
        assertNativeLayout(dockerfile);
    }

    @Test
    void nativeMicroImageRunsTheRunnerAsUser1001() throws IOException {
        Dockerfile dockerfile = parse("Dockerfile.native-micro");

        assertThat(dockerfile.last("FROM").arguments()).isEqualTo("quay.io/quarkus/ubi9-quarkus-micro-image:2.0");
        assertNativeLayout(dockerfile);
    }

    static void assertNativeLayout(Dockerfile dockerfile) throws IOException {
        assertThat(dockerfile.last("USER").arguments()).isEqualTo("1001");
        assertThat(dockerfile.last("WORKDIR").arguments()).isEqualTo("/work/");
        assertThat(dockerfile.all("COPY")).singleElement().satisfies(copy -> assertThat(copy.arguments())
                .startsWith("--chown=1001:root").endsWith("target/*-runner /work/application"));
        assertThat(dockerfile.entrypoint()).containsExactly("./application", "-Dquarkus.http.host=0.0.0.0");
    }
}
