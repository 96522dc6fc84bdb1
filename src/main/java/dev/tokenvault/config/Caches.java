package dev.tokenvault.config;

import java.time.Duration;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;

import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * Every in-memory cache of the application is built here, in one of three shapes.
 * <p>
 * Caffeine picks a generated cache class and a generated node class by name at run time (for example {@code SSMSA}
 * and {@code PSAMS}), which a native image can load only when they are registered for reflection. The names below are
 * those of the three shapes; {@code CachesNativeTest} builds each shape and fails when Caffeine would load a class
 * that is not listed, and {@code NativeImageRulesTest} fails when a production class builds a cache elsewhere.
 */
@RegisterForReflection(classNames = {
        // bounded caches and their nodes: expire-after-write is SSMSW + PSWMS, expire-after-access SSMSA + PSAMS,
        // a custom Expiry SSMSA + PSWMS (CachesNativeTest asks Caffeine)
        "com.github.benmanes.caffeine.cache.SSMSW", "com.github.benmanes.caffeine.cache.PSWMS",
        "com.github.benmanes.caffeine.cache.SSMSA", "com.github.benmanes.caffeine.cache.PSAMS" }, methods = true, fields = true)
public final class Caches {

    private Caches() {
    }

    /** At most {@code maximumSize} entries, each dropped {@code ttl} after it was written. */
    public static <K, V> Cache<K, V> expireAfterWrite(long maximumSize, Duration ttl) {
        return Caffeine.newBuilder().maximumSize(maximumSize).expireAfterWrite(ttl).<K, V> build();
    }

    /** At most {@code maximumSize} entries, each dropped {@code idle} after it was last read or written. */
    public static <K, V> Cache<K, V> expireAfterAccess(long maximumSize, Duration idle) {
        return Caffeine.newBuilder().maximumSize(maximumSize).expireAfterAccess(idle).<K, V> build();
    }

    /** At most {@code maximumSize} entries, each living as long as {@code expiry} says. */
    public static <K, V> Cache<K, V> expiring(long maximumSize, Expiry<? super K, ? super V> expiry) {
        return Caffeine.newBuilder().maximumSize(maximumSize).<K, V> expireAfter(expiry).build();
    }

    /**
     * At most {@code maximumSize} entries, each living for what {@code lifetime} says when it is written (again on
     * every write; reads do not extend it). A negative lifetime is none.
     */
    public static <K, V> Cache<K, V> livingFor(long maximumSize, java.util.function.Function<? super V, Duration> lifetime) {
        return expiring(maximumSize, new Expiry<K, V>() {
            @Override
            public long expireAfterCreate(K key, V value, long currentTime) {
                return Math.max(0, lifetime.apply(value).toNanos());
            }

            @Override
            public long expireAfterUpdate(K key, V value, long currentTime, long currentDuration) {
                return expireAfterCreate(key, value, currentTime);
            }

            @Override
            public long expireAfterRead(K key, V value, long currentTime, long currentDuration) {
                return currentDuration;
            }
        });
    }
}
