package dev.tokenvault.callers;

import java.io.StringReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;

import org.eclipse.microprofile.jwt.JsonWebToken;
import org.jboss.logging.Logger;

import com.github.benmanes.caffeine.cache.Cache;

import dev.tokenvault.config.Apps;
import dev.tokenvault.config.Caches;
import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.web.ApiException;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.runtime.QuarkusSecurityIdentity;
import io.smallrye.jwt.algorithm.SignatureAlgorithm;
import io.smallrye.jwt.auth.principal.DefaultJWTCallerPrincipalFactory;
import io.smallrye.jwt.auth.principal.DefaultJWTParser;
import io.smallrye.jwt.auth.principal.JWTAuthContextInfo;
import io.smallrye.jwt.auth.principal.JWTParser;
import io.smallrye.jwt.auth.principal.ParseException;

/**
 * Turns a bearer token into a {@link Caller}: picks the trusted issuer the token names ({@code iss}; the
 * {@code default} issuer of {@code mp.jwt.verify.*} for any other), verifies it with smallrye-jwt against that
 * issuer's keys, audiences and algorithms only, checks the shape of a Kubernetes service-account token, and evaluates
 * the claims grant and the policies once. The result is remembered with the raw token (compared in full), so a service
 * that reuses its token pays for one signature check per token, not per request: an entry lives until the token's
 * {@code exp} (checked on every hit) or {@code tokenvault.jwt-cache.ttl}, whichever comes first; the TTL bounds how long
 * a token stays accepted after its key was withdrawn. Failures are never remembered.
 */
@ApplicationScoped
public class CallerVerifier {

    private static final Logger LOG = Logger.getLogger(CallerVerifier.class);
    /** The {@link SecurityIdentity} attribute that holds the {@link Caller}. */
    public static final String ATTRIBUTE = "tokenvault.caller";
    static final String KUBERNETES_ISSUER = "https://kubernetes.default.svc.cluster.local";
    static final URI KUBERNETES_JWKS = URI.create("https://kubernetes.default.svc/openid/v1/jwks");
    static final Path POD_TOKEN = Path.of("/var/run/secrets/kubernetes.io/serviceaccount/token");
    static final Path POD_CA = Path.of("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
    private static final Pattern SERVICE_ACCOUNT = Pattern.compile("system:serviceaccount:([^:]+):([^:]+)");
    private static final String PREFIX = "tokenvault.callers.issuers.";

    /** A verified token: who, its identity for Quarkus security, and until when it may be reused. */
    public record Verified(Caller caller, SecurityIdentity identity, Instant until) {
    }

    /** One trusted issuer. {@code keys} is null for {@code default}, whose keys smallrye-jwt's own parser holds. */
    record Issuer(String name, String iss, boolean kubernetes, boolean trustClaims, IssuerKeys keys) {
    }

    private final JWTParser defaultParser;
    private final InstantSource clock;
    private final Duration ttl;
    private final Cache<String, Verified> verified;
    private final Issuer defaultIssuer;
    private final Map<String, Issuer> byIss;
    private final Map<String, Issuer> byName;
    private final Policies policies;

    @Inject
    CallerVerifier(JWTParser defaultParser, JWTAuthContextInfo defaultInfo, TokenVaultConfig config,
            InstantSource clock) {
        this(defaultParser, defaultInfo.getIssuedBy(), config.callers(), config.apps().keySet(),
                config.jwtCache().size(), config.jwtCache().ttl(), clock);
    }

    CallerVerifier(JWTParser defaultParser, String defaultIss, TokenVaultConfig.Callers callers, Set<String> appNames,
            int cacheSize, Duration ttl, InstantSource clock) {
        this.defaultParser = defaultParser;
        this.clock = clock;
        this.ttl = ttl;
        this.defaultIssuer = new Issuer(Caller.DEFAULT_ISSUER, defaultIss, false, true, null);
        Map<String, Issuer> names = new LinkedHashMap<>();
        Map<String, Issuer> isses = new HashMap<>();
        names.put(Caller.DEFAULT_ISSUER, defaultIssuer);
        callers.issuers().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
            Issuer issuer = issuer(e.getKey(), e.getValue(), clock);
            Issuer same = isses.get(issuer.iss());
            if (same != null || issuer.iss().equals(defaultIss)) {
                throw new IllegalStateException(PREFIX + e.getKey() + ".issuer: '" + issuer.iss() + "' is already the "
                        + "issuer of " + (same == null ? "default (mp.jwt.verify.issuer)" : PREFIX + same.name()));
            }
            isses.put(issuer.iss(), issuer);
            names.put(issuer.name(), issuer);
        });
        this.byName = Map.copyOf(names);
        this.byIss = Map.copyOf(isses);
        this.policies = Policies.compile(callers.policies(), byName.keySet(), appNames);
        this.verified = cacheSize <= 0 || ttl.isZero() || ttl.isNegative() ? null
                : Caches.livingFor(cacheSize, (Verified v) -> Duration.between(clock.instant(), v.until()));
    }

    /** Fails the start on an invalid issuer or policy (the constructor checks them), and says what is trusted. */
    void start(@Observes StartupEvent event) {
        LOG.infof("callers: issuers %s, %d access policies", new TreeSet<>(byName.keySet()), policies.size());
    }

    /** Fetches keys that are due, so a token seldom waits for a fetch (and an idle issuer's keys stay current). */
    @Scheduled(every = "${tokenvault.callers.keys-check-interval:30S}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void refreshKeys() {
        byName.values().forEach(i -> {
            if (i.keys() != null) {
                i.keys().refreshIfDue();
            }
        });
    }

    /** A remembered, still valid verification of exactly this token, or null. Never blocks. */
    public Verified cached(String raw) {
        if (verified == null || raw == null) {
            return null;
        }
        Verified hit = verified.getIfPresent(raw);
        return hit != null && clock.instant().isBefore(hit.until()) ? hit : null;
    }

    /**
     * Verifies the token (may block: a key fetch; call it on a worker thread): 401 ({@link ApiException}) when it is
     * not a valid token of a trusted issuer, 503 when its issuer's keys could never be fetched.
     */
    public Verified verify(String raw) {
        Verified hit = cached(raw);
        if (hit != null) {
            return hit;
        }
        Peek peek = peek(raw);
        if (peek == null) {
            throw ApiException.unauthenticated();
        }
        Issuer issuer = peek.iss() == null ? defaultIssuer : byIss.getOrDefault(peek.iss(), defaultIssuer);
        JsonWebToken jwt;
        try {
            if (issuer.keys() == null) {
                jwt = defaultParser.parse(raw);
            } else {
                JWTParser parser = issuer.keys().parserFor(peek.kid());
                if (parser == null) {
                    throw ApiException.unavailable("the keys of issuer " + issuer.name() + " could not be fetched yet",
                            Duration.ofSeconds(5), null);
                }
                jwt = parser.parse(raw);
            }
        } catch (ParseException e) {
            // never the exception's message: jose4j puts the token's claims in it
            LOG.debugf("caller token refused by issuer %s (%s)", issuer.name(), e.getClass().getSimpleName());
            throw ApiException.unauthenticated();
        }
        String sub = jwt.getSubject() == null ? jwt.getName() : jwt.getSubject();
        if (issuer.kubernetes() && !serviceAccount(sub, jwt)) {
            LOG.debugf("caller token of issuer %s is not a service-account token", issuer.name());
            throw ApiException.unauthenticated();
        }
        Caller caller = Caller.of(sub, issuer.name(), issuer.trustClaims(),
                jwt.getGroups() == null ? Set.of() : jwt.getGroups(), jwt.getClaim("portals"),
                policies.grantsFor(issuer.name(), sub, jwt));
        SecurityIdentity identity = QuarkusSecurityIdentity.builder().setPrincipal(jwt).addAttribute(ATTRIBUTE, caller)
                .build();
        Instant now = clock.instant();
        Instant until = now.plus(ttl);
        long exp = jwt.getExpirationTime();
        if (exp > 0 && Instant.ofEpochSecond(exp).isBefore(until)) {
            until = Instant.ofEpochSecond(exp);
        }
        Verified v = new Verified(caller, identity, until);
        if (verified != null && now.isBefore(until)) {
            verified.put(raw, v);
        }
        return v;
    }

    /** Tokens remembered now (for tests and diagnostics). */
    long cachedCount() {
        if (verified == null) {
            return 0;
        }
        verified.cleanUp();
        return verified.estimatedSize();
    }

    Map<String, Issuer> issuers() {
        return byName;
    }

    /**
     * A service-account token names {@code system:serviceaccount:<namespace>:<name>} and carries the same namespace and
     * name in its {@code kubernetes.io} claim (a legacy Secret-based token has neither that claim nor an audience).
     */
    static boolean serviceAccount(String sub, JsonWebToken jwt) {
        Matcher m = sub == null ? null : SERVICE_ACCOUNT.matcher(sub);
        if (m == null || !m.matches()) {
            return false;
        }
        Object k8s = jwt.getClaim("kubernetes.io");
        if (!(k8s instanceof JsonObject o)) {
            return false;
        }
        JsonValue sa = o.get("serviceaccount");
        return o.get("namespace") instanceof JsonString ns && ns.getString().equals(m.group(1))
                && sa instanceof JsonObject saObject && saObject.get("name") instanceof JsonString name
                && name.getString().equals(m.group(2));
    }

    /** What routing needs from a compact JWS before it is verified: its {@code iss} and {@code kid}. */
    record Peek(String iss, String kid) {
    }

    static Peek peek(String raw) {
        if (raw == null || raw.length() > 16_384) {
            return null;
        }
        int first = raw.indexOf('.');
        int second = first < 0 ? -1 : raw.indexOf('.', first + 1);
        if (first <= 0 || second < 0 || raw.indexOf('.', second + 1) >= 0) {
            return null; // a JWS has three parts (an encrypted JWT five: not accepted)
        }
        try {
            JsonObject header = json(raw.substring(0, first));
            JsonObject payload = json(raw.substring(first + 1, second));
            return new Peek(string(payload, "iss"), string(header, "kid"));
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static JsonObject json(String part) {
        byte[] bytes = Base64.getUrlDecoder().decode(part);
        try (var reader = Json.createReader(new StringReader(new String(bytes, StandardCharsets.UTF_8)))) {
            return reader.readObject();
        }
    }

    private static String string(JsonObject o, String name) {
        return o.get(name) instanceof JsonString s ? s.getString() : null;
    }

    /** Builds one configured issuer, or fails the start naming the key. */
    static Issuer issuer(String name, TokenVaultConfig.Callers.Issuer c, InstantSource clock) {
        String key = PREFIX + name;
        if (!Apps.isName(name) || Caller.DEFAULT_ISSUER.equals(name)) {
            throw new IllegalStateException(key + ": an issuer name must match [a-z0-9-]{1,40} and not be 'default' "
                    + "(the issuer of mp.jwt.verify.*)");
        }
        boolean kubernetes = switch (c.kind()) {
            case "jwt" -> false;
            case "kubernetes" -> true;
            default -> throw new IllegalStateException(key + ".kind: '" + c.kind() + "' is not jwt or kubernetes");
        };
        String iss = c.issuer().map(String::strip).orElse(kubernetes ? KUBERNETES_ISSUER : null);
        if (iss == null || iss.isEmpty()) {
            throw new IllegalStateException(key + ".issuer: the iss its tokens carry is required");
        }
        List<String> audiences = c.audiences().orElse(kubernetes ? List.of("tokenvault") : List.of()).stream()
                .map(String::strip).filter(a -> !a.isEmpty()).toList();
        if (kubernetes && audiences.isEmpty()) {
            throw new IllegalStateException(key + ".audiences: a kubernetes issuer needs the audience its tokens are "
                    + "bound to (every pod's default token is valid for the API server)");
        }
        if (kubernetes && c.trustClaims()) {
            throw new IllegalStateException(key + ".trust-claims: service-account tokens carry no groups/portals "
                    + "claims; grant through policies");
        }
        if (c.jwksUrl().isPresent() && c.publicKeyLocation().isPresent()) {
            throw new IllegalStateException(key + ": set jwks-url or public-key-location, not both");
        }
        Set<SignatureAlgorithm> algorithms = new java.util.HashSet<>();
        for (String a : c.algorithms()) {
            SignatureAlgorithm alg;
            try {
                alg = SignatureAlgorithm.fromAlgorithm(a.strip());
            } catch (IllegalArgumentException e) {
                alg = null;
            }
            if (alg == null || alg.name().startsWith("HS")) {
                throw new IllegalStateException(key + ".algorithms: '" + a.strip() + "' is not an asymmetric "
                        + "signature algorithm (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)");
            }
            algorithms.add(alg);
        }
        IssuerKeys.Source source;
        if (c.publicKeyLocation().isPresent()) {
            source = IssuerKeys.file(c.publicKeyLocation().get());
        } else {
            URI url = c.jwksUrl().orElse(kubernetes ? KUBERNETES_JWKS : null);
            if (url == null) {
                throw new IllegalStateException(key + ": its keys are needed: jwks-url or public-key-location");
            }
            if (!"https".equals(url.getScheme()) && !"http".equals(url.getScheme())) {
                throw new IllegalStateException(key + ".jwks-url: '" + url + "' is not an http(s) URL");
            }
            boolean inCluster = kubernetes && url.equals(KUBERNETES_JWKS);
            Optional<Path> bearer = c.jwksBearerTokenFile()
                    .or(() -> inCluster && Files.isReadable(POD_TOKEN) ? Optional.of(POD_TOKEN) : Optional.empty());
            Optional<Path> ca = c.jwksCaFile()
                    .or(() -> inCluster && Files.isReadable(POD_CA) ? Optional.of(POD_CA) : Optional.empty());
            try {
                source = IssuerKeys.url(url, bearer, ca);
            } catch (IllegalStateException e) {
                throw new IllegalStateException(key + ".jwks-ca-file: " + e.getMessage());
            }
        }
        int leeway = (int) Math.min(Integer.MAX_VALUE, Math.max(0, c.leeway().toSeconds()));
        Function<String, JWTParser> parsers = content -> {
            JWTAuthContextInfo info = new JWTAuthContextInfo();
            info.setIssuedBy(iss);
            info.setExpectedAudience(audiences.isEmpty() ? null : Set.copyOf(audiences));
            info.setPublicKeyContent(content);
            info.setClockSkew(leeway);
            info.setSignatureAlgorithm(Set.copyOf(algorithms));
            // a parser (and its key resolver) of its own: smallrye-jwt keeps the first key set a parser resolved
            return new DefaultJWTParser(info, new DefaultJWTCallerPrincipalFactory());
        };
        IssuerKeys keys = new IssuerKeys(name, source, parsers, c.jwksRefreshInterval(), c.jwksMinRefreshInterval(),
                clock);
        return new Issuer(name, iss, kubernetes, c.trustClaims(), keys);
    }
}
