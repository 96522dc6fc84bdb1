package dev.tokenvault.callers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.testing.TestClock;
import dev.tokenvault.web.ApiException;
import io.smallrye.jwt.auth.principal.JWTParser;
import io.smallrye.jwt.build.Jwt;

/** When an issuer's keys are fetched again, and what is kept when the source fails; against a scripted source. */
class IssuerKeysTest {

    static final String JWKS_A = "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"n\":\"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw\",\"e\":\"AQAB\"}]}";
    static final String JWKS_AB = JWKS_A.replace("]}",
            ",{\"kty\":\"RSA\",\"kid\":\"b\",\"n\":\"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw\",\"e\":\"AQAB\"}]}");

    final TestClock clock = new TestClock();
    final Deque<Object> answers = new ArrayDeque<>(); // String content or IOException
    final AtomicInteger fetches = new AtomicInteger();
    final AtomicInteger parsersBuilt = new AtomicInteger();

    IssuerKeys keys() {
        IssuerKeys.Source source = new IssuerKeys.Source() {
            @Override
            public String fetch() throws IOException {
                fetches.incrementAndGet();
                Object next = answers.isEmpty() ? new IOException("no answer scripted") : answers.poll();
                if (next instanceof IOException e) {
                    throw e;
                }
                return (String) next;
            }

            @Override
            public String describe() {
                return "scripted";
            }
        };
        return new IssuerKeys("test", source, content -> {
            parsersBuilt.incrementAndGet();
            return new io.smallrye.jwt.auth.principal.DefaultJWTParser();
        }, Duration.ofMinutes(10), Duration.ofSeconds(30), clock);
    }

    @Test
    void anUnknownKidFetchesAgainAtMostOncePerMinimumInterval() {
        answers.add(JWKS_A);
        answers.add(JWKS_AB);
        IssuerKeys keys = keys();
        JWTParser first = keys.parserFor("a");
        assertThat(first).isNotNull();
        assertThat(fetches).hasValue(1);
        keys.parserFor("a");
        assertThat(fetches).as("a known kid does not fetch").hasValue(1);
        keys.parserFor("b");
        assertThat(fetches).as("an unknown kid within 30 s of the last fetch waits").hasValue(1);
        for (int i = 0; i < 100; i++) {
            keys.parserFor("invented-" + i);
        }
        assertThat(fetches).hasValue(1);
        clock.advance(Duration.ofSeconds(31));
        JWTParser second = keys.parserFor("b");
        assertThat(fetches).hasValue(2);
        assertThat(second).isNotSameAs(first);
        keys.parserFor("b");
        assertThat(fetches).hasValue(2);
    }

    @Test
    void aFailingSourceKeepsTheLastGoodKeysAndTheScheduleRetries() {
        answers.add(JWKS_A);
        IssuerKeys keys = keys();
        JWTParser good = keys.parserFor("a");
        clock.advance(Duration.ofMinutes(11));
        answers.add(new IOException("HTTP 503"));
        answers.add("<html>not a key set</html>");
        answers.add("{\"keys\":[]}");
        assertThat(keys.parserFor("a")).as("due, the fetch fails: the last good keys").isSameAs(good);
        clock.advance(Duration.ofSeconds(31));
        keys.refreshIfDue();
        clock.advance(Duration.ofSeconds(31));
        keys.refreshIfDue();
        assertThat(fetches).hasValue(4);
        assertThat(keys.parserFor("a")).isSameAs(good);
        assertThat(parsersBuilt).as("nothing that is not a key set replaces it").hasValue(1);
        clock.advance(Duration.ofSeconds(31));
        answers.add(JWKS_AB);
        keys.refreshIfDue();
        assertThat(keys.parserFor("b")).isNotSameAs(good);
        assertThat(parsersBuilt).hasValue(2);
    }

    @Test
    void keysNeverFetchedAreAnOutageNotBadCredentials() {
        TokenVaultConfig.Callers callers = new TokenVaultConfig.Callers() {
            @Override
            public Map<String, Issuer> issuers() {
                return Map.of("down", new TestIssuer("https://down.test", URI.create("http://127.0.0.1:1/jwks")));
            }

            @Override
            public Map<String, Policy> policies() {
                return Map.of();
            }

            @Override
            public Duration keysCheckInterval() {
                return Duration.ofSeconds(30);
            }
        };
        CallerVerifier verifier = new CallerVerifier(null, null, callers, java.util.Set.of(), 10, Duration.ofSeconds(60),
                clock);
        String token = Jwt.issuer("https://down.test").subject("x").audience("tokenvault").jws().keyId("k")
                .sign("test-jwt/private.pem");
        assertThatThrownBy(() -> verifier.verify(token)).isInstanceOfSatisfying(ApiException.class,
                e -> assertThat(e.status()).isEqualTo(503));
        // a token of another issuer goes to the default issuer, which refuses it: 401
        String other = Jwt.issuer("https://elsewhere.test").subject("x").sign("test-jwt/private.pem");
        assertThatThrownBy(() -> new CallerVerifier(new CallerVerifierCacheTest.CountingParser(), null, callers,
                java.util.Set.of(), 10, Duration.ofSeconds(60), clock).verify(other))
                .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(401));
    }

    record TestIssuer(String iss, URI url) implements TokenVaultConfig.Callers.Issuer {
        @Override
        public String kind() {
            return "jwt";
        }

        @Override
        public Optional<String> issuer() {
            return Optional.of(iss);
        }

        @Override
        public Optional<URI> jwksUrl() {
            return Optional.of(url);
        }

        @Override
        public Optional<Path> publicKeyLocation() {
            return Optional.empty();
        }

        @Override
        public Optional<List<String>> audiences() {
            return Optional.of(List.of("tokenvault"));
        }

        @Override
        public boolean trustClaims() {
            return false;
        }

        @Override
        public Duration leeway() {
            return Duration.ofSeconds(30);
        }

        @Override
        public List<String> algorithms() {
            return List.of("RS256");
        }

        @Override
        public Optional<Path> jwksBearerTokenFile() {
            return Optional.empty();
        }

        @Override
        public Optional<Path> jwksCaFile() {
            return Optional.empty();
        }

        @Override
        public Duration jwksRefreshInterval() {
            return Duration.ofMinutes(10);
        }

        @Override
        public Duration jwksMinRefreshInterval() {
            return Duration.ofSeconds(30);
        }
    }
}
