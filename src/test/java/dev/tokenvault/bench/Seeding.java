package dev.tokenvault.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.tokenvault.crypto.BenchSealer;
import dev.tokenvault.refresh.RefreshSchedule;
import dev.tokenvault.sandbox.HubSpotSimulator;
import dev.tokenvault.testing.FakeVault;

/**
 * The scale run's seeding (in the helper JVM, which holds the HubSpot simulator and the fake Vault): connections are
 * written straight into PostgreSQL instead of going through the browser flow. For each portal the simulator issues
 * a refresh and an access token ({@link HubSpotSimulator#install}, so refreshes work), the tokens are sealed with the
 * service's own crypto classes ({@link BenchSealer}: local key file or Vault Transit through the fake Vault's HTTP
 * API), and the rows are what {@code ConnectionService.storeOAuthInstall} writes: {@code connection} (active, OAuth,
 * scopes {@code oauth}, next refresh at expiry minus the default 10-minute lead time), {@code data_key} and the two
 * {@code secret} rows. Not written: the install's audit record and notification, which no figure of the scale run
 * reads. Batches of {@value #BATCH} connections, then {@code analyze} (a database filled by installs over days would
 * have been analysed by autovacuum).
 */
final class Seeding {

    static final int BATCH = 1000;
    private static final Duration LEAD_TIME = Duration.ofMinutes(10);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HubSpotSimulator sim;
    private final FakeVault vault;
    private final String jdbcUrl;
    private final String user;
    private final String password;
    private final Path keyFile;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();

    Seeding(HubSpotSimulator sim, FakeVault vault, String jdbcUrl, String user, String password, Path keyFile) {
        this.sim = sim;
        this.vault = vault;
        this.jdbcUrl = jdbcUrl;
        this.user = user;
        this.password = password;
        this.keyFile = keyFile;
    }

    /** Seeds portals {@code first .. first+count-1}; answers {@code name=value} lines. */
    synchronized String seed(long first, int count, String provider) throws SQLException {
        BenchSealer sealer = switch (provider) {
            case "local" -> BenchSealer.local(keyFile);
            case "vault" -> BenchSealer.vault(this::vaultEncrypt);
            default -> throw new IllegalArgumentException("provider must be local or vault");
        };
        long start = System.nanoTime();
        long sealNanos = 0;
        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty("password", password);
        props.setProperty("reWriteBatchedInserts", "true");
        try (Connection c = DriverManager.getConnection(jdbcUrl, props)) {
            c.setAutoCommit(false);
            for (int done = 0; done < count; done += BATCH) {
                int n = Math.min(BATCH, count - done);
                long[] portals = new long[n];
                String[] refresh = new String[n];
                String[] access = new String[n];
                Instant now = Instant.now();
                long expiresIn = 0;
                for (int i = 0; i < n; i++) {
                    portals[i] = first + done + i;
                    HubSpotSimulator.TokenGrant g = sim.install(BenchSupport.CLIENT_ID, portals[i], List.of("oauth"));
                    refresh[i] = g.refreshToken();
                    access[i] = g.accessToken();
                    expiresIn = g.expiresInSeconds();
                }
                long t = System.nanoTime();
                List<BenchSealer.Sealed> sealed = sealer.seal(BenchSupport.APP, portals, refresh, access);
                sealNanos += System.nanoTime() - t;
                insert(c, portals, sealed, now, now.plusSeconds(expiresIn));
                c.commit();
            }
            c.setAutoCommit(true);
            try (Statement s = c.createStatement()) {
                s.execute("analyze connection");
                s.execute("analyze data_key");
                s.execute("analyze secret");
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return String.format(Locale.ROOT, "seeded=%d%nseed_seconds=%.2f%nseed_seal_seconds=%.2f%n", count, seconds,
                sealNanos / 1e9);
    }

    private void insert(Connection c, long[] portals, List<BenchSealer.Sealed> sealed, Instant now, Instant expiresAt)
            throws SQLException {
        OffsetDateTime at = OffsetDateTime.ofInstant(now, ZoneOffset.UTC);
        OffsetDateTime exp = OffsetDateTime.ofInstant(expiresAt, ZoneOffset.UTC);
        try (PreparedStatement ps = c.prepareStatement("insert into connection (app, portal_id, auth_type, status, "
                + "scopes, hub_domain, installed_by, hubspot_app_id, installed_at, updated_at, access_expires_at, "
                + "last_refresh_at, next_refresh_at) values (?, ?, 'oauth', 'active', '{oauth}', ?, ?, ?, ?, ?, ?, ?, ?)")) {
            for (long portal : portals) {
                HubSpotSimulator.Portal p = sim.portal(portal).orElseGet(() -> HubSpotSimulator.Portal.of(portal));
                ps.setString(1, BenchSupport.APP);
                ps.setLong(2, portal);
                ps.setString(3, p.hubDomain());
                ps.setString(4, p.userEmail());
                ps.setLong(5, BenchSupport.HUBSPOT_APP_ID);
                ps.setObject(6, at);
                ps.setObject(7, at);
                ps.setObject(8, exp);
                ps.setObject(9, at);
                ps.setObject(10, OffsetDateTime.ofInstant(RefreshSchedule.nextRefreshAt(now, expiresAt, LEAD_TIME),
                        ZoneOffset.UTC));
                ps.addBatch();
            }
            ps.executeBatch();
        }
        Map<Long, Long> ids = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement(
                "select id, portal_id from connection where app = ? and portal_id between ? and ?")) {
            ps.setString(1, BenchSupport.APP);
            ps.setLong(2, portals[0]);
            ps.setLong(3, portals[portals.length - 1]);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ids.put(rs.getLong(2), rs.getLong(1));
                }
            }
        }
        try (PreparedStatement key = c.prepareStatement(
                "insert into data_key (connection_id, wrapped, key_version, created_at) values (?, ?, ?, ?)");
                PreparedStatement secret = c.prepareStatement(
                        "insert into secret (connection_id, field, ciphertext, updated_at) values (?, ?, ?, ?)")) {
            for (int i = 0; i < portals.length; i++) {
                long id = ids.get(portals[i]);
                BenchSealer.Sealed s = sealed.get(i);
                key.setLong(1, id);
                key.setString(2, s.wrapped());
                key.setString(3, s.keyVersion());
                key.setObject(4, at);
                key.addBatch();
                secret.setLong(1, id);
                secret.setString(2, "refresh_token");
                secret.setBytes(3, s.refreshToken());
                secret.setObject(4, at);
                secret.addBatch();
                secret.setLong(1, id);
                secret.setString(2, "access_token");
                secret.setBytes(3, s.accessToken());
                secret.setObject(4, at);
                secret.addBatch();
            }
            key.executeBatch();
            secret.executeBatch();
        }
    }

    /** Removes every connection (its data key and secrets with it) and the audit trail: a new provider starts empty. */
    synchronized String reset() throws SQLException {
        try (Connection c = DriverManager.getConnection(jdbcUrl, user, password); Statement s = c.createStatement()) {
            // truncate gives the tables new, empty files: the next provider's sizes start from nothing
            s.execute("truncate connection, audit_log, notification_outbox, rate_budget cascade");
        }
        return "reset=ok\n";
    }

    /** One Transit {@code encrypt} call with {@code batch_input} over the fake Vault's HTTP API. */
    private List<String> vaultEncrypt(List<byte[]> keys) {
        ObjectNode body = JSON.createObjectNode();
        ArrayNode batch = body.putArray("batch_input");
        for (byte[] k : keys) {
            batch.addObject().put("plaintext", Base64.getEncoder().encodeToString(k));
        }
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(vault.url() + "/v1/"
                    + BenchSupport.VAULT_MOUNT + "/encrypt/" + BenchSupport.VAULT_KEY))
                    .header("X-Vault-Token", BenchSupport.VAULT_TOKEN).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw new IllegalStateException("Vault encrypt answered " + r.statusCode());
            }
            JsonNode results = JSON.readTree(r.body()).path("data").path("batch_results");
            List<String> out = new ArrayList<>(keys.size());
            results.forEach(item -> out.add(item.path("ciphertext").asText()));
            return out;
        } catch (IOException e) {
            throw new IllegalStateException("Vault encrypt failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
