package dev.tokenvault.testing;

import java.time.Instant;
import java.util.List;
import java.util.Set;

import io.smallrye.jwt.build.Jwt;
import io.smallrye.jwt.build.JwtClaimsBuilder;

/** Caller JWTs signed with the test key pair ({@code src/test/resources/test-jwt}). */
public final class Jwts {

    public static final String ISSUER = "https://issuer.test";
    public static final String PRIVATE_KEY = "test-jwt/private.pem";

    private Jwts() {
    }

    public static JwtClaimsBuilder claims(String sub, Set<String> groups, List<String> portals) {
        JwtClaimsBuilder b = Jwt.issuer(ISSUER).subject(sub).groups(groups).expiresAt(Instant.now().plusSeconds(600));
        if (portals != null) {
            b.claim("portals", portals);
        }
        return b;
    }

    public static String token(String sub, Set<String> groups, List<String> portals) {
        return claims(sub, groups, portals).sign(PRIVATE_KEY);
    }

    /** {@code tokens.admin} and {@code tokens.read} over every portal. */
    public static String admin() {
        return token("ops-admin", Set.of("tokens.admin", "tokens.read"), List.of("*"));
    }

    public static String reader(String... portals) {
        return token("svc-reader", Set.of("tokens.read"), List.of(portals));
    }
}
