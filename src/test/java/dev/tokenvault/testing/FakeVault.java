package dev.tokenvault.testing;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * In-process test double of the HashiCorp Vault HTTP API (JDK {@link HttpServer} on 127.0.0.1, random port), limited
 * to what the token vault needs: the Transit and KV secrets engines, token auth, AppRole login and the health
 * endpoints. It speaks Vault's <em>public</em> HTTP API, so the same requests work against a real Vault (see
 * {@code VaultHttpContractTest}, which runs against both).
 *
 * <h2>Where each behaviour comes from</h2>
 * <ul>
 * <li>Envelope of every answer ({@code request_id, lease_id, renewable, lease_duration, data, wrap_info, warnings,
 * auth, mount_type}), the error body {@code {"errors":[...]}}, and the status codes 200/204/400/403/404/405/500/503:
 * <a href="https://developer.hashicorp.com/vault/api-docs">api-docs (index): "Error response" and "HTTP status
 * codes"</a>, and Vault's {@code sdk/logical/response_util.go} ({@code RespondErrorCommon}: an error response from a
 * backend is 400, a read that finds nothing is 404 with {@code {"errors":[]}}, unsupported path 404, unsupported
 * operation 405, anything else 500).</li>
 * <li>Transit ({@code keys/:name} create/read/delete/list, {@code keys/:name/config}, {@code keys/:name/rotate},
 * {@code encrypt/:name}, {@code decrypt/:name}, {@code rewrap/:name}, {@code datakey/:type/:name},
 * {@code config/keys}): <a href="https://developer.hashicorp.com/vault/api-docs/secret/transit">api-docs/secret/transit</a>
 * and Vault's {@code builtin/logical/transit/path_*.go} and {@code sdk/helper/keysutil/policy.go}:
 * <ul>
 * <li>ciphertext = {@code "vault:v" + version + ":" + base64(nonce(12) || AES-GCM ciphertext || tag(16))};</li>
 * <li>encrypt on a missing key creates it ("upsert", create capability) unless {@code config/keys disable_upsert};
 * with a {@code context} the upserted key is a derived key (HKDF-SHA256, info = context);</li>
 * <li>{@code batch_input}/{@code batch_results} (with {@code reference}); a batch in which an item failed answers
 * 400 (500 for internal errors) with the normal envelope holding {@code data.batch_results} (no {@code errors}
 * key), unless {@code partial_failure_response_code} is given and some items succeeded ({@code
 * batchRequestResponse} in path_encrypt.go). Rewrap does not do this: a failed batch item still answers 200;</li>
 * <li>error messages: "invalid ciphertext: no prefix", "invalid ciphertext: wrong number of fields", "invalid
 * ciphertext: version number could not be decoded", "invalid ciphertext: version is too new", "ciphertext or
 * signature version is disallowed by policy (too old)" (older Vault releases say "ciphertext version is
 * disallowed by policy (too old)"), "invalid ciphertext: could not decode base64", "invalid ciphertext length", "cipher:
 * message authentication failed", "encryption key not found", "missing ciphertext to decrypt", "missing plaintext to
 * encrypt", "illegal base64 data at input byte N", "requested version for encryption is higher than the latest key
 * version", "cannot set min decryption version of N, latest key version is M", "key not found", ...;</li>
 * <li>read key: {@code data.keys} maps version to creation time in Unix seconds for symmetric keys, plus
 * {@code latest_version, min_decryption_version (1), min_encryption_version (0), min_available_version, type,
 * name, derived, exportable, deletion_allowed, allow_plaintext_backup, supports_*, auto_rotate_period,
 * imported_key}; create/rotate/config answer 200 with the same body (formatKeyPolicy).</li>
 * </ul>
 * </li>
 * <li>KV v2 ({@code data/:path} read/write/delete, {@code metadata/:path} read/list/delete) and KV v1:
 * <a href="https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2">api-docs/secret/kv/kv-v2</a>,
 * <a href="https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v1">kv-v1</a> and
 * {@code hashicorp/vault-plugin-secrets-kv path_data.go}: read answers {@code data.data} + {@code data.metadata}
 * {@code {created_time, custom_metadata, deletion_time, destroyed, version}}; a missing secret is 404
 * {@code {"errors":[]}}; a deleted version is 404 with the metadata; write answers the metadata of the new version;
 * {@code options.cas} is honoured.</li>
 * <li>Mounts: <a href="https://developer.hashicorp.com/vault/api-docs/system/mounts">api-docs/system/mounts</a>
 * ({@code POST /sys/mounts/:path} {@code {"type":"transit"}} or {@code {"type":"kv","options":{"version":"2"}}} or
 * {@code "kv-v2"}, 204; {@code DELETE} 204; "path is already in use at X/").</li>
 * <li>Auth: <a href="https://developer.hashicorp.com/vault/api-docs#authentication">X-Vault-Token</a> (or
 * {@code Authorization: Bearer}); no token: 403 "permission denied"; unknown/expired token: 403 "2 errors
 * occurred: permission denied, invalid token" as documented for Vault 1.17+ in docs/concepts/tokens ("Error
 * responses"; older Vaults say only "permission denied"); token valid but not allowed: 403 "1 error occurred:
 * permission denied". {@code GET auth/token/lookup-self}, {@code POST auth/token/renew-self}, {@code revoke-self}:
 * <a href="https://developer.hashicorp.com/vault/api-docs/auth/token">api-docs/auth/token</a>. AppRole login
 * {@code POST auth/:mount/login {"role_id","secret_id"}} ("invalid role or secret ID"):
 * <a href="https://developer.hashicorp.com/vault/api-docs/auth/approle">api-docs/auth/approle</a>.</li>
 * <li>Health: <a href="https://developer.hashicorp.com/vault/api-docs/system/health">api-docs/system/health</a>
 * ({@code GET}/{@code HEAD /sys/health}, unauthenticated, 200 active / 503 sealed, {@code sealedcode},
 * {@code activecode}); sealed Vault answers every other request 503 {@code {"errors":["Vault is sealed"]}}
 * ({@code consts.ErrSealed}).</li>
 * </ul>
 *
 * <h2>Deliberate simplifications</h2>
 * No ACL policies (every valid token may do everything, except tokens made with
 * {@link #addRestrictedToken(String, String...)}), no leases, no namespaces, no convergent encryption, no
 * asymmetric/HMAC/managed key types (those answer 500 "FakeVault does not implement ..."), no key export/backup/trim,
 * no auto-rotation, no response wrapping. Nothing is mounted at start: call {@link #enableTransit(String)} /
 * {@link #enableKv(String)} or {@code POST /v1/sys/mounts/...}.
 */
public final class FakeVault implements AutoCloseable {

    /** One request as received (the body and token are kept as-is: this is a test double). */
    public record RecordedRequest(String method, String path, String query, String token, String body, int status) {
    }

    static final String ERR_TOO_OLD = "ciphertext or signature version is disallowed by policy (too old)";
    static final String ERR_PERMISSION_DENIED = "permission denied";
    static final String ERR_INVALID_TOKEN = "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n";
    static final String ERR_DENIED_BY_POLICY = "1 error occurred:\n\t* permission denied\n\n";
    static final String ERR_UNSUPPORTED_PATH = "1 error occurred:\n\t* unsupported path\n\n";
    static final String ERR_UNSUPPORTED_OPERATION = "1 error occurred:\n\t* unsupported operation\n\n";
    static final String VERSION = "1.19.0+fakevault";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SecureRandom RANDOM = new SecureRandom();
    /** framework.GenericNameRegex */
    private static final Pattern NAME = Pattern.compile("\\w(([\\w\\-.@]+)?\\w)?");
    private static final String B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    private final HttpServer server;
    private final ExecutorService executor;
    private final String rootToken;
    private final Object lock = new Object();
    private final Map<String, TokenInfo> tokens = new HashMap<>();
    private final Map<String, Mount> mounts = new LinkedHashMap<>(); // "path/" -> mount
    private final Map<String, AppRoleMount> authMounts = new LinkedHashMap<>(); // "approle/" -> mount
    private final List<RecordedRequest> requests = new CopyOnWriteArrayList<>();
    private final String clusterId = UUID.randomUUID().toString();
    private volatile boolean sealed;

    // ------------------------------------------------------------------------------------------ lifecycle

    private FakeVault(String rootToken) throws IOException {
        this.rootToken = rootToken;
        TokenInfo root = new TokenInfo(rootToken, List.of("root"), "auth/token/root", "root", null, 0, false, null);
        tokens.put(rootToken, root);
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        AtomicInteger n = new AtomicInteger();
        executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "fake-vault-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    /** Starts a fake Vault on 127.0.0.1 (random port) that accepts {@code rootToken} as a root token. */
    public static FakeVault start(String rootToken) {
        if (rootToken == null || rootToken.isEmpty()) {
            throw new IllegalArgumentException("rootToken is required");
        }
        try {
            return new FakeVault(rootToken);
        } catch (IOException e) {
            throw new IllegalStateException("cannot start FakeVault", e);
        }
    }

    /** e.g. {@code http://127.0.0.1:43121} (no trailing slash, no /v1). */
    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public String rootToken() {
        return rootToken;
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    // ------------------------------------------------------------------------------------------ test control

    /** Mounts a Transit engine at {@code mount} (like {@code vault secrets enable -path=mount transit}). */
    public FakeVault enableTransit(String mount) {
        synchronized (lock) {
            mountEngine(normalizeMount(mount), new TransitMount());
        }
        return this;
    }

    /** Mounts a KV version 2 engine at {@code mount}. */
    public FakeVault enableKv(String mount) {
        return enableKv(mount, 2);
    }

    /** Mounts a KV engine (version 1 or 2) at {@code mount}. */
    public FakeVault enableKv(String mount, int version) {
        synchronized (lock) {
            mountEngine(normalizeMount(mount), new KvMount(version));
        }
        return this;
    }

    /** Enables AppRole auth at {@code auth/<mount>} with one role; login gives a token valid {@code ttlSeconds}. */
    public FakeVault enableAppRole(String mount, String roleId, String secretId, long ttlSeconds) {
        synchronized (lock) {
            AppRoleMount m = authMounts.computeIfAbsent(normalizeMount(mount), k -> new AppRoleMount());
            m.roles.put(roleId, new AppRole(roleId, secretId, ttlSeconds));
        }
        return this;
    }

    /** Adds a token with full access (like the root token). */
    public FakeVault addToken(String token) {
        synchronized (lock) {
            tokens.put(token, new TokenInfo(token, List.of("root"), "auth/token/create", "token", null, 0, false,
                    null));
        }
        return this;
    }

    /**
     * Adds a valid token that may only use paths (relative to /v1/, e.g. {@code "transit/encrypt/"}) starting with
     * one of {@code allowedPathPrefixes}; other paths answer 403 "1 error occurred: permission denied" as Vault does
     * when a policy denies a valid token.
     */
    public FakeVault addRestrictedToken(String token, String... allowedPathPrefixes) {
        synchronized (lock) {
            tokens.put(token, new TokenInfo(token, List.of("default"), "auth/token/create", "token", null, 0, false,
                    List.of(allowedPathPrefixes)));
        }
        return this;
    }

    public FakeVault revokeToken(String token) {
        synchronized (lock) {
            tokens.remove(token);
        }
        return this;
    }

    /** Creates an aes256-gcm96 key (no-op if it exists). */
    public FakeVault createKey(String mount, String key) {
        synchronized (lock) {
            transitMount(mount).keys.computeIfAbsent(key, k -> new TransitKey(k, "aes256-gcm96", false));
        }
        return this;
    }

    /** Rotates the key; returns the new latest version. */
    public int rotate(String mount, String key) {
        synchronized (lock) {
            TransitKey k = existingKey(mount, key);
            k.rotate();
            return k.latest();
        }
    }

    public void setMinDecryptionVersion(String mount, String key, int version) {
        synchronized (lock) {
            TransitKey k = existingKey(mount, key);
            if (version < 1 || version > k.latest()) {
                throw new IllegalArgumentException("cannot set min decryption version of " + version
                        + ", latest key version is " + k.latest());
            }
            k.minDecryptionVersion = version;
        }
    }

    public void setMinEncryptionVersion(String mount, String key, int version) {
        synchronized (lock) {
            TransitKey k = existingKey(mount, key);
            if (version < 0 || version > k.latest()) {
                throw new IllegalArgumentException("bad min encryption version " + version);
            }
            k.minEncryptionVersion = version;
        }
    }

    public int latestVersion(String mount, String key) {
        synchronized (lock) {
            return existingKey(mount, key).latest();
        }
    }

    public int minDecryptionVersion(String mount, String key) {
        synchronized (lock) {
            return existingKey(mount, key).minDecryptionVersion;
        }
    }

    public boolean hasKey(String mount, String key) {
        synchronized (lock) {
            Mount m = mounts.get(normalizeMount(mount));
            return m instanceof TransitMount tm && tm.keys.containsKey(key);
        }
    }

    /** Writes a new version of a KV secret (mounts KV v2 at {@code mount} if nothing is mounted there). */
    public void putKv(String mount, String path, Map<String, ?> data) {
        synchronized (lock) {
            String m = normalizeMount(mount);
            if (!mounts.containsKey(m)) {
                mountEngine(m, new KvMount(2));
            }
            if (!(mounts.get(m) instanceof KvMount kv)) {
                throw new IllegalArgumentException(m + " is not a KV mount");
            }
            kv.write(stripSlashes(path), JSON.valueToTree(data));
        }
    }

    /** Latest live data of a KV secret, or null. */
    @SuppressWarnings("unchecked")
    public Map<String, Object> getKv(String mount, String path) {
        synchronized (lock) {
            if (!(mounts.get(normalizeMount(mount)) instanceof KvMount kv)) {
                return null;
            }
            KvSecret s = kv.secrets.get(stripSlashes(path));
            if (s == null || s.versions.isEmpty()) {
                return null;
            }
            KvVersion v = s.versions.get(s.currentVersion);
            if (v == null || v.deletionTime != null || v.destroyed) {
                return null;
            }
            return JSON.convertValue(v.data, Map.class);
        }
    }

    /** Requests still to stall: path prefix (after /v1/) and how long, one entry per request. */
    private final java.util.concurrent.ConcurrentLinkedQueue<java.util.Map.Entry<String, java.time.Duration>> stalls = new java.util.concurrent.ConcurrentLinkedQueue<>();

    /**
     * The next {@code times} requests whose path (after {@code /v1/}) starts with {@code pathPrefix} are held for
     * {@code stall} (real time) before they are answered normally: a Vault that is slow for a moment.
     */
    public FakeVault stallNext(int times, String pathPrefix, java.time.Duration stall) {
        for (int i = 0; i < times; i++) {
            stalls.add(java.util.Map.entry(pathPrefix, stall));
        }
        return this;
    }

    /** Stalls not yet applied. */
    public int pendingStalls() {
        return stalls.size();
    }

    private void stallIfAsked(String path) {
        String p = path.startsWith("/v1/") ? path.substring(4) : path;
        for (var it = stalls.iterator(); it.hasNext();) {
            var s = it.next();
            if (p.startsWith(s.getKey()) && stalls.remove(s)) {
                try {
                    Thread.sleep(s.getValue().toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return;
            }
        }
    }

    private volatile long latencyNanos;
    private volatile int recordLimit = Integer.MAX_VALUE;
    private final Map<String, java.util.concurrent.atomic.LongAdder> operationCounts = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Every request except {@code sys/health} is held for {@code latency} (real time, outside any lock) before it is
     * handled: a Vault across a network (the benchmark uses 1 ms). Zero (the default) adds nothing.
     */
    public FakeVault latency(java.time.Duration latency) {
        this.latencyNanos = latency.toNanos();
        return this;
    }

    /**
     * Keeps at most {@code limit} requests in {@link #requests()} (0: none). The list is copy-on-write, so a long run
     * (a benchmark) must bound it; {@link #operationCounts()} counts every request regardless.
     */
    public FakeVault recordLimit(int limit) {
        this.recordLimit = Math.max(0, limit);
        return this;
    }

    /**
     * Requests answered so far by operation, e.g. {@code transit/decrypt} (a batch counts once), and the items they
     * carried, e.g. {@code transit/decrypt.items} (a batch counts each item). Unaffected by {@link #recordLimit}.
     */
    public Map<String, Long> operationCounts() {
        Map<String, Long> out = new TreeMap<>();
        operationCounts.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    private void count(String operation, long n) {
        operationCounts.computeIfAbsent(operation, k -> new java.util.concurrent.atomic.LongAdder()).add(n);
    }

    private void addedLatency(String path) {
        long nanos = latencyNanos;
        if (nanos > 0 && !path.startsWith("/v1/sys/health")) {
            java.util.concurrent.locks.LockSupport.parkNanos(nanos);
        }
    }

    /** While down, every request except sys/health answers 503 {"errors":["Vault is sealed"]} like a sealed Vault. */
    public void setDown(boolean down) {
        this.sealed = down;
    }

    public boolean isDown() {
        return sealed;
    }

    public List<RecordedRequest> requests() {
        return List.copyOf(requests);
    }

    public void clearRequests() {
        requests.clear();
    }

    /**
     * Number of recorded requests whose path starts with {@code pathPrefix}. The prefix may be given with or without
     * the leading {@code /v1/}: {@code "/v1/transit/encrypt/"} and {@code "transit/encrypt/"} are the same.
     */
    public long requestCount(String pathPrefix) {
        String p = pathPrefix.startsWith("/v1/") ? pathPrefix : "/v1/" + stripLeadingSlash(pathPrefix);
        return requests.stream().filter(r -> r.path().startsWith(p)).count();
    }

    // ------------------------------------------------------------------------------------------ HTTP plumbing

    private record Response(int status, byte[] body, String contentType) {
    }

    /** An error answered as {"errors":[...]} (or with a raw body if {@code envelope} is set). */
    private static final class VaultError extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int status;
        final List<String> errors;

        VaultError(int status, String... errors) {
            super(status + " " + List.of(errors), null, false, false);
            this.status = status;
            this.errors = List.of(errors);
        }
    }

    /** errutil.UserError: ends up as a 400 or as a batch item error. */
    private static final class UserError extends Exception {
        private static final long serialVersionUID = 1L;

        UserError(String message) {
            super(message, null, false, false);
        }
    }

    private enum Op {
        READ,
        LIST,
        UPDATE,
        DELETE,
        PATCH
    }

    private void handle(HttpExchange ex) throws IOException {
        String method = ex.getRequestMethod().toUpperCase(Locale.ROOT);
        URI uri = ex.getRequestURI();
        String path = uri.getPath();
        String query = uri.getRawQuery();
        String body;
        try {
            body = new String(ex.getRequestBody().readAllBytes(), UTF_8);
        } catch (IOException e) {
            body = "";
        }
        String token = token(ex.getRequestHeaders());
        stallIfAsked(path);
        addedLatency(path);
        Response resp;
        try {
            resp = dispatch(method, path, query, token, body);
        } catch (VaultError e) {
            resp = errors(e.status, e.errors);
        } catch (RuntimeException e) {
            resp = errors(500, List.of("FakeVault internal error: " + e));
        }
        if (requests.size() < recordLimit) {
            requests.add(new RecordedRequest(method, path, query, token, body, resp.status));
        }
        String[] seg = path.split("/", 5); // "", "v1", mount, operation, ...
        if (seg.length >= 4) {
            count(seg[2] + "/" + seg[3], 1);
        }
        Headers h = ex.getResponseHeaders();
        h.set("Cache-Control", "no-store");
        boolean noBody = resp.body == null || "HEAD".equals(method) || resp.status == 204;
        if (!noBody) {
            h.set("Content-Type", resp.contentType);
        }
        ex.sendResponseHeaders(resp.status, noBody ? -1 : resp.body.length);
        if (!noBody) {
            try (OutputStream os = ex.getResponseBody()) {
                os.write(resp.body);
            }
        }
        ex.close();
    }

    private static String token(Headers headers) {
        String t = headers.getFirst("X-Vault-Token");
        if (t != null && !t.isEmpty()) {
            return t;
        }
        String auth = headers.getFirst("Authorization");
        if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return auth.substring(7).trim();
        }
        return t;
    }

    private Response dispatch(String method, String path, String query, String token, String body) {
        if (!path.startsWith("/v1/")) {
            return new Response(404, "404 page not found\n".getBytes(UTF_8), "text/plain; charset=utf-8");
        }
        String p = path.substring(4);
        Map<String, String> params = queryParams(query);

        // unauthenticated system endpoints
        if (p.equals("sys/health")) {
            return health(method, params);
        }
        if (p.equals("sys/seal-status")) {
            return sealStatus();
        }
        if (sealed) {
            throw new VaultError(503, "Vault is sealed");
        }

        Op op = operation(method, params);
        synchronized (lock) {
            // unauthenticated login
            if (p.startsWith("auth/") && p.endsWith("/login")) {
                String mount = p.substring(5, p.length() - "login".length());
                AppRoleMount am = authMounts.get(mount);
                if (am != null) {
                    requireOp(op, Op.UPDATE);
                    return appRoleLogin(am, mount, parseBody(body));
                }
            }

            TokenInfo ti = authenticate(token, p);
            if (p.startsWith("sys/")) {
                return sys(op, p, parseBody(body));
            }
            if (p.startsWith("auth/token/")) {
                return tokenApi(op, p.substring("auth/token/".length()), ti);
            }
            String mountPath = matchMount(p);
            if (mountPath == null) {
                throw new VaultError(404, "no handler for route \"" + p + "\". route entry not found.");
            }
            String rest = p.length() > mountPath.length() ? p.substring(mountPath.length()) : "";
            Mount m = mounts.get(mountPath);
            if (m instanceof TransitMount tm) {
                return transit(tm, op, rest, body);
            }
            return kv((KvMount) m, op, rest, body, params);
        }
    }

    private TokenInfo authenticate(String token, String path) {
        if (token == null || token.isEmpty()) {
            throw new VaultError(403, ERR_PERMISSION_DENIED);
        }
        TokenInfo ti = tokens.get(token);
        if (ti != null && ti.expiresAt != null && Instant.now().isAfter(ti.expiresAt)) {
            tokens.remove(token);
            ti = null;
        }
        if (ti == null) {
            throw new VaultError(403, ERR_INVALID_TOKEN);
        }
        if (ti.allowedPrefixes != null && !path.startsWith("auth/token/lookup-self")
                && !path.startsWith("auth/token/renew-self")
                && ti.allowedPrefixes.stream().noneMatch(path::startsWith)) {
            throw new VaultError(403, ERR_DENIED_BY_POLICY);
        }
        return ti;
    }

    private static Op operation(String method, Map<String, String> params) {
        return switch (method) {
            case "GET", "HEAD" -> "true".equals(params.get("list")) ? Op.LIST : Op.READ;
            case "LIST" -> Op.LIST;
            case "POST", "PUT" -> Op.UPDATE;
            case "DELETE" -> Op.DELETE;
            case "PATCH" -> Op.PATCH;
            default -> throw new VaultError(405, ERR_UNSUPPORTED_OPERATION);
        };
    }

    private static void requireOp(Op actual, Op... allowed) {
        for (Op a : allowed) {
            if (a == actual) {
                return;
            }
        }
        throw new VaultError(405, ERR_UNSUPPORTED_OPERATION);
    }

    private String matchMount(String p) {
        String best = null;
        for (String m : mounts.keySet()) {
            if ((p.startsWith(m) || (p + "/").equals(m)) && (best == null || m.length() > best.length())) {
                best = m;
            }
        }
        return best;
    }

    private static ObjectNode parseBody(String body) {
        if (body == null || body.isBlank()) {
            return JSON.createObjectNode();
        }
        try {
            JsonNode n = JSON.readTree(body);
            if (n == null || n.isNull()) {
                return JSON.createObjectNode();
            }
            if (!n.isObject()) {
                throw new VaultError(400,
                        "failed to parse JSON input: json: cannot unmarshal " + n.getNodeType().name().toLowerCase(Locale.ROOT)
                                + " into Go value of type map[string]interface {}");
            }
            return (ObjectNode) n;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new VaultError(400, "failed to parse JSON input: " + e.getOriginalMessage());
        }
    }

    private static Map<String, String> queryParams(String rawQuery) {
        Map<String, String> m = new HashMap<>();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return m;
        }
        for (String kv : rawQuery.split("&")) {
            int i = kv.indexOf('=');
            String k = URLDecoder.decode(i < 0 ? kv : kv.substring(0, i), UTF_8);
            String v = i < 0 ? "" : URLDecoder.decode(kv.substring(i + 1), UTF_8);
            m.putIfAbsent(k, v);
        }
        return m;
    }

    private static Response errors(int status, List<String> errors) {
        ObjectNode n = JSON.createObjectNode();
        ArrayNode a = n.putArray("errors");
        errors.forEach(a::add);
        return json(status, n);
    }

    private static Response json(int status, JsonNode n) {
        try {
            return new Response(status, (JSON.writeValueAsString(n) + "\n").getBytes(UTF_8), "application/json");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Response noContent() {
        return new Response(204, null, "application/json");
    }

    /** The logical.HTTPResponse envelope. */
    private static ObjectNode envelope(JsonNode data, String mountType, List<String> warnings) {
        ObjectNode n = JSON.createObjectNode();
        n.put("request_id", UUID.randomUUID().toString());
        n.put("lease_id", "");
        n.put("renewable", false);
        n.put("lease_duration", 0);
        n.set("data", data == null ? NullNode.getInstance() : data);
        n.putNull("wrap_info");
        if (warnings == null || warnings.isEmpty()) {
            n.putNull("warnings");
        } else {
            ArrayNode w = n.putArray("warnings");
            warnings.forEach(w::add);
        }
        n.putNull("auth");
        n.put("mount_type", mountType);
        return n;
    }

    private static Response ok(JsonNode data, String mountType) {
        return json(200, envelope(data, mountType, null));
    }

    private static Response ok(JsonNode data, String mountType, List<String> warnings) {
        return json(200, envelope(data, mountType, warnings));
    }

    // ------------------------------------------------------------------------------------------ sys

    private Response health(String method, Map<String, String> params) {
        if (!method.equals("GET") && !method.equals("HEAD")) {
            throw new VaultError(405, ERR_UNSUPPORTED_OPERATION);
        }
        int status = sealed ? intParam(params, "sealedcode", 503) : intParam(params, "activecode", 200);
        ObjectNode n = JSON.createObjectNode();
        n.put("initialized", true);
        n.put("sealed", sealed);
        n.put("standby", sealed);
        n.put("performance_standby", false);
        n.put("replication_performance_mode", sealed ? "unknown" : "disabled");
        n.put("replication_dr_mode", sealed ? "unknown" : "disabled");
        n.put("server_time_utc", Instant.now().getEpochSecond());
        n.put("version", VERSION);
        if (!sealed) {
            n.put("cluster_name", "vault-cluster-fake");
            n.put("cluster_id", clusterId);
        }
        return json(status, n);
    }

    private static int intParam(Map<String, String> params, String name, int def) {
        String v = params.get(name);
        if (v == null || v.isEmpty()) {
            return def;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            return def;
        }
    }

    private Response sealStatus() {
        ObjectNode n = JSON.createObjectNode();
        n.put("type", "shamir");
        n.put("initialized", true);
        n.put("sealed", sealed);
        n.put("t", 1);
        n.put("n", 1);
        n.put("progress", 0);
        n.put("nonce", "");
        n.put("version", VERSION);
        n.put("migration", false);
        n.put("recovery_seal", false);
        n.put("storage_type", "inmem");
        if (!sealed) {
            n.put("cluster_name", "vault-cluster-fake");
            n.put("cluster_id", clusterId);
        }
        return json(200, n);
    }

    private Response sys(Op op, String p, ObjectNode body) {
        if (p.equals("sys/mounts") || p.equals("sys/mounts/")) {
            requireOp(op, Op.READ);
            ObjectNode data = JSON.createObjectNode();
            mounts.forEach((path, m) -> {
                ObjectNode e = data.putObject(path);
                e.put("type", m instanceof TransitMount ? "transit" : "kv");
                e.put("description", "");
                if (m instanceof KvMount kv) {
                    e.putObject("options").put("version", String.valueOf(kv.version));
                } else {
                    e.putNull("options");
                }
            });
            return ok(data, "system");
        }
        if (p.startsWith("sys/mounts/")) {
            String mount = normalizeMount(p.substring("sys/mounts/".length()));
            if (op == Op.UPDATE) {
                String type = text(body, "type");
                JsonNode options = body.path("options");
                Mount m = switch (type) {
                    case "transit" -> new TransitMount();
                    case "kv" -> new KvMount("2".equals(options.path("version").asText("1")) ? 2 : 1);
                    case "kv-v2" -> new KvMount(2);
                    case "kv-v1" -> new KvMount(1);
                    case "" -> throw new VaultError(400, "backend type must be specified as a string");
                    default -> throw new VaultError(400, "plugin not found in the catalog: " + type);
                };
                mountEngine(mount, m);
                return noContent();
            }
            if (op == Op.DELETE) {
                // Vault answers success for a path that is not mounted, so as not to reveal whether it existed
                mounts.remove(mount);
                return noContent();
            }
            throw new VaultError(405, ERR_UNSUPPORTED_OPERATION);
        }
        if (p.startsWith("sys/auth/")) {
            String mount = normalizeMount(p.substring("sys/auth/".length()));
            if (op == Op.UPDATE) {
                String type = text(body, "type");
                if (!type.equals("approle")) {
                    throw new VaultError(500, "FakeVault does not implement auth method type " + type);
                }
                if (authMounts.containsKey(mount)) {
                    throw new VaultError(400, "path is already in use at auth/" + mount);
                }
                authMounts.put(mount, new AppRoleMount());
                return noContent();
            }
            if (op == Op.DELETE) {
                authMounts.remove(mount);
                return noContent();
            }
            throw new VaultError(405, ERR_UNSUPPORTED_OPERATION);
        }
        throw new VaultError(404, ERR_UNSUPPORTED_PATH);
    }

    private void mountEngine(String mount, Mount m) {
        if (mount.equals("/") || mount.startsWith("sys/") || mount.startsWith("auth/")
                || mount.startsWith("cubbyhole/") || mount.startsWith("identity/")) {
            throw new VaultError(400, "cannot mount under a protected path: " + mount);
        }
        for (String existing : mounts.keySet()) {
            if (mount.startsWith(existing) || existing.startsWith(mount)) {
                throw new VaultError(400, "path is already in use at " + existing);
            }
        }
        mounts.put(mount, m);
    }

    // ------------------------------------------------------------------------------------------ token / approle

    private static final class TokenInfo {
        final String id;
        final String accessor = UUID.randomUUID().toString();
        final List<String> policies;
        final String path;
        final String displayName;
        final Instant created = Instant.now();
        Instant expiresAt;
        final long ttlSeconds;
        final boolean renewable;
        final List<String> allowedPrefixes;

        TokenInfo(String id, List<String> policies, String path, String displayName, Instant expiresAt,
                long ttlSeconds, boolean renewable, List<String> allowedPrefixes) {
            this.id = id;
            this.policies = policies;
            this.path = path;
            this.displayName = displayName;
            this.expiresAt = expiresAt;
            this.ttlSeconds = ttlSeconds;
            this.renewable = renewable;
            this.allowedPrefixes = allowedPrefixes;
        }
    }

    private record AppRole(String roleId, String secretId, long ttlSeconds) {
    }

    private static final class AppRoleMount {
        final Map<String, AppRole> roles = new HashMap<>();
    }

    private Response tokenApi(Op op, String sub, TokenInfo ti) {
        switch (sub) {
            case "lookup-self" -> {
                requireOp(op, Op.READ, Op.UPDATE);
                ObjectNode d = JSON.createObjectNode();
                d.put("accessor", ti.accessor);
                d.put("creation_time", ti.created.getEpochSecond());
                d.put("creation_ttl", ti.ttlSeconds);
                d.put("display_name", ti.displayName);
                d.put("entity_id", "");
                if (ti.expiresAt == null) {
                    d.putNull("expire_time");
                } else {
                    d.put("expire_time", ti.expiresAt.toString());
                }
                d.put("explicit_max_ttl", 0);
                d.put("id", ti.id);
                d.putNull("meta");
                d.put("num_uses", 0);
                d.put("orphan", true);
                d.put("path", ti.path);
                ArrayNode pol = d.putArray("policies");
                ti.policies.forEach(pol::add);
                d.put("renewable", ti.renewable);
                d.put("ttl", ti.expiresAt == null ? 0
                        : Math.max(0, ti.expiresAt.getEpochSecond() - Instant.now().getEpochSecond()));
                d.put("type", "service");
                return ok(d, "token");
            }
            case "renew-self" -> {
                requireOp(op, Op.UPDATE);
                if (!ti.renewable) {
                    throw new VaultError(400, "lease is not renewable");
                }
                ti.expiresAt = Instant.now().plusSeconds(ti.ttlSeconds);
                return authResponse(ti, "token");
            }
            case "revoke-self" -> {
                requireOp(op, Op.UPDATE);
                tokens.remove(ti.id);
                return noContent();
            }
            default -> throw new VaultError(404, ERR_UNSUPPORTED_PATH);
        }
    }

    private Response appRoleLogin(AppRoleMount am, String mount, ObjectNode body) {
        String roleId = text(body, "role_id");
        if (roleId.isEmpty()) {
            throw new VaultError(400, "missing role_id");
        }
        AppRole role = am.roles.get(roleId);
        String secretId = text(body, "secret_id");
        if (role == null || !role.secretId().equals(secretId)) {
            throw new VaultError(400, "invalid role or secret ID");
        }
        String token = "hvs." + UUID.randomUUID().toString().replace("-", "");
        TokenInfo ti = new TokenInfo(token, List.of("default"), "auth/" + mount + "login", "approle",
                Instant.now().plusSeconds(role.ttlSeconds()), role.ttlSeconds(), true, null);
        tokens.put(token, ti);
        return authResponse(ti, "approle");
    }

    private static Response authResponse(TokenInfo ti, String mountType) {
        ObjectNode env = envelope(null, mountType, null);
        ObjectNode auth = JSON.createObjectNode();
        auth.put("client_token", ti.id);
        auth.put("accessor", ti.accessor);
        ArrayNode p1 = auth.putArray("policies");
        ti.policies.forEach(p1::add);
        ArrayNode p2 = auth.putArray("token_policies");
        ti.policies.forEach(p2::add);
        auth.putNull("metadata");
        auth.put("lease_duration", ti.ttlSeconds);
        auth.put("renewable", ti.renewable);
        auth.put("entity_id", "");
        auth.put("token_type", "service");
        auth.put("orphan", true);
        auth.putNull("mfa_requirement");
        auth.put("num_uses", 0);
        env.set("auth", auth);
        return json(200, env);
    }

    // ------------------------------------------------------------------------------------------ transit

    private interface Mount {
    }

    private static final class TransitMount implements Mount {
        final Map<String, TransitKey> keys = new TreeMap<>();
        boolean disableUpsert;
    }

    private record KeyVersion(byte[] key, Instant created) {
    }

    private static final class TransitKey {
        final String name;
        final String type;
        final boolean derived;
        final List<KeyVersion> versions = new ArrayList<>();
        int minDecryptionVersion = 1;
        int minEncryptionVersion;
        int minAvailableVersion;
        boolean deletionAllowed;
        boolean exportable;
        boolean allowPlaintextBackup;
        long autoRotatePeriodSeconds;

        TransitKey(String name, String type, boolean derived) {
            this.name = name;
            this.type = type;
            this.derived = derived;
            rotate();
        }

        int latest() {
            return versions.size();
        }

        void rotate() {
            byte[] k = new byte[type.equals("aes128-gcm96") ? 16 : 32];
            RANDOM.nextBytes(k);
            versions.add(new KeyVersion(k, Instant.now()));
        }
    }

    private record Item(String plaintext, String ciphertext, String context, String nonce, int keyVersion,
            String associatedData, String reference) {
    }

    private Response transit(TransitMount tm, Op op, String rest, String rawBody) {
        String[] seg = rest.split("/", -1);
        if ((rest.equals("keys") || rest.equals("keys/")) && op == Op.LIST) {
            if (tm.keys.isEmpty()) {
                throw new VaultError(404);
            }
            ObjectNode d = JSON.createObjectNode();
            ArrayNode a = d.putArray("keys");
            tm.keys.keySet().forEach(a::add);
            return ok(d, "transit");
        }
        if (rest.equals("config/keys")) {
            requireOp(op, Op.READ, Op.UPDATE);
            if (op == Op.UPDATE) {
                ObjectNode body = parseBody(rawBody);
                if (body.has("disable_upsert")) {
                    tm.disableUpsert = bool(body, "disable_upsert");
                }
            }
            ObjectNode d = JSON.createObjectNode();
            d.put("disable_upsert", tm.disableUpsert);
            return ok(d, "transit");
        }
        if (seg[0].equals("keys") && seg.length == 2 && validName(seg[1])) {
            requireOp(op, Op.READ, Op.UPDATE, Op.DELETE);
            String name = seg[1];
            return switch (op) {
                case READ -> {
                    TransitKey k = tm.keys.get(name);
                    if (k == null) {
                        throw new VaultError(404);
                    }
                    yield ok(formatKey(k), "transit");
                }
                case UPDATE -> createKey(tm, name, parseBody(rawBody));
                default -> deleteKey(tm, name);
            };
        }
        if (seg[0].equals("keys") && seg.length == 3 && validName(seg[1])
                && (seg[2].equals("config") || seg[2].equals("rotate"))) {
            requireOp(op, Op.UPDATE);
            ObjectNode body = parseBody(rawBody);
            return seg[2].equals("config") ? configKey(tm, seg[1], body) : rotateKey(tm, seg[1]);
        }
        if (seg.length == 2 && validName(seg[1])
                && (seg[0].equals("encrypt") || seg[0].equals("decrypt") || seg[0].equals("rewrap"))) {
            requireOp(op, Op.UPDATE);
            ObjectNode body = parseBody(rawBody);
            return switch (seg[0]) {
                case "encrypt" -> encrypt(tm, seg[1], body);
                case "decrypt" -> decrypt(tm, seg[1], body);
                default -> rewrap(tm, seg[1], body);
            };
        }
        if (seg[0].equals("datakey") && seg.length == 3 && validName(seg[1]) && validName(seg[2])) {
            requireOp(op, Op.UPDATE);
            return datakey(tm, seg[1], seg[2], parseBody(rawBody));
        }
        throw new VaultError(404, ERR_UNSUPPORTED_PATH);
    }

    private static boolean validName(String s) {
        return NAME.matcher(s).matches();
    }

    private static ObjectNode formatKey(TransitKey k) {
        ObjectNode d = JSON.createObjectNode();
        d.put("name", k.name);
        d.put("type", k.type);
        d.put("derived", k.derived);
        d.put("deletion_allowed", k.deletionAllowed);
        d.put("min_available_version", k.minAvailableVersion);
        d.put("min_decryption_version", k.minDecryptionVersion);
        d.put("min_encryption_version", k.minEncryptionVersion);
        d.put("latest_version", k.latest());
        d.put("exportable", k.exportable);
        d.put("allow_plaintext_backup", k.allowPlaintextBackup);
        d.put("supports_encryption", true);
        d.put("supports_decryption", true);
        d.put("supports_signing", false);
        d.put("supports_derivation", true);
        d.put("auto_rotate_period", k.autoRotatePeriodSeconds);
        d.put("imported_key", false);
        if (k.derived) {
            d.put("kdf", "hkdf_sha256");
            d.put("convergent_encryption", false);
        }
        ObjectNode keys = d.putObject("keys");
        for (int v = 1; v <= k.latest(); v++) {
            keys.put(String.valueOf(v), k.versions.get(v - 1).created().getEpochSecond());
        }
        return d;
    }

    private Response createKey(TransitMount tm, String name, ObjectNode body) {
        boolean derived = bool(body, "derived");
        boolean convergent = bool(body, "convergent_encryption");
        String type = body.hasNonNull("type") ? text(body, "type") : "aes256-gcm96";
        long autoRotate = durationSeconds(body.get("auto_rotate_period"));
        if (autoRotate != 0 && autoRotate < 3600) {
            throw new VaultError(400, "auto rotate period must be 0 to disable or at least an hour");
        }
        if (!derived && convergent) {
            throw new VaultError(400, "convergent encryption requires derivation to be enabled");
        }
        checkKeyType(type, false);
        if (convergent) {
            throw new VaultError(500, "FakeVault does not implement convergent encryption");
        }
        TransitKey existing = tm.keys.get(name);
        if (existing != null) {
            return ok(formatKey(existing), "transit", List.of("key " + name + " already existed"));
        }
        TransitKey k = new TransitKey(name, type, derived);
        k.exportable = bool(body, "exportable");
        k.allowPlaintextBackup = bool(body, "allow_plaintext_backup");
        k.autoRotatePeriodSeconds = autoRotate;
        tm.keys.put(name, k);
        return ok(formatKey(k), "transit");
    }

    /** Vault's key type switch; {@code forEncryptUpsert} mirrors path_encrypt.go's narrower list. */
    private static void checkKeyType(String type, boolean forEncryptUpsert) {
        switch (type) {
            case "aes128-gcm96", "aes256-gcm96", "chacha20-poly1305" -> {
            }
            case "ecdsa-p256", "ecdsa-p384", "ecdsa-p521" -> {
                if (forEncryptUpsert) {
                    throw new VaultError(400, "key type " + type + " not supported for this operation");
                }
                throw new VaultError(500, "FakeVault does not implement key type " + type);
            }
            case "rsa-2048", "rsa-3072", "rsa-4096", "managed_key" ->
                throw new VaultError(500, "FakeVault does not implement key type " + type);
            case "ed25519", "hmac" -> {
                if (forEncryptUpsert) {
                    throw new VaultError(400, "unknown key type " + type);
                }
                throw new VaultError(500, "FakeVault does not implement key type " + type);
            }
            default -> throw new VaultError(400, "unknown key type " + type);
        }
    }

    private Response deleteKey(TransitMount tm, String name) {
        TransitKey k = tm.keys.get(name);
        if (k == null) {
            throw new VaultError(400, "error deleting policy " + name + ": could not delete key; not found");
        }
        if (!k.deletionAllowed) {
            throw new VaultError(400, "error deleting policy " + name + ": deletion is not allowed for this key");
        }
        tm.keys.remove(name);
        return noContent();
    }

    private Response rotateKey(TransitMount tm, String name) {
        TransitKey k = tm.keys.get(name);
        if (k == null) {
            throw new VaultError(400, "key not found");
        }
        k.rotate();
        return ok(formatKey(k), "transit");
    }

    /** path_keys_config.go pathKeysConfigWrite; changes are rolled back when an error is answered. */
    private Response configKey(TransitMount tm, String name, ObjectNode body) {
        TransitKey k = tm.keys.get(name);
        if (k == null) {
            throw new VaultError(400, "no existing key named " + name + " could be found");
        }
        int minDec = k.minDecryptionVersion;
        int minEnc = k.minEncryptionVersion;
        List<String> warnings = new ArrayList<>();
        if (body.has("min_decryption_version")) {
            int v = intField(body, "min_decryption_version");
            if (v < 0) {
                throw new VaultError(400, "min decryption version cannot be negative");
            }
            if (v == 0) {
                v = 1;
                warnings.add("since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1");
            }
            if (v != minDec) {
                if (v > k.latest()) {
                    throw new VaultError(400, "cannot set min decryption version of " + v + ", latest key version is "
                            + k.latest());
                }
                minDec = v;
            }
        }
        if (body.has("min_encryption_version")) {
            int v = intField(body, "min_encryption_version");
            if (v < 0) {
                throw new VaultError(400, "min encryption version cannot be negative");
            }
            if (v != minEnc) {
                if (v > k.latest()) {
                    throw new VaultError(400, "cannot set min encryption version of " + v + ", latest key version is "
                            + k.latest());
                }
                minEnc = v;
            }
        }
        if (minEnc > 0 && minEnc < minDec) {
            throw new VaultError(400, "cannot set min encryption/decryption values; min encryption version of "
                    + minEnc + " must be greater than or equal to min decryption version of " + minDec);
        }
        long autoRotate = k.autoRotatePeriodSeconds;
        if (body.has("auto_rotate_period")) {
            autoRotate = durationSeconds(body.get("auto_rotate_period"));
            if (autoRotate != 0 && autoRotate < 3600) {
                throw new VaultError(400, "auto rotate period must be 0 to disable or at least an hour");
            }
        }
        k.minDecryptionVersion = minDec;
        k.minEncryptionVersion = minEnc;
        k.autoRotatePeriodSeconds = autoRotate;
        if (body.has("deletion_allowed")) {
            k.deletionAllowed = bool(body, "deletion_allowed");
        }
        if (bool(body, "exportable")) {
            k.exportable = true;
        }
        if (bool(body, "allow_plaintext_backup")) {
            k.allowPlaintextBackup = true;
        }
        return ok(formatKey(k), "transit", warnings);
    }

    private Response encrypt(TransitMount tm, String name, ObjectNode body) {
        JsonNode batchRaw = body.get("batch_input");
        boolean batch = batchRaw != null && !batchRaw.isNull();
        List<Item> items;
        if (batch) {
            items = decodeBatch(batchRaw, true, false);
            if (items.isEmpty()) {
                throw new VaultError(400, "missing batch input to process");
            }
        } else {
            if (!body.has("plaintext") || body.get("plaintext").isNull()) {
                throw new VaultError(400, "missing plaintext to encrypt");
            }
            items = List.of(new Item(text(body, "plaintext"), "", text(body, "context"), text(body, "nonce"),
                    intField(body, "key_version"), text(body, "associated_data"), ""));
        }
        int n = items.size();
        count("transit/encrypt.items", n);
        String[] errors = new String[n];
        byte[][] contexts = new byte[n][];
        boolean contextSet = !items.get(0).context().isEmpty();
        boolean userError = false;
        for (int i = 0; i < n; i++) {
            Item it = items.get(i);
            if (it.context().isEmpty() == contextSet) {
                throw new VaultError(400, "context should be set either in all the request blocks or in none");
            }
            try {
                goBase64(it.plaintext());
                contexts[i] = it.context().isEmpty() ? null : goBase64(it.context());
                if (!it.nonce().isEmpty()) {
                    goBase64(it.nonce());
                }
            } catch (UserError e) {
                errors[i] = e.getMessage();
                userError = true;
            }
        }

        TransitKey key = tm.keys.get(name);
        if (key == null && !tm.disableUpsert) {
            // the existence check failed, so this is a "create" operation: upsert the key
            if (bool(body, "convergent_encryption")) {
                if (!contextSet) {
                    throw new VaultError(400,
                            "convergent encryption requires derivation to be enabled, so context is required");
                }
                throw new VaultError(500, "FakeVault does not implement convergent encryption");
            }
            String type = body.hasNonNull("type") ? text(body, "type") : "aes256-gcm96";
            checkKeyType(type, true);
            key = new TransitKey(name, type, contextSet);
            tm.keys.put(name, key);
        }
        if (key == null) {
            throw new VaultError(400, "encryption key not found");
        }

        ArrayNode results = JSON.createArrayNode();
        boolean success = false;
        String ciphertext = null;
        int usedVersion = 0;
        for (int i = 0; i < n; i++) {
            Item it = items.get(i);
            ObjectNode r = JSON.createObjectNode();
            if (errors[i] == null && !it.nonce().isEmpty()) {
                errors[i] = "provided nonce not allowed for this key";
                userError = true;
            }
            if (errors[i] == null) {
                try {
                    int ver = it.keyVersion() == 0 ? key.latest() : it.keyVersion();
                    ciphertext = encryptWith(key, it.keyVersion(), contexts[i], it.plaintext(), it.associatedData());
                    usedVersion = ver;
                    r.put("ciphertext", ciphertext);
                    r.put("key_version", ver);
                    success = true;
                } catch (UserError e) {
                    errors[i] = e.getMessage();
                    userError = true;
                }
            }
            if (errors[i] != null) {
                r.put("error", errors[i]);
            }
            r.put("reference", it.reference());
            results.add(r);
        }
        if (!batch) {
            if (errors[0] != null) {
                throw new VaultError(400, errors[0]);
            }
            ObjectNode d = JSON.createObjectNode();
            d.put("ciphertext", ciphertext);
            d.put("key_version", usedVersion);
            return ok(d, "transit");
        }
        ObjectNode d = JSON.createObjectNode();
        d.set("batch_results", results);
        return batchResponse(body, d, success, userError);
    }

    private Response decrypt(TransitMount tm, String name, ObjectNode body) {
        JsonNode batchRaw = body.get("batch_input");
        boolean batch = batchRaw != null && !batchRaw.isNull();
        List<Item> items;
        if (batch) {
            items = decodeBatch(batchRaw, false, true);
            if (items.isEmpty()) {
                throw new VaultError(400, "missing batch input to process");
            }
        } else {
            String ct = text(body, "ciphertext");
            if (ct.isEmpty()) {
                throw new VaultError(400, "missing ciphertext to decrypt");
            }
            items = List.of(new Item("", ct, text(body, "context"), text(body, "nonce"), 0,
                    text(body, "associated_data"), ""));
        }
        int n = items.size();
        count("transit/decrypt.items", n);
        String[] errors = new String[n];
        byte[][] contexts = new byte[n][];
        boolean contextSet = !items.get(0).context().isEmpty();
        boolean userError = false;
        for (int i = 0; i < n; i++) {
            Item it = items.get(i);
            if (it.context().isEmpty() == contextSet) {
                throw new VaultError(400, "context should be set either in all the request blocks or in none");
            }
            if (it.ciphertext().isEmpty()) {
                errors[i] = "missing ciphertext to decrypt";
                userError = true;
                continue;
            }
            try {
                contexts[i] = it.context().isEmpty() ? null : goBase64(it.context());
                if (!it.nonce().isEmpty()) {
                    goBase64(it.nonce());
                }
            } catch (UserError e) {
                errors[i] = e.getMessage();
                userError = true;
            }
        }
        TransitKey key = tm.keys.get(name);
        if (key == null) {
            throw new VaultError(400, "encryption key not found");
        }
        ArrayNode results = JSON.createArrayNode();
        boolean success = false;
        String plaintext = "";
        for (int i = 0; i < n; i++) {
            Item it = items.get(i);
            ObjectNode r = JSON.createObjectNode();
            String pt = "";
            if (errors[i] == null) {
                try {
                    pt = decryptWith(key, contexts[i], it.ciphertext(), it.associatedData());
                    success = true;
                } catch (UserError e) {
                    errors[i] = e.getMessage();
                    userError = true;
                }
            }
            if (i == 0) {
                plaintext = pt;
            }
            r.put("plaintext", pt);
            if (errors[i] != null) {
                r.put("error", errors[i]);
            }
            r.put("reference", it.reference());
            results.add(r);
        }
        if (!batch) {
            if (errors[0] != null) {
                throw new VaultError(400, errors[0]);
            }
            ObjectNode d = JSON.createObjectNode();
            d.put("plaintext", plaintext);
            return ok(d, "transit");
        }
        ObjectNode d = JSON.createObjectNode();
        d.set("batch_results", results);
        return batchResponse(body, d, success, userError);
    }

    /** path_rewrap.go: batch item errors do not change the status (200). */
    private Response rewrap(TransitMount tm, String name, ObjectNode body) {
        JsonNode batchRaw = body.get("batch_input");
        boolean batch = batchRaw != null && !batchRaw.isNull();
        List<Item> items;
        if (batch) {
            items = decodeBatch(batchRaw, false, false);
            if (items.isEmpty()) {
                throw new VaultError(400, "missing batch input to process");
            }
        } else {
            String ct = text(body, "ciphertext");
            if (ct.isEmpty()) {
                throw new VaultError(400, "missing ciphertext to decrypt");
            }
            items = List.of(new Item("", ct, text(body, "context"), text(body, "nonce"),
                    intField(body, "key_version"), "", ""));
        }
        int n = items.size();
        count("transit/rewrap.items", n);
        String[] errors = new String[n];
        byte[][] contexts = new byte[n][];
        boolean contextSet = !items.get(0).context().isEmpty();
        for (int i = 0; i < n; i++) {
            Item it = items.get(i);
            if (it.context().isEmpty() == contextSet) {
                throw new VaultError(400, "context should be set either in all the request blocks or in none");
            }
            if (it.ciphertext().isEmpty()) {
                errors[i] = "missing ciphertext to decrypt";
                continue;
            }
            try {
                contexts[i] = it.context().isEmpty() ? null : goBase64(it.context());
                if (!it.nonce().isEmpty()) {
                    goBase64(it.nonce());
                }
            } catch (UserError e) {
                errors[i] = e.getMessage();
            }
        }
        TransitKey key = tm.keys.get(name);
        if (key == null) {
            throw new VaultError(400, "encryption key not found");
        }
        ArrayNode results = JSON.createArrayNode();
        String ciphertext = null;
        int usedVersion = 0;
        for (int i = 0; i < n; i++) {
            Item it = items.get(i);
            ObjectNode r = JSON.createObjectNode();
            if (errors[i] == null && !it.nonce().isEmpty()) {
                errors[i] = "provided nonce not allowed for this key";
            }
            if (errors[i] == null) {
                try {
                    String pt = decryptWith(key, contexts[i], it.ciphertext(), "");
                    int ver = it.keyVersion() == 0 ? key.latest() : it.keyVersion();
                    String ct = encryptWith(key, it.keyVersion(), contexts[i], pt, "");
                    if (i == 0) {
                        ciphertext = ct;
                        usedVersion = ver;
                    }
                    r.put("ciphertext", ct);
                    r.put("key_version", ver);
                } catch (UserError e) {
                    errors[i] = e.getMessage();
                }
            }
            if (errors[i] != null) {
                r.put("error", errors[i]);
            }
            r.put("reference", it.reference());
            results.add(r);
        }
        if (!batch) {
            if (errors[0] != null) {
                throw new VaultError(400, errors[0]);
            }
            ObjectNode d = JSON.createObjectNode();
            d.put("ciphertext", ciphertext);
            d.put("key_version", usedVersion);
            return ok(d, "transit");
        }
        ObjectNode d = JSON.createObjectNode();
        d.set("batch_results", results);
        return ok(d, "transit");
    }

    private Response datakey(TransitMount tm, String kind, String name, ObjectNode body) {
        boolean plaintextAllowed;
        switch (kind) {
            case "plaintext" -> plaintextAllowed = true;
            case "wrapped" -> plaintextAllowed = false;
            default -> throw new VaultError(400, "Invalid path, must be 'plaintext' or 'wrapped'");
        }
        byte[] context = null;
        String ctxRaw = text(body, "context");
        if (!ctxRaw.isEmpty()) {
            try {
                context = goBase64(ctxRaw);
            } catch (UserError e) {
                throw new VaultError(400, "failed to base64-decode context");
            }
        }
        String nonceRaw = text(body, "nonce");
        if (!nonceRaw.isEmpty()) {
            try {
                goBase64(nonceRaw);
            } catch (UserError e) {
                throw new VaultError(400, "failed to base64-decode nonce");
            }
        }
        TransitKey key = tm.keys.get(name);
        if (key == null) {
            throw new VaultError(400, "encryption key not found");
        }
        int bits = body.hasNonNull("bits") ? intField(body, "bits") : 256;
        byte[] dk = switch (bits) {
            case 128 -> new byte[16];
            case 256 -> new byte[32];
            case 512 -> new byte[64];
            default -> throw new VaultError(400, "invalid bit length");
        };
        RANDOM.nextBytes(dk);
        int kv = intField(body, "key_version");
        String plainB64 = Base64.getEncoder().encodeToString(dk);
        String ct;
        try {
            ct = encryptWith(key, kv, context, plainB64, "");
        } catch (UserError e) {
            throw new VaultError(400, e.getMessage());
        }
        if (!nonceRaw.isEmpty()) {
            throw new VaultError(500, "provided nonce not allowed for this key");
        }
        ObjectNode d = JSON.createObjectNode();
        d.put("ciphertext", ct);
        d.put("key_version", kv == 0 ? key.latest() : kv);
        if (plaintextAllowed) {
            d.put("plaintext", plainB64);
        }
        return ok(d, "transit");
    }

    /** batchRequestResponse in path_encrypt.go. */
    private static Response batchResponse(ObjectNode body, ObjectNode data, boolean success, boolean userError) {
        List<String> warnings = new ArrayList<>();
        if (userError) {
            int code = 400;
            if (body.hasNonNull("partial_failure_response_code") && success) {
                int newCode = intField(body, "partial_failure_response_code");
                if (newCode < 1 || newCode > 599) {
                    warnings.add("invalid HTTP response code override from partial_failure_response_code, reverting to "
                            + code);
                } else {
                    code = newCode;
                }
            }
            return json(code, envelope(data, "transit", warnings));
        }
        return ok(data, "transit");
    }

    /** decodeBatchRequestItems in path_encrypt.go (errors make the whole request fail with 500). */
    private static List<Item> decodeBatch(JsonNode raw, boolean requirePlaintext, boolean requireCiphertext) {
        if (!raw.isArray()) {
            throw new VaultError(500, "failed to parse batch input: source data must be an array or slice, got "
                    + goType(raw));
        }
        List<String> errs = new ArrayList<>();
        List<Item> items = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            JsonNode n = raw.get(i);
            if (!n.isObject()) {
                throw new VaultError(500, "failed to parse batch input: [" + i + "] expected a map, got '"
                        + goType(n) + "'");
            }
            String context = batchString(n, "context", i, errs);
            String ciphertext = batchString(n, "ciphertext", i, errs);
            if (!n.has("ciphertext") && requireCiphertext) {
                errs.add("'[" + i + "].ciphertext' missing ciphertext to decrypt");
            }
            String plaintext = "";
            if (n.has("plaintext")) {
                if (n.get("plaintext").isTextual()) {
                    plaintext = n.get("plaintext").asText();
                } else {
                    errs.add("'[" + i + "].plaintext' expected type 'string', got unconvertible type '"
                            + goType(n.get("plaintext")) + "'");
                }
            } else if (requirePlaintext) {
                errs.add("'[" + i + "].plaintext' missing plaintext to encrypt");
            }
            String nonce = batchString(n, "nonce", i, errs);
            int keyVersion = 0;
            JsonNode kv = n.get("key_version");
            if (kv != null && !kv.isNull()) {
                if (kv.isIntegralNumber()) {
                    keyVersion = kv.asInt();
                } else {
                    errs.add("'[" + i + "].key_version' expected type 'int', got unconvertible type '" + goType(kv)
                            + "'");
                }
            }
            String ad = batchString(n, "associated_data", i, errs);
            String reference = batchString(n, "reference", i, errs);
            items.add(new Item(plaintext, ciphertext, context, nonce, keyVersion, ad, reference));
        }
        if (!errs.isEmpty()) {
            StringBuilder sb = new StringBuilder("failed to parse batch input: ").append(errs.size())
                    .append(" error(s) decoding:\n");
            errs.forEach(e -> sb.append("\n* ").append(e));
            throw new VaultError(500, sb.toString());
        }
        return items;
    }

    private static String batchString(JsonNode n, String field, int i, List<String> errs) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return "";
        }
        if (!v.isTextual()) {
            errs.add("'[" + i + "]." + field + "' expected type 'string', got unconvertible type '" + goType(v) + "'");
            return "";
        }
        return v.asText();
    }

    private static String goType(JsonNode n) {
        if (n.isTextual()) {
            return "string";
        }
        if (n.isNumber()) {
            return "json.Number";
        }
        if (n.isBoolean()) {
            return "bool";
        }
        if (n.isArray()) {
            return "[]interface {}";
        }
        if (n.isObject()) {
            return "map[string]interface {}";
        }
        return "<nil>";
    }

    // ------------------------------------------------------------------------------------------ crypto

    /** Policy.EncryptWithFactory for the symmetric AEAD key types. */
    private static String encryptWith(TransitKey key, int requestedVersion, byte[] context, String plaintextB64,
            String associatedDataB64) throws UserError {
        byte[] plaintext = goBase64(plaintextB64);
        int ver = requestedVersion;
        if (ver == 0) {
            ver = key.latest();
        } else if (ver < 0) {
            throw new UserError("requested version for encryption is negative");
        } else if (ver > key.latest()) {
            throw new UserError("requested version for encryption is higher than the latest key version");
        } else if (ver < key.minEncryptionVersion) {
            throw new UserError("requested version for encryption is less than the minimum encryption key version");
        }
        byte[] aad = associatedDataB64.isEmpty() ? null : goBase64(associatedDataB64);
        byte[] k = versionKey(key, ver, context);
        byte[] nonce = new byte[12];
        RANDOM.nextBytes(nonce);
        byte[] sealed;
        try {
            Cipher c = cipher(key, Cipher.ENCRYPT_MODE, k, nonce);
            if (aad != null) {
                c.updateAAD(aad);
            }
            sealed = c.doFinal(plaintext);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
        byte[] out = new byte[nonce.length + sealed.length];
        System.arraycopy(nonce, 0, out, 0, nonce.length);
        System.arraycopy(sealed, 0, out, nonce.length, sealed.length);
        return "vault:v" + ver + ":" + Base64.getEncoder().encodeToString(out);
    }

    /** Policy.DecryptWithFactory for the symmetric AEAD key types; returns base64 plaintext. */
    private static String decryptWith(TransitKey key, byte[] context, String value, String associatedDataB64)
            throws UserError {
        String prefix = "vault:v";
        if (!value.startsWith(prefix)) {
            throw new UserError("invalid ciphertext: no prefix");
        }
        String rest = value.substring(prefix.length());
        int colon = rest.indexOf(':');
        if (colon < 0) {
            throw new UserError("invalid ciphertext: wrong number of fields");
        }
        int ver;
        try {
            ver = Integer.parseInt(rest.substring(0, colon));
        } catch (NumberFormatException e) {
            throw new UserError("invalid ciphertext: version number could not be decoded");
        }
        if (ver == 0) {
            ver = 1; // compatibility with the initial implementation, where keys started at zero
        }
        if (ver > key.latest()) {
            throw new UserError("invalid ciphertext: version is too new");
        }
        if (key.minDecryptionVersion > 0 && ver < key.minDecryptionVersion) {
            throw new UserError(ERR_TOO_OLD);
        }
        byte[] decoded;
        try {
            decoded = goBase64(rest.substring(colon + 1));
        } catch (UserError e) {
            throw new UserError("invalid ciphertext: could not decode base64");
        }
        byte[] k = versionKey(key, ver, context);
        byte[] aad = associatedDataB64.isEmpty() ? null : goBase64(associatedDataB64);
        if (decoded.length < 12) {
            throw new UserError("invalid ciphertext length");
        }
        byte[] nonce = java.util.Arrays.copyOfRange(decoded, 0, 12);
        try {
            Cipher c = cipher(key, Cipher.DECRYPT_MODE, k, nonce);
            if (aad != null) {
                c.updateAAD(aad);
            }
            byte[] plain = c.doFinal(decoded, 12, decoded.length - 12);
            return Base64.getEncoder().encodeToString(plain);
        } catch (GeneralSecurityException e) {
            throw new UserError(key.type.startsWith("chacha20") ? "chacha20poly1305: message authentication failed"
                    : "cipher: message authentication failed");
        }
    }

    private static Cipher cipher(TransitKey key, int mode, byte[] k, byte[] nonce) throws GeneralSecurityException {
        if (key.type.startsWith("chacha20")) {
            Cipher c = Cipher.getInstance("ChaCha20-Poly1305");
            c.init(mode, new SecretKeySpec(k, "ChaCha20"), new IvParameterSpec(nonce));
            return c;
        }
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
        c.init(mode, new SecretKeySpec(k, "AES"), new GCMParameterSpec(128, nonce));
        return c;
    }

    /** Policy.GetKey: the stored key, or an HKDF-SHA256 derivation of it for derived keys. */
    private static byte[] versionKey(TransitKey key, int ver, byte[] context) throws UserError {
        if (ver <= 0 || ver > key.latest()) {
            throw new UserError("invalid key version");
        }
        byte[] base = key.versions.get(ver - 1).key();
        if (!key.derived) {
            return base;
        }
        if (context == null || context.length == 0) {
            throw new UserError("missing 'context' for key derivation; the key was created using a derived key, "
                    + "which means additional, per-request information must be included in order to perform "
                    + "operations with the key");
        }
        return hkdfSha256(base, context, base.length);
    }

    private static byte[] hkdfSha256(byte[] ikm, byte[] info, int length) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(new byte[32], "HmacSHA256")); // nil salt = HashLen zero bytes
            byte[] prk = mac.doFinal(ikm);
            mac.init(new SecretKeySpec(prk, "HmacSHA256"));
            byte[] out = new byte[length];
            byte[] t = new byte[0];
            int pos = 0;
            for (int i = 1; pos < length; i++) {
                mac.update(t);
                mac.update(info);
                mac.update((byte) i);
                t = mac.doFinal();
                int n = Math.min(t.length, length - pos);
                System.arraycopy(t, 0, out, pos, n);
                pos += n;
            }
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * base64.StdEncoding.DecodeString: padded standard alphabet, CR/LF ignored; failures are reported as Go does
     * ("illegal base64 data at input byte N", N approximating Go's offset).
     */
    static byte[] goBase64(String s) throws UserError {
        StringBuilder clean = new StringBuilder(s.length());
        int[] origin = new int[s.length() + 1];
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\r' || c == '\n') {
                continue;
            }
            origin[clean.length()] = i;
            clean.append(c);
        }
        origin[clean.length()] = s.length();
        int n = clean.length();
        for (int i = 0; i < n; i++) {
            char c = clean.charAt(i);
            if (c == '=') {
                int q = i % 4;
                boolean okPad = (q == 3 && i == n - 1) || (q == 2 && i == n - 2 && clean.charAt(i + 1) == '=');
                if (!okPad) {
                    throw new UserError("illegal base64 data at input byte " + origin[i]);
                }
                break;
            }
            if (B64_ALPHABET.indexOf(c) < 0) {
                throw new UserError("illegal base64 data at input byte " + origin[i]);
            }
        }
        if (n % 4 != 0) {
            throw new UserError("illegal base64 data at input byte " + origin[n - n % 4]);
        }
        try {
            return Base64.getDecoder().decode(clean.toString());
        } catch (IllegalArgumentException e) {
            throw new UserError("illegal base64 data at input byte 0");
        }
    }

    // ------------------------------------------------------------------------------------------ kv

    private static final class KvVersion {
        final JsonNode data;
        final Instant created;
        Instant deletionTime;
        boolean destroyed;

        KvVersion(JsonNode data, Instant created) {
            this.data = data;
            this.created = created;
        }
    }

    private static final class KvSecret {
        final Map<Integer, KvVersion> versions = new TreeMap<>();
        int currentVersion;
        int oldestVersion;
        Instant created;
        Instant updated;
    }

    private static final class KvMount implements Mount {
        final int version;
        final Map<String, KvSecret> secrets = new TreeMap<>();
        final Map<String, JsonNode> v1 = new TreeMap<>();

        KvMount(int version) {
            this.version = version;
        }

        KvVersion write(String path, JsonNode data) {
            if (version == 1) {
                v1.put(path, data.deepCopy());
                return null;
            }
            KvSecret s = secrets.computeIfAbsent(path, k -> new KvSecret());
            Instant now = Instant.now();
            KvVersion v = new KvVersion(data.deepCopy(), now);
            s.currentVersion++;
            s.versions.put(s.currentVersion, v);
            if (s.created == null) {
                s.created = now;
            }
            s.updated = now;
            // default max_versions is 10
            while (s.versions.size() > 10) {
                int oldest = s.versions.keySet().iterator().next();
                s.versions.remove(oldest);
                s.oldestVersion = oldest + 1;
            }
            return v;
        }
    }

    private static String time(Instant t) {
        return t == null ? "" : t.toString();
    }

    private static ObjectNode versionMetadata(int version, KvVersion v) {
        ObjectNode m = JSON.createObjectNode();
        m.put("created_time", time(v.created));
        m.putNull("custom_metadata");
        m.put("deletion_time", time(v.deletionTime));
        m.put("destroyed", v.destroyed);
        m.put("version", version);
        return m;
    }

    private Response kv(KvMount kv, Op op, String rest, String rawBody, Map<String, String> params) {
        if (kv.version == 1) {
            return kv1(kv, op, rest, rawBody);
        }
        if (rest.startsWith("data/") || rest.equals("data")) {
            String path = rest.length() > 5 ? rest.substring(5) : "";
            requireOp(op, Op.READ, Op.UPDATE, Op.DELETE);
            return switch (op) {
                case READ -> kvRead(kv, path, params);
                case UPDATE -> kvWrite(kv, path, parseBody(rawBody));
                default -> kvDelete(kv, path);
            };
        }
        if (rest.startsWith("metadata/") || rest.equals("metadata")) {
            String path = rest.length() > 9 ? rest.substring(9) : "";
            requireOp(op, Op.READ, Op.LIST, Op.DELETE);
            return switch (op) {
                case LIST -> kvList(kv.secrets.keySet(), path, "kv");
                case READ -> kvMetadata(kv, path);
                default -> {
                    kv.secrets.remove(path);
                    yield noContent();
                }
            };
        }
        throw new VaultError(404, ERR_UNSUPPORTED_PATH);
    }

    private Response kvRead(KvMount kv, String path, Map<String, String> params) {
        KvSecret s = kv.secrets.get(path);
        if (s == null) {
            throw new VaultError(404);
        }
        int ver = s.currentVersion;
        int requested = intParam(params, "version", 0);
        if (requested > 0) {
            ver = requested;
        }
        KvVersion v = s.versions.get(ver);
        if (v == null) {
            throw new VaultError(404);
        }
        ObjectNode d = JSON.createObjectNode();
        d.set("metadata", versionMetadata(ver, v));
        if ((v.deletionTime != null && v.deletionTime.isBefore(Instant.now())) || v.destroyed) {
            d.putNull("data");
            return json(404, envelope(d, "kv", null));
        }
        d.set("data", v.data.deepCopy());
        // keep Vault's field order: data, metadata
        ObjectNode ordered = JSON.createObjectNode();
        ordered.set("data", d.get("data"));
        ordered.set("metadata", d.get("metadata"));
        return ok(ordered, "kv");
    }

    private Response kvWrite(KvMount kv, String path, ObjectNode body) {
        if (path.isEmpty()) {
            throw new VaultError(400, "missing path");
        }
        JsonNode data = body.get("data");
        if (data == null || data.isNull()) {
            throw new VaultError(400, "no data provided");
        }
        if (!data.isObject()) {
            throw new VaultError(400, "error converting input data: '' expected a map, got '"
                    + goType(data).replace("json.Number", "float64") + "'");
        }
        KvSecret s = kv.secrets.get(path);
        int current = s == null ? 0 : s.currentVersion;
        JsonNode cas = body.path("options").get("cas");
        if (cas != null && !cas.isNull()) {
            int casVersion;
            try {
                casVersion = cas.isTextual() ? Integer.parseInt(cas.asText()) : cas.asInt();
            } catch (NumberFormatException e) {
                throw new VaultError(400, "error parsing check-and-set parameter");
            }
            if (casVersion != current) {
                throw new VaultError(400, "check-and-set parameter did not match the current version");
            }
        }
        KvVersion v = kv.write(path, data);
        return ok(versionMetadata(kv.secrets.get(path).currentVersion, v), "kv");
    }

    private Response kvDelete(KvMount kv, String path) {
        KvSecret s = kv.secrets.get(path);
        if (s != null) {
            KvVersion latest = s.versions.get(s.currentVersion);
            if (latest != null && !latest.destroyed && latest.deletionTime == null) {
                latest.deletionTime = Instant.now();
            }
        }
        return noContent();
    }

    private Response kvMetadata(KvMount kv, String path) {
        KvSecret s = kv.secrets.get(path);
        if (s == null) {
            throw new VaultError(404);
        }
        ObjectNode d = JSON.createObjectNode();
        d.put("cas_required", false);
        d.put("created_time", time(s.created));
        d.put("current_version", s.currentVersion);
        d.putNull("custom_metadata");
        d.put("delete_version_after", "0s");
        d.put("max_versions", 0);
        d.put("oldest_version", s.oldestVersion);
        d.put("updated_time", time(s.updated));
        ObjectNode versions = d.putObject("versions");
        s.versions.forEach((num, v) -> {
            ObjectNode e = versions.putObject(String.valueOf(num));
            e.put("created_time", time(v.created));
            e.put("deletion_time", time(v.deletionTime));
            e.put("destroyed", v.destroyed);
        });
        return ok(d, "kv");
    }

    private static Response kvList(Set<String> paths, String prefix, String mountType) {
        String pre = prefix.isEmpty() || prefix.endsWith("/") ? prefix : prefix + "/";
        Set<String> keys = new TreeSet<>();
        for (String p : paths) {
            if (p.startsWith(pre) && p.length() > pre.length()) {
                String rem = p.substring(pre.length());
                int slash = rem.indexOf('/');
                keys.add(slash < 0 ? rem : rem.substring(0, slash + 1));
            }
        }
        if (keys.isEmpty()) {
            throw new VaultError(404);
        }
        ObjectNode d = JSON.createObjectNode();
        ArrayNode a = d.putArray("keys");
        keys.forEach(a::add);
        return ok(d, mountType);
    }

    private Response kv1(KvMount kv, Op op, String path, String rawBody) {
        switch (op) {
            case READ -> {
                JsonNode v = kv.v1.get(path);
                if (v == null) {
                    throw new VaultError(404);
                }
                return ok(v.deepCopy(), "kv");
            }
            case LIST -> {
                return kvList(kv.v1.keySet(), path, "kv");
            }
            case UPDATE -> {
                if (path.isEmpty()) {
                    throw new VaultError(400, "missing path");
                }
                ObjectNode body = parseBody(rawBody);
                if (body.isEmpty()) {
                    throw new VaultError(400, "missing data fields");
                }
                kv.write(path, body);
                return noContent();
            }
            case DELETE -> {
                kv.v1.remove(path);
                return noContent();
            }
            default -> throw new VaultError(405, ERR_UNSUPPORTED_OPERATION);
        }
    }

    // ------------------------------------------------------------------------------------------ helpers

    private TransitMount transitMount(String mount) {
        Mount m = mounts.get(normalizeMount(mount));
        if (!(m instanceof TransitMount tm)) {
            throw new IllegalArgumentException("no transit engine mounted at " + mount);
        }
        return tm;
    }

    private TransitKey existingKey(String mount, String key) {
        TransitKey k = transitMount(mount).keys.get(key);
        if (k == null) {
            throw new IllegalArgumentException("no key " + key + " in " + mount);
        }
        return k;
    }

    private static String normalizeMount(String mount) {
        String m = stripSlashes(mount);
        if (m.isEmpty()) {
            throw new IllegalArgumentException("empty mount path");
        }
        return m + "/";
    }

    private static String stripSlashes(String s) {
        String r = stripLeadingSlash(s);
        while (r.endsWith("/")) {
            r = r.substring(0, r.length() - 1);
        }
        return r;
    }

    private static String stripLeadingSlash(String s) {
        String r = s;
        while (r.startsWith("/")) {
            r = r.substring(1);
        }
        return r;
    }

    /** framework.TypeString: strings as-is, numbers/booleans converted (weak decoding), absent/null as "". */
    private static String text(ObjectNode body, String field) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return "";
        }
        if (n.isValueNode()) {
            return n.asText();
        }
        throw new VaultError(400, "error converting input for field \"" + field + "\": expected a string");
    }

    /** framework.TypeInt: numbers or numeric strings. */
    private static int intField(ObjectNode body, String field) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return 0;
        }
        if (n.isIntegralNumber()) {
            return n.asInt();
        }
        if (n.isTextual()) {
            try {
                return n.asText().isEmpty() ? 0 : Integer.parseInt(n.asText().trim());
            } catch (NumberFormatException e) {
                // fall through
            }
        }
        throw new VaultError(400, "error converting input " + n + " for field \"" + field + "\": cannot parse '"
                + n.asText() + "' as int");
    }

    /** framework.TypeBool. */
    private static boolean bool(ObjectNode body, String field) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return false;
        }
        if (n.isBoolean()) {
            return n.asBoolean();
        }
        if (n.isTextual()) {
            String t = n.asText().toLowerCase(Locale.ROOT);
            if (t.equals("true") || t.equals("1") || t.equals("t")) {
                return true;
            }
            if (t.equals("false") || t.equals("0") || t.equals("f") || t.isEmpty()) {
                return false;
            }
        }
        if (n.isNumber()) {
            return n.asInt() != 0;
        }
        throw new VaultError(400, "error converting input for field \"" + field + "\": cannot parse as bool");
    }

    /** framework.TypeDurationSecond: integer seconds or Go-style duration strings such as "1h", "90m", "3600s". */
    private static long durationSeconds(JsonNode n) {
        if (n == null || n.isNull()) {
            return 0;
        }
        if (n.isNumber()) {
            return n.asLong();
        }
        String s = n.asText().trim();
        if (s.isEmpty()) {
            return 0;
        }
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            // parse unit suffixes below
        }
        long total = 0;
        java.util.regex.Matcher m = Pattern.compile("(\\d+)(h|m|s|d)").matcher(s);
        int end = 0;
        while (m.find()) {
            if (m.start() != end) {
                break;
            }
            long v = Long.parseLong(m.group(1));
            total += switch (m.group(2)) {
                case "d" -> v * 86400;
                case "h" -> v * 3600;
                case "m" -> v * 60;
                default -> v;
            };
            end = m.end();
        }
        if (end != s.length()) {
            throw new VaultError(400, "error converting input " + s + " for field \"auto_rotate_period\": time: "
                    + "invalid duration \"" + s + "\"");
        }
        return total;
    }

    @Override
    public String toString() {
        return "FakeVault[" + url() + ", mounts=" + Collections.unmodifiableSet(mounts.keySet()) + "]";
    }
}
