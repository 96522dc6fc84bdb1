package dev.tokenvault.refresh;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import jakarta.enterprise.context.ApplicationScoped;

import org.jboss.logging.Logger;

import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.connection.Connection;
import dev.tokenvault.connection.ConnectionService;
import dev.tokenvault.db.ScheduledJobs;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;

/**
 * The proactive refresher: every poll interval, claims due connections (FOR UPDATE SKIP LOCKED, with a lease so a
 * crashed replica's claims expire) and refreshes them with bounded concurrency, batch after batch until none is due.
 * Replicas share the work through the database; each due connection is refreshed once.
 */
@ApplicationScoped
public class Refresher {

    private static final Logger LOG = Logger.getLogger(Refresher.class);

    private final ConnectionService connections;
    private final RefreshService refresher;
    private final TokenVaultConfig.Refresh config;
    private final AtomicBoolean sweeping = new AtomicBoolean();

    private final ScheduledJobs jobs;

    Refresher(ConnectionService connections, RefreshService refresher, TokenVaultConfig config, ScheduledJobs jobs) {
        this.jobs = jobs;
        this.connections = connections;
        this.refresher = refresher;
        this.config = config.refresh();
    }

    @Scheduled(every = "${tokenvault.refresh.poll-interval:15S}", delayed = "5s", concurrentExecution = Scheduled.ConcurrentExecution.SKIP, skipExecutionIf = Disabled.class)
    Uni<Void> poll() {
        return jobs.run("refresh sweep", this::sweepOrFail);
    }

    /** This replica's lease owner id. */
    public String owner() {
        return refresher.owner().id();
    }

    /** Refreshes everything due now; returns how many connections were attempted. */
    public Uni<Integer> sweep() {
        return sweepOrFail().onFailure().recoverWithItem(0);
    }

    private Uni<Integer> sweepOrFail() {
        if (!sweeping.compareAndSet(false, true)) {
            return Uni.createFrom().item(0);
        }
        return batches(0).eventually(() -> sweeping.set(false));
    }

    private Uni<Integer> batches(int doneSoFar) {
        int batchSize = Math.max(1, config.maxConcurrency() * 4);
        return connections.claimDue(refresher.owner(), config.lease(), batchSize).chain(claimed -> {
            if (claimed.isEmpty()) {
                return Uni.createFrom().item(doneSoFar);
            }
            LOG.debugf("refreshing %d due connections", claimed.size());
            // with Vault, one Transit decrypt for the page instead of one per connection
            return connections.prefetchDataKeys(claimed).chain(() -> refreshAll(claimed)).chain(() -> claimed.size() < batchSize
                    ? Uni.createFrom().item(doneSoFar + claimed.size())
                    : batches(doneSoFar + claimed.size()));
        });
    }

    private Uni<Void> refreshAll(List<Connection> claimed) {
        return Multi.createFrom().iterable(claimed)
                .onItem().transformToUni(c -> refresher.refreshLeased(c)
                        .onFailure().recoverWithNull())
                .merge(Math.max(1, config.maxConcurrency()))
                .collect().last().replaceWithVoid();
    }

    /** {@code tokenvault.refresh.enabled=false} turns the scheduled sweep off (the on-demand path still works). */
    @ApplicationScoped
    public static class Disabled implements Scheduled.SkipPredicate {
        private final boolean enabled;

        Disabled(TokenVaultConfig config) {
            this.enabled = config.refresh().enabled();
        }

        @Override
        public boolean test(io.quarkus.scheduler.ScheduledExecution execution) {
            return !enabled;
        }
    }
}
