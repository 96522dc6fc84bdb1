package dev.tokenvault.refresh;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import jakarta.inject.Inject;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.connection.ConnectionService;
import dev.tokenvault.hubspot.AppCredentials;
import dev.tokenvault.hubspot.HubSpotOAuthClient;
import dev.tokenvault.metrics.Metrics;
import dev.tokenvault.sandbox.HubSpotSimulator;
import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.FakeHubSpotResource;
import dev.tokenvault.testing.InstallFlow;
import dev.tokenvault.testing.TestClock;
import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.mutiny.Uni;

/** The proactive refresher with a controlled clock, and two refresher replicas sharing one database. */
@QuarkusTest
class RefresherTest {

    private static final AtomicLong PORTALS = new AtomicLong(10_000);

    @Inject
    Refresher refresher;

    @Inject
    TestClock clock;

    @Inject
    ConnectionService connections;

    @Inject
    HubSpotOAuthClient hubspot;

    @Inject
    AppCredentials credentials;

    @Inject
    AuditLog audit;

    @Inject
    TokenVaultConfig config;

    @Inject
    Metrics metrics;

    @Inject
    jakarta.enterprise.event.Event<dev.tokenvault.connection.ConnectionChanged> changed;

    @Inject
    PendingRefreshWrites pendingWrites;

    @Inject
    dev.tokenvault.db.ScheduledJobs jobs;

    HubSpotSimulator sim() {
        return FakeHubSpotResource.sim();
    }

    @BeforeEach
    void nothingElseDue() throws Exception {
        // earlier tests' connections must not be swept here
        Db.update("update connection set next_refresh_at = null");
    }

    @AfterEach
    void reset() {
        clock.reset();
        sim().clearFaults();
        sim().accessTokenLifetime(HubSpotSimulator.DEFAULT_ACCESS_TOKEN_LIFETIME);
    }

    static long install() {
        long portal = PORTALS.incrementAndGet();
        assertThat(InstallFlow.install("default", portal).statusCode()).isEqualTo(200);
        return portal;
    }

    static Instant nextRefreshAt(long portal) throws Exception {
        try (var c = Db.connect();
                var ps = c.prepareStatement(
                        "select next_refresh_at from connection where app = 'default' and portal_id = ?")) {
            ps.setLong(1, portal);
            try (var rs = ps.executeQuery()) {
                rs.next();
                OffsetDateTime t = rs.getObject(1, OffsetDateTime.class);
                return t == null ? null : t.toInstant();
            }
        }
    }

    int sweep() {
        return refresher.sweep().await().atMost(Duration.ofSeconds(30));
    }

    @Test
    void aTokenInsideTheLeadTimeIsRefreshedWithNoCaller() throws Exception {
        long portal = install();
        Instant due = nextRefreshAt(portal);
        assertThat(due).isBetween(clock.instant().plus(Duration.ofMinutes(18)),
                clock.instant().plus(Duration.ofMinutes(20)));
        int before = sim().count("refresh");

        assertThat(sweep()).isZero();
        clock.advance(Duration.ofMinutes(21));
        assertThat(sweep()).isEqualTo(1);

        assertThat(sim().count("refresh")).isEqualTo(before + 1);
        assertThat(nextRefreshAt(portal)).isAfter(clock.instant().plus(Duration.ofMinutes(18)));
        assertThat(sweep()).isZero();
    }

    @Test
    void aShortLivedTokenIsRefreshedAtHalfLifeNotContinuously() throws Exception {
        sim().accessTokenLifetime(Duration.ofMinutes(5));
        long portal = install();
        Instant due = nextRefreshAt(portal);
        assertThat(due).isBetween(clock.instant().plus(Duration.ofSeconds(130)),
                clock.instant().plus(Duration.ofSeconds(151)));
        int before = sim().count("refresh");

        clock.advance(Duration.ofMinutes(1));
        assertThat(sweep()).isZero();
        clock.advance(Duration.ofMinutes(2));
        assertThat(sweep()).isEqualTo(1);
        assertThat(sweep()).isZero();
        assertThat(sweep()).isZero();
        assertThat(sim().count("refresh")).isEqualTo(before + 1);
        assertThat(nextRefreshAt(portal)).isAfter(clock.instant().plus(Duration.ofSeconds(120)));
    }

    @Test
    void transientFailuresBackOffAndHonourRetryAfter() throws Exception {
        long portal = install();
        clock.advance(Duration.ofMinutes(21));
        sim().failNext("refresh", 429, null, Duration.ofSeconds(600));
        assertThat(sweep()).isEqualTo(1);
        assertThat(nextRefreshAt(portal)).isAfterOrEqualTo(clock.instant().plus(Duration.ofSeconds(599)));
        assertThat(Db.count("select refresh_failures from connection where app = 'default' and portal_id = ?",
                portal)).isEqualTo(1);

        clock.advance(Duration.ofSeconds(601));
        sim().failNext("refresh", 503, null, null);
        assertThat(sweep()).isEqualTo(1);
        Instant second = nextRefreshAt(portal);
        assertThat(second).isBetween(clock.instant().plus(Duration.ofSeconds(29)),
                clock.instant().plus(Duration.ofSeconds(61)));
        assertThat(Db.count("select refresh_failures from connection where app = 'default' and portal_id = ?",
                portal)).isEqualTo(2);

        clock.advance(Duration.ofSeconds(61));
        assertThat(sweep()).isEqualTo(1);
        assertThat(Db.count("select refresh_failures from connection where app = 'default' and portal_id = ? "
                + "and status = 'active' and last_error is null", portal)).isZero();
    }

    @Test
    void aRejectedRefreshTokenMovesToNeedsReauthOnceAndStopsRetrying() throws Exception {
        long portal = install();
        sim().revokeRefreshTokens(portal);
        clock.advance(Duration.ofMinutes(21));
        int before = sim().count("refresh");
        assertThat(sweep()).isEqualTo(1);
        assertThat(Db.count("select count(*) from connection where app = 'default' and portal_id = ? "
                + "and status = 'needs_reauth' and next_refresh_at is null", portal)).isEqualTo(1);
        clock.advance(Duration.ofHours(2));
        assertThat(sweep()).isZero();
        assertThat(sim().count("refresh")).isEqualTo(before + 1);
    }

    @Test
    void twoReplicasRefreshEachDueConnectionExactlyOnce() throws Exception {
        List<Long> portals = List.of(install(), install(), install(), install(), install(), install());
        clock.advance(Duration.ofMinutes(21));
        Refresher other = secondReplica();
        int before = sim().count("refresh");

        var both = Uni.combine().all().unis(refresher.sweep(), other.sweep()).asTuple()
                .await().atMost(Duration.ofSeconds(30));
        assertThat(both.getItem1() + both.getItem2()).isEqualTo(portals.size());
        assertThat(sim().count("refresh")).isEqualTo(before + portals.size());
        for (long p : portals) {
            assertThat(nextRefreshAt(p)).isAfter(clock.instant().plus(Duration.ofMinutes(18)));
        }
    }

    @Test
    void aCrashedReplicasLeasesExpireAndAnotherTakesOver() throws Exception {
        long portal = install();
        clock.advance(Duration.ofMinutes(21));
        // a replica claims the row and dies before refreshing it
        var claimed = connections.claimDue(dev.tokenvault.connection.LeaseOwner.of(java.util.Optional.of("crashed-pod"),
                java.time.Instant.now()), config.refresh().lease(), 100)
                .await().atMost(Duration.ofSeconds(10));
        assertThat(claimed).extracting(c -> c.portalId()).contains(portal);
        int before = sim().count("refresh");

        assertThat(sweep()).isZero();
        clock.advance(config.refresh().lease().plusSeconds(1));
        assertThat(sweep()).isEqualTo(1);
        assertThat(sim().count("refresh")).isEqualTo(before + 1);
    }

    @Test
    void aSweepOfThousandsOfDueConnectionsCompletes() throws Exception {
        int n = 1500;
        long first = 200_000;
        List<Uni<dev.tokenvault.connection.Connection>> seeds = new java.util.ArrayList<>();
        for (long p = first; p < first + n; p++) {
            var grant = sim().install(FakeHubSpotResource.CLIENT_ID, p, List.of("oauth"));
            seeds.add(connections.storeOAuthInstall(new ConnectionService.OAuthInstall("default", p,
                    grant.accessToken(), grant.refreshToken(), grant.expiresInSeconds(), grant.scopes(),
                    "portal.example", null, FakeHubSpotResource.APP_ID, clock.instant())));
        }
        io.smallrye.mutiny.Multi.createFrom().iterable(seeds).onItem().transformToUni(u -> u).merge(16)
                .collect().asList().await().atMost(Duration.ofMinutes(2));
        Db.update("update connection set next_refresh_at = now() - interval '1 second' where portal_id >= ? "
                + "and portal_id < ?", first, first + n);
        int before = sim().count("refresh");

        assertThat(sweep()).isEqualTo(n);

        assertThat(sim().count("refresh")).isEqualTo(before + n);
        assertThat(Db.count("select count(*) from connection where portal_id >= ? and portal_id < ? and "
                + "(next_refresh_at <= now() or refresh_failures > 0 or lease_owner is not null)", first, first + n))
                .isZero();
    }

    /** A second refresher with its own lease-owner id, as another replica would have. */
    Refresher secondReplica() {
        RefreshService service = new RefreshService(connections, hubspot, credentials, audit, clock, config, metrics,
                changed, pendingWrites);
        assertThat(service.owner().id()).isNotEqualTo(refresher.owner());
        return new Refresher(connections, service, config, jobs);
    }
}
