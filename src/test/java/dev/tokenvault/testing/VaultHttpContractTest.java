package dev.tokenvault.testing;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Contract of the parts of Vault's HTTP API the token vault relies on, checked over plain HTTP.
 * <p>
 * By default it runs against {@link FakeVault}. With {@code VAULT_ADDR} and {@code VAULT_TOKEN} set (a token allowed to
 * mount engines, e.g. a dev server's root token) it runs the very same requests against that Vault instead, on a
 * transit and a KV v2 mount unique to the run, which it enables through {@code POST /v1/sys/mounts/...} and removes
 * again afterwards. Any difference between the fake and the real Vault therefore shows up as a failure here.
 * <p>
 * Assertions on error texts use fragments that are stable across Vault versions (for instance "disallowed by policy"
 * + "too old": current Vault says "ciphertext or signature version is disallowed by policy (too old)", older releases
 * "ciphertext version is ..."; the 403 text for an unknown token also differs between releases).
 */
class VaultHttpContractTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private static FakeVault fake;
    private static String addr;
    private static String token;
    private static String transit;
    private static String kv;

    record Resp(int status, JsonNode body, String raw) {
        JsonNode data() {
            return body.path("data");
        }

        List<String> errors() {
            List<String> out = new ArrayList<>();
            body.path("errors").forEach(e -> out.add(e.asText()));
            return out;
        }
    }

    @BeforeAll
    static void startVault() {
        String envAddr = System.getenv("VAULT_ADDR");
        String envToken = System.getenv("VAULT_TOKEN");
        if (envAddr != null && !envAddr.isBlank() && envToken != null && !envToken.isBlank()) {
            addr = envAddr.replaceAll("/+$", "");
            token = envToken;
        } else {
            fake = FakeVault.start("root-" + UUID.randomUUID());
            addr = fake.url();
            token = fake.rootToken();
        }
        String run = UUID.randomUUID().toString().substring(0, 8);
        transit = "tv-contract-transit-" + run;
        kv = "tv-contract-kv-" + run;
        Resp t = call("POST", "sys/mounts/" + transit, Map.of("type", "transit"));
        assertThat(t.status()).as("enable transit: %s", t.raw()).isIn(200, 204);
        Resp k = call("POST", "sys/mounts/" + kv, Map.of("type", "kv", "options", Map.of("version", "2")));
        assertThat(k.status()).as("enable kv v2: %s", k.raw()).isIn(200, 204);
    }

    @AfterAll
    static void stopVault() {
        try {
            if (transit != null) {
                call("DELETE", "sys/mounts/" + transit, null);
            }
            if (kv != null) {
                call("DELETE", "sys/mounts/" + kv, null);
            }
        } finally {
            if (fake != null) {
                fake.close();
            }
        }
    }

    // ------------------------------------------------------------------------------------------ transit

    @Test
    @DisplayName("encrypt then decrypt gives the plaintext back; the answer carries ciphertext and key_version")
    void encryptDecryptRoundTrip() {
        String key = newKeyName();
        byte[] plaintext = "data-key-\u00e9\u0000\u00ff".getBytes(UTF_8);

        Resp enc = call("POST", transit + "/encrypt/" + key, Map.of("plaintext", b64(plaintext)));
        assertThat(enc.status()).as(enc.raw()).isEqualTo(200);
        String ciphertext = enc.data().path("ciphertext").asText();
        assertThat(ciphertext).startsWith("vault:v1:");
        assertThat(enc.data().path("key_version").asInt()).isEqualTo(1);

        Resp dec = call("POST", transit + "/decrypt/" + key, Map.of("ciphertext", ciphertext));
        assertThat(dec.status()).as(dec.raw()).isEqualTo(200);
        assertThat(Base64.getDecoder().decode(dec.data().path("plaintext").asText())).isEqualTo(plaintext);
    }

    @Test
    @DisplayName("ciphertext is vault:v1: + base64(12-byte nonce || AES-GCM ciphertext || 16-byte tag), fresh nonce")
    void ciphertextFormat() {
        String key = newKeyName();
        byte[] plaintext = new byte[32];
        String c1 = encrypt(key, plaintext);
        String c2 = encrypt(key, plaintext);

        assertThat(c1).matches("vault:v1:[A-Za-z0-9+/]+={0,2}");
        byte[] raw = Base64.getDecoder().decode(c1.substring("vault:v1:".length()));
        assertThat(raw).hasSize(12 + plaintext.length + 16);
        assertThat(c2).as("random nonce: same plaintext encrypts differently").isNotEqualTo(c1);
    }

    @Test
    @DisplayName("encrypt on a missing key creates it (upsert); read key shows versions and their creation times")
    void encryptUpsertsKeyAndReadKeyShape() {
        String key = newKeyName();
        assertThat(call("GET", transit + "/keys/" + key, null).status()).isEqualTo(404);

        encrypt(key, "x".getBytes(UTF_8));

        Resp read = call("GET", transit + "/keys/" + key, null);
        assertThat(read.status()).as(read.raw()).isEqualTo(200);
        JsonNode d = read.data();
        assertThat(d.path("name").asText()).isEqualTo(key);
        assertThat(d.path("type").asText()).isEqualTo("aes256-gcm96");
        assertThat(d.path("latest_version").asInt()).isEqualTo(1);
        assertThat(d.path("min_decryption_version").asInt()).isEqualTo(1);
        assertThat(d.path("min_encryption_version").asInt()).isEqualTo(0);
        assertThat(d.path("derived").asBoolean()).isFalse();
        assertThat(d.path("supports_encryption").asBoolean()).isTrue();
        assertThat(d.path("supports_decryption").asBoolean()).isTrue();
        assertThat(d.path("keys").size()).isEqualTo(1);
        assertThat(d.path("keys").path("1").isIntegralNumber()).as("creation time in Unix seconds").isTrue();
        long created = d.path("keys").path("1").asLong();
        long now = System.currentTimeMillis() / 1000;
        assertThat(created).isBetween(now - 3600, now + 3600);
    }

    @Test
    @DisplayName("after rotate, new encryptions are v2 and v1 ciphertexts still decrypt")
    void rotate() {
        String key = newKeyName();
        assertThat(call("POST", transit + "/keys/" + key, Map.of()).status()).isIn(200, 204);
        byte[] p1 = "before rotation".getBytes(UTF_8);
        String c1 = encrypt(key, p1);
        assertThat(c1).startsWith("vault:v1:");

        Resp rot = call("POST", transit + "/keys/" + key + "/rotate", null);
        assertThat(rot.status()).as(rot.raw()).isIn(200, 204);

        byte[] p2 = "after rotation".getBytes(UTF_8);
        Resp enc = call("POST", transit + "/encrypt/" + key, Map.of("plaintext", b64(p2)));
        assertThat(enc.data().path("ciphertext").asText()).startsWith("vault:v2:");
        assertThat(enc.data().path("key_version").asInt()).isEqualTo(2);

        assertThat(decrypt(key, c1)).isEqualTo(p1);
        assertThat(decrypt(key, enc.data().path("ciphertext").asText())).isEqualTo(p2);

        JsonNode d = call("GET", transit + "/keys/" + key, null).data();
        assertThat(d.path("latest_version").asInt()).isEqualTo(2);
        assertThat(d.path("keys").has("1")).isTrue();
        assertThat(d.path("keys").has("2")).isTrue();

        // an explicit older key_version is still allowed for encryption (min_encryption_version is 0)
        Resp encV1 = call("POST", transit + "/encrypt/" + key, Map.of("plaintext", b64(p2), "key_version", 1));
        assertThat(encV1.data().path("ciphertext").asText()).startsWith("vault:v1:");
        Resp tooNew = call("POST", transit + "/encrypt/" + key, Map.of("plaintext", b64(p2), "key_version", 3));
        assertThat(tooNew.status()).isEqualTo(400);
        assertThat(tooNew.errors()).anySatisfy(e -> assertThat(e).contains("higher than the latest key version"));
    }

    @Test
    @DisplayName("rewrap moves a v1 ciphertext to v2 without changing the plaintext (single and batch)")
    void rewrap() {
        String key = newKeyName();
        byte[] plaintext = "rewrap me".getBytes(UTF_8);
        String c1 = encrypt(key, plaintext);
        assertThat(call("POST", transit + "/keys/" + key + "/rotate", null).status()).isIn(200, 204);

        Resp single = call("POST", transit + "/rewrap/" + key, Map.of("ciphertext", c1));
        assertThat(single.status()).as(single.raw()).isEqualTo(200);
        String c2 = single.data().path("ciphertext").asText();
        assertThat(c2).startsWith("vault:v2:");
        assertThat(single.data().path("key_version").asInt()).isEqualTo(2);
        assertThat(decrypt(key, c2)).isEqualTo(plaintext);

        Resp batch = call("POST", transit + "/rewrap/" + key,
                Map.of("batch_input", List.of(Map.of("ciphertext", c1), Map.of("ciphertext", c2))));
        assertThat(batch.status()).as(batch.raw()).isEqualTo(200);
        JsonNode results = batch.data().path("batch_results");
        assertThat(results.size()).isEqualTo(2);
        for (JsonNode r : results) {
            assertThat(r.path("ciphertext").asText()).startsWith("vault:v2:");
            assertThat(r.path("key_version").asInt()).isEqualTo(2);
            assertThat(r.has("error")).as(r.toString()).isFalse();
            assertThat(decrypt(key, r.path("ciphertext").asText())).isEqualTo(plaintext);
        }
    }

    @Test
    @DisplayName("raising min_decryption_version makes v1 ciphertexts fail with 400")
    void minDecryptionVersion() {
        String key = newKeyName();
        byte[] plaintext = "old".getBytes(UTF_8);
        String c1 = encrypt(key, plaintext);

        Resp tooHigh = call("POST", transit + "/keys/" + key + "/config", Map.of("min_decryption_version", 2));
        assertThat(tooHigh.status()).as("cannot exceed latest_version: %s", tooHigh.raw()).isEqualTo(400);
        assertThat(tooHigh.errors()).anySatisfy(e -> assertThat(e).contains("latest key version is 1"));

        call("POST", transit + "/keys/" + key + "/rotate", null);
        String c2 = encrypt(key, plaintext);
        Resp cfg = call("POST", transit + "/keys/" + key + "/config", Map.of("min_decryption_version", 2));
        assertThat(cfg.status()).as(cfg.raw()).isIn(200, 204);
        assertThat(call("GET", transit + "/keys/" + key, null).data().path("min_decryption_version").asInt())
                .isEqualTo(2);

        // single request: 400 with an errors array
        Resp dec = call("POST", transit + "/decrypt/" + key, Map.of("ciphertext", c1));
        assertThat(dec.status()).as(dec.raw()).isEqualTo(400);
        assertThat(dec.errors()).hasSize(1);
        assertThat(dec.errors().get(0)).contains("disallowed by policy").contains("too old");

        // batch request (what quarkus-vault sends): 400, the error is in data.batch_results[i].error
        Resp batch = call("POST", transit + "/decrypt/" + key,
                Map.of("batch_input", List.of(Map.of("ciphertext", c1))));
        assertThat(batch.status()).as(batch.raw()).isEqualTo(400);
        assertThat(batch.body().has("errors")).as(batch.raw()).isFalse();
        JsonNode item = batch.data().path("batch_results").path(0);
        assertThat(item.path("error").asText()).contains("disallowed by policy").contains("too old");

        // a partly failing batch is still 400 unless partial_failure_response_code is given
        Map<String, Object> mixed = new LinkedHashMap<>();
        mixed.put("batch_input", List.of(Map.of("ciphertext", c1), Map.of("ciphertext", c2)));
        assertThat(call("POST", transit + "/decrypt/" + key, mixed).status()).isEqualTo(400);
        mixed.put("partial_failure_response_code", 207);
        Resp partial = call("POST", transit + "/decrypt/" + key, mixed);
        assertThat(partial.status()).as(partial.raw()).isEqualTo(207);
        assertThat(partial.data().path("batch_results").path(0).has("error")).isTrue();
        assertThat(Base64.getDecoder().decode(partial.data().path("batch_results").path(1).path("plaintext").asText()))
                .isEqualTo(plaintext);

        // rewrap of a too-old ciphertext fails as well
        Resp rewrap = call("POST", transit + "/rewrap/" + key, Map.of("ciphertext", c1));
        assertThat(rewrap.status()).isEqualTo(400);
        assertThat(rewrap.errors()).anySatisfy(e -> assertThat(e).contains("too old"));

        // and v2 still works
        assertThat(decrypt(key, c2)).isEqualTo(plaintext);
    }

    @Test
    @DisplayName("a wrong or missing token is answered 403 with an errors array")
    void badToken() {
        String key = newKeyName();
        encrypt(key, "x".getBytes(UTF_8));

        Resp wrong = callWithToken("POST", transit + "/encrypt/" + key, "not-a-real-token",
                Map.of("plaintext", b64("x".getBytes(UTF_8))));
        assertThat(wrong.status()).as(wrong.raw()).isEqualTo(403);
        assertThat(wrong.errors()).isNotEmpty();
        assertThat(String.join("\n", wrong.errors())).contains("permission denied");
        assertThat(wrong.body().has("data")).isFalse();

        Resp missing = callWithToken("POST", transit + "/decrypt/" + key, null, Map.of("ciphertext", "vault:v1:AAAA"));
        assertThat(missing.status()).as(missing.raw()).isEqualTo(403);
        assertThat(String.join("\n", missing.errors())).contains("permission denied");

        Resp kvRead = callWithToken("GET", kv + "/data/any", "not-a-real-token", null);
        assertThat(kvRead.status()).isEqualTo(403);
    }

    @Test
    @DisplayName("tampered or malformed ciphertexts are rejected with 400")
    void tamperedCiphertext() {
        String key = newKeyName();
        String c = encrypt(key, "integrity matters".getBytes(UTF_8));
        byte[] raw = Base64.getDecoder().decode(c.substring("vault:v1:".length()));
        raw[12] ^= 0x01; // first ciphertext byte, after the nonce
        String tampered = "vault:v1:" + Base64.getEncoder().encodeToString(raw);

        Resp dec = call("POST", transit + "/decrypt/" + key, Map.of("ciphertext", tampered));
        assertThat(dec.status()).as(dec.raw()).isEqualTo(400);
        assertThat(dec.errors()).containsExactly("cipher: message authentication failed");

        Resp noPrefix = call("POST", transit + "/decrypt/" + key,
                Map.of("ciphertext", c.substring("vault:v1:".length())));
        assertThat(noPrefix.status()).isEqualTo(400);
        assertThat(noPrefix.errors()).containsExactly("invalid ciphertext: no prefix");

        Resp tooNew = call("POST", transit + "/decrypt/" + key, Map.of("ciphertext", c.replace("vault:v1:", "vault:v9:")));
        assertThat(tooNew.status()).isEqualTo(400);
        assertThat(tooNew.errors()).containsExactly("invalid ciphertext: version is too new");

        Resp badB64 = call("POST", transit + "/decrypt/" + key, Map.of("ciphertext", "vault:v1:%%%"));
        assertThat(badB64.status()).isEqualTo(400);
        assertThat(badB64.errors()).containsExactly("invalid ciphertext: could not decode base64");

        Resp badPlain = call("POST", transit + "/encrypt/" + key, Map.of("plaintext", "not base64!"));
        assertThat(badPlain.status()).isEqualTo(400);
        assertThat(badPlain.errors()).singleElement().asString().startsWith("illegal base64 data at input byte");
    }

    @Test
    @DisplayName("unknown key: decrypt is 400 'encryption key not found', read key is 404 with empty errors")
    void unknownKey() {
        String key = newKeyName();
        Resp dec = call("POST", transit + "/decrypt/" + key, Map.of("ciphertext", "vault:v1:AAAA"));
        assertThat(dec.status()).isEqualTo(400);
        assertThat(dec.errors()).containsExactly("encryption key not found");

        Resp read = call("GET", transit + "/keys/" + key, null);
        assertThat(read.status()).isEqualTo(404);
        assertThat(read.body().path("errors").isArray()).isTrue();
        assertThat(read.errors()).isEmpty();

        Resp rot = call("POST", transit + "/keys/" + key + "/rotate", null);
        assertThat(rot.status()).isEqualTo(400);
        assertThat(rot.errors()).containsExactly("key not found");
    }

    @Test
    @DisplayName("batch encrypt/decrypt keep order and answer batch_results")
    void batchShapes() {
        String key = newKeyName();
        byte[] a = "first".getBytes(UTF_8);
        byte[] b = "second".getBytes(UTF_8);
        Resp enc = call("POST", transit + "/encrypt/" + key,
                Map.of("batch_input", List.of(Map.of("plaintext", b64(a)), Map.of("plaintext", b64(b)))));
        assertThat(enc.status()).as(enc.raw()).isEqualTo(200);
        JsonNode er = enc.data().path("batch_results");
        assertThat(er.size()).isEqualTo(2);
        assertThat(er.path(0).path("ciphertext").asText()).startsWith("vault:v1:");
        assertThat(er.path(0).path("key_version").asInt()).isEqualTo(1);

        Resp dec = call("POST", transit + "/decrypt/" + key, Map.of("batch_input", List.of(
                Map.of("ciphertext", er.path(1).path("ciphertext").asText()),
                Map.of("ciphertext", er.path(0).path("ciphertext").asText()))));
        assertThat(dec.status()).as(dec.raw()).isEqualTo(200);
        JsonNode dr = dec.data().path("batch_results");
        assertThat(Base64.getDecoder().decode(dr.path(0).path("plaintext").asText())).isEqualTo(b);
        assertThat(Base64.getDecoder().decode(dr.path(1).path("plaintext").asText())).isEqualTo(a);
    }

    @Test
    @DisplayName("datakey/plaintext returns a 256-bit key and its ciphertext, which decrypts to it")
    void datakey() {
        String key = newKeyName();
        assertThat(call("POST", transit + "/keys/" + key, Map.of()).status()).isIn(200, 204);
        Resp dk = call("POST", transit + "/datakey/plaintext/" + key, Map.of("bits", 256));
        assertThat(dk.status()).as(dk.raw()).isEqualTo(200);
        byte[] plain = Base64.getDecoder().decode(dk.data().path("plaintext").asText());
        assertThat(plain).hasSize(32);
        assertThat(dk.data().path("ciphertext").asText()).startsWith("vault:v1:");
        assertThat(decrypt(key, dk.data().path("ciphertext").asText())).isEqualTo(plain);

        Resp wrapped = call("POST", transit + "/datakey/wrapped/" + key, Map.of());
        assertThat(wrapped.status()).isEqualTo(200);
        assertThat(wrapped.data().has("plaintext")).isFalse();
    }

    // ------------------------------------------------------------------------------------------ kv v2

    @Test
    @DisplayName("KV v2 write then read gives data.data and data.metadata; versions increase")
    void kvRoundTrip() {
        String path = "clients/" + UUID.randomUUID();
        Resp w1 = kvWrite(path, Map.of("client_id", "abc", "client_secret", "s3cr3t"));
        assertThat(w1.status()).as(w1.raw()).isEqualTo(200);
        assertThat(w1.data().path("version").asInt()).isEqualTo(1);
        assertThat(w1.data().path("created_time").asText()).isNotEmpty();

        Resp r1 = call("GET", kv + "/data/" + path, null);
        assertThat(r1.status()).as(r1.raw()).isEqualTo(200);
        assertThat(r1.data().path("data").path("client_secret").asText()).isEqualTo("s3cr3t");
        assertThat(r1.data().path("data").path("client_id").asText()).isEqualTo("abc");
        JsonNode meta = r1.data().path("metadata");
        assertThat(meta.path("version").asInt()).isEqualTo(1);
        assertThat(meta.path("created_time").asText()).isNotEmpty();
        assertThat(meta.path("deletion_time").asText()).isEmpty();
        assertThat(meta.path("destroyed").asBoolean()).isFalse();

        Resp w2 = kvWrite(path, Map.of("client_id", "abc", "client_secret", "rotated"));
        assertThat(w2.data().path("version").asInt()).isEqualTo(2);
        Resp r2 = call("GET", kv + "/data/" + path, null);
        assertThat(r2.data().path("data").path("client_secret").asText()).isEqualTo("rotated");
        assertThat(r2.data().path("metadata").path("version").asInt()).isEqualTo(2);
        Resp old = call("GET", kv + "/data/" + path + "?version=1", null);
        assertThat(old.data().path("data").path("client_secret").asText()).isEqualTo("s3cr3t");
    }

    @Test
    @DisplayName("KV v2 read of a missing path is 404 with {\"errors\":[]}")
    void kvMissing() {
        Resp r = call("GET", kv + "/data/does/not/exist-" + UUID.randomUUID(), null);
        assertThat(r.status()).isEqualTo(404);
        assertThat(r.body().path("errors").isArray()).as(r.raw()).isTrue();
        assertThat(r.errors()).isEmpty();
    }

    // ------------------------------------------------------------------------------------------ sys

    @Test
    @DisplayName("sys/health needs no token and reports an unsealed, initialized Vault")
    void health() {
        Resp h = callWithToken("GET", "sys/health", null, null);
        assertThat(h.status()).as(h.raw()).isEqualTo(200);
        assertThat(h.body().path("initialized").asBoolean()).isTrue();
        assertThat(h.body().path("sealed").asBoolean()).isFalse();
        assertThat(h.body().path("version").asText()).isNotEmpty();
    }

    @Test
    @DisplayName("auth/token/lookup-self describes the calling token")
    void lookupSelf() {
        Resp r = call("GET", "auth/token/lookup-self", null);
        assertThat(r.status()).as(r.raw()).isEqualTo(200);
        assertThat(r.data().path("id").asText()).isEqualTo(token);
        assertThat(r.data().path("policies").isArray()).isTrue();
    }

    // ------------------------------------------------------------------------------------------ fake only

    @Test
    @DisplayName("FakeVault: setDown(true) answers 503 Vault is sealed, health reports sealed")
    void fakeDown() {
        assumeTrue(fake != null, "FakeVault control only");
        try {
            fake.setDown(true);
            Resp enc = call("POST", transit + "/encrypt/" + newKeyName(), Map.of("plaintext", b64(new byte[1])));
            assertThat(enc.status()).isEqualTo(503);
            assertThat(enc.errors()).containsExactly("Vault is sealed");
            Resp h = callWithToken("GET", "sys/health", null, null);
            assertThat(h.status()).isEqualTo(503);
            assertThat(h.body().path("sealed").asBoolean()).isTrue();
        } finally {
            fake.setDown(false);
        }
        assertThat(callWithToken("GET", "sys/health", null, null).status()).isEqualTo(200);
    }

    @Test
    @DisplayName("FakeVault: test-control methods act on the same state the HTTP API sees")
    void fakeControl() {
        assumeTrue(fake != null, "FakeVault control only");
        String key = newKeyName();
        fake.createKey(transit, key);
        byte[] p = "controlled".getBytes(UTF_8);
        String c1 = encrypt(key, p);
        assertThat(fake.rotate(transit, key)).isEqualTo(2);
        assertThat(encrypt(key, p)).startsWith("vault:v2:");
        fake.setMinDecryptionVersion(transit, key, 2);
        assertThat(call("POST", transit + "/decrypt/" + key, Map.of("ciphertext", c1)).status()).isEqualTo(400);

        fake.putKv(kv, "seeded/client", Map.of("client_secret", "from-test"));
        Resp r = call("GET", kv + "/data/seeded/client", null);
        assertThat(r.data().path("data").path("client_secret").asText()).isEqualTo("from-test");

        long before = fake.requestCount("/v1/" + transit + "/encrypt/");
        encrypt(key, p);
        assertThat(fake.requestCount(transit + "/encrypt/")).isEqualTo(before + 1);
        FakeVault.RecordedRequest last = fake.requests().get(fake.requests().size() - 1);
        assertThat(last.method()).isEqualTo("POST");
        assertThat(last.path()).isEqualTo("/v1/" + transit + "/encrypt/" + key);
        assertThat(last.token()).isEqualTo(token);
        assertThat(last.status()).isEqualTo(200);
    }

    // ------------------------------------------------------------------------------------------ helpers

    private static String newKeyName() {
        return "key-" + UUID.randomUUID().toString().substring(0, 12);
    }

    private static String b64(byte[] b) {
        return Base64.getEncoder().encodeToString(b);
    }

    private static String encrypt(String key, byte[] plaintext) {
        Resp r = call("POST", transit + "/encrypt/" + key, Map.of("plaintext", b64(plaintext)));
        assertThat(r.status()).as("encrypt: %s", r.raw()).isEqualTo(200);
        return r.data().path("ciphertext").asText();
    }

    private static byte[] decrypt(String key, String ciphertext) {
        Resp r = call("POST", transit + "/decrypt/" + key, Map.of("ciphertext", ciphertext));
        assertThat(r.status()).as("decrypt: %s", r.raw()).isEqualTo(200);
        return Base64.getDecoder().decode(r.data().path("plaintext").asText());
    }

    /** A fresh KV v2 mount on a real Vault answers "Upgrading from non-versioned to versioned data" for a moment. */
    private static Resp kvWrite(String path, Map<String, ?> data) {
        Resp r = null;
        for (int i = 0; i < 50; i++) {
            r = call("POST", kv + "/data/" + path, Map.of("data", data));
            if (r.status() != 400 || r.errors().stream().noneMatch(e -> e.contains("Upgrading"))) {
                return r;
            }
            sleep(200);
        }
        return r;
    }

    private static Resp call(String method, String path, Object body) {
        return callWithToken(method, path, token, body);
    }

    private static Resp callWithToken(String method, String path, String tok, Object body) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(addr + "/v1/" + path))
                    .timeout(Duration.ofSeconds(10));
            if (tok != null) {
                b.header("X-Vault-Token", tok);
            }
            if (body != null) {
                b.header("Content-Type", "application/json");
                b.method(method, HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
            } else {
                b.method(method, HttpRequest.BodyPublishers.noBody());
            }
            HttpResponse<String> res = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
            String raw = res.body() == null ? "" : res.body();
            JsonNode json = raw.isBlank() ? JSON.createObjectNode() : JSON.readTree(raw);
            return new Resp(res.statusCode(), json, raw);
        } catch (IOException e) {
            throw new IllegalStateException(method + " " + path + " failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
