package dev.tokenvault.nativeimage;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Expiry;

import dev.tokenvault.config.Caches;
import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * Caffeine picks a generated cache class and a generated node class by name when a cache is built; in a native image
 * only registered classes can be loaded (issue #14: {@code ClassNotFoundException: ...PSAMS} in the refresher). This
 * builds every shape {@link Caches} offers, asks Caffeine which classes it chose, and requires each to be registered.
 */
class CachesNativeTest {

    @Test
    void everyClassCaffeineLoadsForOurCacheShapesIsRegisteredForReflection() throws Exception {
        Set<String> registered = Set.of(Caches.class.getAnnotation(RegisterForReflection.class).classNames());
        Expiry<String, String> expiry = new Expiry<>() {
            @Override
            public long expireAfterCreate(String key, String value, long currentTime) {
                return Duration.ofMinutes(1).toNanos();
            }

            @Override
            public long expireAfterUpdate(String key, String value, long currentTime, long currentDuration) {
                return currentDuration;
            }

            @Override
            public long expireAfterRead(String key, String value, long currentTime, long currentDuration) {
                return currentDuration;
            }
        };
        Map<String, Cache<String, String>> shapes = Map.of(
                "expireAfterWrite", Caches.expireAfterWrite(10, Duration.ofMinutes(1)),
                "expireAfterAccess", Caches.expireAfterAccess(10, Duration.ofMinutes(1)),
                "expiring", Caches.expiring(10, expiry));
        for (Map.Entry<String, Cache<String, String>> shape : shapes.entrySet()) {
            List<String> loaded = loadedByName(shape.getValue());
            assertThat(loaded).as(shape.getKey()).hasSize(2).allMatch(n -> n.startsWith("com.github.benmanes.caffeine.cache."));
            assertThat(registered).as("classes Caffeine loads by name for the %s shape", shape.getKey())
                    .containsAll(loaded);
            // the cache works (a smoke check that the shape is what it claims)
            shape.getValue().put("k", "v");
            assertThat(shape.getValue().getIfPresent("k")).isEqualTo("v");
        }
    }

    /** The generated bounded-cache class and node-factory class Caffeine chose for {@code cache}. */
    static List<String> loadedByName(Cache<?, ?> cache) throws ReflectiveOperationException {
        Object local = field(cache, "cache");
        Object nodeFactory = field(local, "nodeFactory");
        return List.of(local.getClass().getName(), nodeFactory.getClass().getName());
    }

    private static Object field(Object owner, String name) throws ReflectiveOperationException {
        for (Class<?> c = owner.getClass(); c != null; c = c.getSuperclass()) {
            try {
                Field f = c.getDeclaredField(name);
                f.setAccessible(true);
                return f.get(owner);
            } catch (NoSuchFieldException e) {
                // look in the superclass
            }
        }
        throw new NoSuchFieldException(name + " in " + owner.getClass());
    }
}
