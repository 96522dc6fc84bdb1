package dev.tokenvault.testing;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import org.jose4j.jwk.JsonWebKey;
import org.jose4j.jwk.JsonWebKeySet;
import org.jose4j.jwk.RsaJsonWebKey;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.smallrye.jwt.build.Jwt;
import io.smallrye.jwt.build.JwtClaimsBuilder;

/**
 * Two token issuers beside the default one, each with its own RSA keys served as a JWKS over HTTP by an in-process
 * server: a corporate identity provider ({@code /corp/jwks}) and a Kubernetes cluster
 * ({@code /openid/v1/jwks}, which like the API server's wants a bearer token: the "pod's" token, read from a file).
 * Keys can be added (a rotation), the server can be made to fail (an outage), and its fetches are counted.
 */
public class FakeIssuers implements QuarkusTestResourceLifecycleManager {

    public static final String CORP_ISSUER = "https://idp.corp.test";
    public static final String CLUSTER_ISSUER = "https://kubernetes.default.svc.cluster.local";
    public static final String POD_TOKEN = "pod-token-" + java.util.UUID.randomUUID();

    /** An issuer's keys and what its JWKS endpoint has seen. */
    public static final class Keys {
        final Map<String, KeyPair> pairs = new ConcurrentHashMap<>();
        final List<String> published = new CopyOnWriteArrayList<>();
        public final AtomicInteger fetches = new AtomicInteger();
        public volatile int failWith; // 0: answer the JWKS

        public synchronized Keys add(String kid, boolean publish) {
            try {
                KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
                g.initialize(2048);
                pairs.put(kid, g.generateKeyPair());
            } catch (java.security.GeneralSecurityException e) {
                throw new IllegalStateException(e);
            }
            if (publish) {
                published.add(kid);
            }
            return this;
        }

        public void publish(String kid) {
            published.add(kid);
        }

        public PrivateKey privateKey(String kid) {
            return pairs.get(kid).getPrivate();
        }

        String jwks() throws Exception {
            JsonWebKeySet set = new JsonWebKeySet();
            for (String kid : published) {
                RsaJsonWebKey jwk = new RsaJsonWebKey((java.security.interfaces.RSAPublicKey) pairs.get(kid).getPublic());
                jwk.setKeyId(kid);
                jwk.setAlgorithm("RS256");
                jwk.setUse("sig");
                set.addJsonWebKey(jwk);
            }
            return set.toJson(JsonWebKey.OutputControlLevel.PUBLIC_ONLY);
        }
    }

    public static final Keys CORP = new Keys().add("corp-1", true);
    public static final Keys CLUSTER = new Keys().add("cluster-1", true);
    /** Bearer tokens the cluster's JWKS endpoint received. */
    public static final List<String> CLUSTER_BEARERS = new CopyOnWriteArrayList<>();
    private static HttpServer server;

    @Override
    public Map<String, String> start() {
        try {
            Path podToken = Files.createTempFile("pod-token", "");
            Files.writeString(podToken, POD_TOKEN + "\n");
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
            server.createContext("/corp/jwks", ex -> serve(ex, CORP));
            server.createContext("/openid/v1/jwks", ex -> {
                CLUSTER_BEARERS.add(String.valueOf(ex.getRequestHeaders().getFirst("Authorization")));
                if (!("Bearer " + POD_TOKEN).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                    send(ex, 401, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
                            + "\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}");
                    return;
                }
                serve(ex, CLUSTER);
            });
            server.start();
            String base = "http://127.0.0.1:" + server.getAddress().getPort();
            return Map.ofEntries(
                    Map.entry("tokenvault.callers.issuers.corp.issuer", CORP_ISSUER),
                    Map.entry("tokenvault.callers.issuers.corp.jwks-url", base + "/corp/jwks"),
                    Map.entry("tokenvault.callers.issuers.corp.audiences", "tokenvault"),
                    Map.entry("tokenvault.callers.issuers.corp.trust-claims", "true"),
                    Map.entry("tokenvault.callers.issuers.corp.jwks-min-refresh-interval", "1S"),
                    Map.entry("tokenvault.callers.issuers.cluster.kind", "kubernetes"),
                    Map.entry("tokenvault.callers.issuers.cluster.jwks-url", base + "/openid/v1/jwks"),
                    Map.entry("tokenvault.callers.issuers.cluster.jwks-bearer-token-file", podToken.toString()),
                    Map.entry("tokenvault.callers.issuers.cluster.jwks-min-refresh-interval", "1S"),
                    Map.entry("tokenvault.callers.issuers.cluster.jwks-refresh-interval", "2S"));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void serve(HttpExchange ex, Keys keys) throws IOException {
        keys.fetches.incrementAndGet();
        if (keys.failWith != 0) {
            send(ex, keys.failWith, "{\"error\":\"unavailable\"}");
            return;
        }
        try {
            send(ex, 200, keys.jwks());
        } catch (Exception e) {
            send(ex, 500, "{}");
        }
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void stop() {
        if (server != null) {
            server.stop(0);
        }
    }

    /**
     * A projected service-account token as the kubelet mounts it: issuer, audience, {@code sub}
     * {@code system:serviceaccount:<ns>:<name>} and the {@code kubernetes.io} claim, signed by the cluster's key.
     */
    public static JwtClaimsBuilder serviceAccount(String namespace, String name, String audience) {
        return Jwt.issuer(CLUSTER_ISSUER).subject("system:serviceaccount:" + namespace + ":" + name)
                .audience(Set.of(audience)).issuedAt(Instant.now()).expiresAt(Instant.now().plusSeconds(3600))
                .claim("kubernetes.io", Map.of("namespace", namespace,
                        "pod", Map.of("name", name + "-7d9f8b6c5-x2x4q", "uid", "0b6f1c3e-2f5a-4c1e-9f0e-1d2c3b4a5f60"),
                        "serviceaccount", Map.of("name", name, "uid", "8e2d0c1b-3a4f-4b5c-8d6e-7f8091a2b3c4")));
    }

    public static String sign(JwtClaimsBuilder claims, Keys keys, String kid) {
        return claims.jws().keyId(kid).sign(keys.privateKey(kid));
    }

    public static String serviceAccountToken(String namespace, String name) {
        return sign(serviceAccount(namespace, name, "tokenvault"), CLUSTER, "cluster-1");
    }

    public static JwtClaimsBuilder corp(String sub) {
        return Jwt.issuer(CORP_ISSUER).subject(sub).audience(Set.of("tokenvault")).expiresAt(Instant.now().plusSeconds(600));
    }
}
