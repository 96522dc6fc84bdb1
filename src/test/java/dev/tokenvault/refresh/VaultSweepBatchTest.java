package dev.tokenvault.refresh;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import jakarta.inject.Inject;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.tokenvault.connection.ConnectionService;
import dev.tokenvault.crypto.CryptoService;
import dev.tokenvault.crypto.SecretField;
import dev.tokenvault.crypto.WrappedKey;
import dev.tokenvault.sandbox.HubSpotSimulator;
import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.FakeVault;
import dev.tokenvault.testing.FakeVaultResource;
import dev.tokenvault.testing.InstallFlow;
import dev.tokenvault.testing.TestClock;
import dev.tokenvault.testing.VaultProviderProfile;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;

/**
 * With Vault and the data-key cache on, the refresher opens the data keys of a page of due connections in one
 * Transit decrypt ({@code batch_input}) instead of one call per connection, whatever the size of the data-key cache;
 * when the batch fails, each refresh still opens its own key.
 */
@QuarkusTest
@TestProfile(VaultSweepBatchTest.CachedVault.class)
class VaultSweepBatchTest {

    /**
     * The Vault provider of {@link VaultProviderProfile}, with a data-key cache smaller than the page of due
     * connections: the keys opened ahead must reach their refreshes all the same (a full cache turns new entries away).
     */
    public static class CachedVault extends VaultProviderProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            Map<String, String> m = new java.util.HashMap<>(super.getConfigOverrides());
            m.put("tokenvault.crypto.data-key-cache-size", "2");
            return m;
        }
    }

    private static long nextPortal = 931_000;

    @Inject
    Refresher refresher;

    @Inject
    TestClock clock;

    @Inject
    ConnectionService connections;

    @Inject
    CryptoService crypto;

    FakeVault vault() {
        return FakeVaultResource.vault();
    }

    HubSpotSimulator sim() {
        return FakeHubSpotResource.sim();
    }

    @BeforeEach
    void nothingElseDue() throws Exception {
        Db.update("update connection set next_refresh_at = null");
    }

    @AfterEach
    void reset() {
        clock.reset();
    }

    /** Installs {@code n} portals, then drops their data keys from memory (as after a restart). */
    List<Long> installed(int n) throws Exception {
        List<Long> portals = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long portal = nextPortal++;
            assertThat(InstallFlow.install("default", portal).statusCode()).isEqualTo(200);
            portals.add(portal);
        }
        try (var c = Db.connect();
                var ps = c.prepareStatement("select d.wrapped, d.key_version from data_key d "
                        + "join connection c on c.id = d.connection_id where c.app = 'default' and c.portal_id = any(?)")) {
            ps.setArray(1, c.createArrayOf("bigint", portals.toArray()));
            try (var rs = ps.executeQuery()) {
                while (rs.next()) {
                    crypto.forget(new WrappedKey(rs.getString(1), rs.getString(2)));
                }
            }
        }
        return portals;
    }

    int sweep() {
        return refresher.sweep().await().atMost(Duration.ofSeconds(30));
    }

    @Test
    void onePageOfDueConnectionsIsOneTransitDecrypt() throws Exception {
        List<Long> portals = installed(8);
        int refreshes = sim().count("refresh");
        clock.advance(Duration.ofMinutes(21));
        vault().clearRequests();

        assertThat(sweep()).isEqualTo(8);

        assertThat(sim().count("refresh")).isEqualTo(refreshes + 8);
        assertThat(vault().requestCount("transit/decrypt")).isEqualTo(1);
        assertThat(vault().requests().get(0).body()).contains("batch_input");
        for (long p : portals) {
            assertThat(connections.open("default", p).await().indefinitely().orElseThrow()
                    .secret(SecretField.ACCESS_TOKEN)).isPresent();
        }
    }

    @Test
    void aKeyThatDoesNotOpenFailsTheBatchNotTheOtherRefreshes() throws Exception {
        List<Long> portals = installed(4);
        // one data key replaced by a ciphertext of another Vault key: Vault refuses it, and with it the whole batch
        Db.update("update data_key set wrapped = 'vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' "
                + "where connection_id = (select id from connection where app = 'default' and portal_id = ?)",
                portals.get(0));
        int refreshes = sim().count("refresh");
        clock.advance(Duration.ofMinutes(21));
        vault().clearRequests();

        assertThat(sweep()).isEqualTo(4);

        // the failed batch, then one decrypt per connection
        assertThat(vault().requestCount("transit/decrypt")).isEqualTo(1 + 4);
        assertThat(sim().count("refresh")).isEqualTo(refreshes + 3);
        assertThat(Db.count("select count(*) from connection where app = 'default' and portal_id = ? "
                + "and refresh_failures = 1", portals.get(0))).isEqualTo(1);
        assertThat(Db.count("select count(*) from connection where app = 'default' and portal_id between ? and ? "
                + "and refresh_failures = 0 and last_refresh_at > installed_at", portals.get(1), portals.get(3)))
                .isEqualTo(3);
    }
}
