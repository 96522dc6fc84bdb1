package dev.tokenvault.connection;

import java.time.InstantSource;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.TreeMap;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.crypto.CryptoService;
import dev.tokenvault.metrics.Metrics;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;

/** Keeps the connection and data-key gauges current (cheap aggregate queries, every 30 seconds). */
@ApplicationScoped
class ConnectionGauges {

    private final Pool pool;
    private final ConnectionRepository repository;
    private final Metrics metrics;
    private final InstantSource clock;
    private final TokenVaultConfig config;
    private final CryptoService crypto;

    private final dev.tokenvault.db.ScheduledJobs jobs;

    ConnectionGauges(Pool pool, ConnectionRepository repository, Metrics metrics, InstantSource clock,
            TokenVaultConfig config, CryptoService crypto, dev.tokenvault.db.ScheduledJobs jobs) {
        this.jobs = jobs;
        this.crypto = crypto;
        this.pool = pool;
        this.repository = repository;
        this.metrics = metrics;
        this.clock = clock;
        this.config = config;
    }

    void atStart(@Observes StartupEvent event) {
        update().subscribe().with(ignored -> {
        });
    }

    @Scheduled(every = "${tokenvault.metrics.gauge-interval:30s}", delayed = "2s", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> scheduledUpdate() {
        return jobs.run("gauge update", this::compute);
    }

    /** Recomputes the gauges; failures are swallowed (the previous values stay). */
    Uni<Void> update() {
        return compute().onFailure().recoverWithNull().replaceWithVoid();
    }

    private Uni<Void> compute() {
        var horizon = clock.instant().plus(config.refresh().leadTime()).atOffset(ZoneOffset.UTC);
        return pool.query("select status, count(*) from connection group by status").execute()
                .chain(statuses -> pool.preparedQuery("select count(*) filter (where next_refresh_at <= $1), "
                        + "count(*) filter (where access_expires_at <= $2) from connection "
                        + "where status = 'active' and auth_type = 'oauth'")
                        .execute(Tuple.of(horizon, clock.instant().atOffset(ZoneOffset.UTC)))
                        .map(due -> {
                            Map<String, Long> byStatus = new TreeMap<>();
                            statuses.forEach(r -> byStatus.put(r.getString(0), r.getLong(1)));
                            var counts = due.iterator().next();
                            metrics.connections(byStatus, counts.getLong(0), counts.getLong(1));
                            return null;
                        }))
                .chain(() -> repository.staticTokenAges(clock.instant(),
                        clock.instant().minus(config.staticTokens().rotateAfter()))
                        .invoke(ages -> metrics.staticTokens(ages[0], ages[1])))
                .chain(() -> pool.query("select (select count(*) from notification_outbox where delivered_at is null), "
                        + "(select count(*) from pending_revocation)").execute()
                        .invoke(rows -> {
                            var r = rows.iterator().next();
                            metrics.backlogs(r.getLong(0), r.getLong(1));
                        }))
                .chain(() -> pool.query("select state = 'failed' or (state = 'running' and heartbeat_at < now() - "
                        + RewrapService.STALE_SQL + ") from rewrap_run where id = 1").execute()
                        .invoke(rows -> metrics.rewrapFailed(rows.size() > 0
                                && Boolean.TRUE.equals(rows.iterator().next().getBoolean(0)))))
                .chain(() -> repository.countDataKeysByVersion())
                .chain(byVersion -> crypto.currentKeyVersion()
                        .invoke(v -> metrics.keyServiceUp(true))
                        .onFailure().invoke(e -> metrics.keyServiceUp(false))
                        .onFailure().recoverWithNull().map(current -> {
                            Map<String, Long> all = new TreeMap<>(byVersion);
                            if (current != null) {
                                all.putIfAbsent(current, 0L); // the newest version is always shown, at zero if unused
                            }
                            return all;
                        }))
                .invoke(metrics::dataKeys)
                .replaceWithVoid();
    }
}
