package dev.tokenvault.connection;

import java.util.List;
import java.util.Map;

import jakarta.enterprise.context.ApplicationScoped;

import org.jboss.logging.Logger;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.db.ScheduledJobs;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Uni;

/**
 * Destroys the static tokens replaced by a rotation once their grace ({@code tokenvault.static-tokens.grace}) has
 * ended: the sealed copy is deleted and the connection no longer offers a rollback. Every replica runs it; rows are
 * claimed with {@code SKIP LOCKED}, so each is destroyed once. Each destruction is audited (never the token).
 */
@ApplicationScoped
class StaticTokenSweeper {

    private static final Logger LOG = Logger.getLogger(StaticTokenSweeper.class);
    private static final int BATCH = 500;

    private final ConnectionService connections;
    private final AuditLog audit;
    private final ScheduledJobs jobs;

    StaticTokenSweeper(ConnectionService connections, AuditLog audit, ScheduledJobs jobs) {
        this.connections = connections;
        this.audit = audit;
        this.jobs = jobs;
    }

    @Scheduled(every = "${tokenvault.static-tokens.sweep-interval:1M}", delayed = "30s", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> scheduledSweep() {
        return jobs.run("replaced static token sweep", this::sweep);
    }

    /** Destroys every replaced token whose grace has ended (in batches); returns how many. */
    Uni<Integer> sweep() {
        return connections.destroyExpiredPreviousTokens(BATCH).chain(destroyed -> {
            record(destroyed);
            return destroyed.size() < BATCH ? Uni.createFrom().item(destroyed.size())
                    : sweep().map(more -> destroyed.size() + more);
        });
    }

    private void record(List<Map.Entry<String, Long>> destroyed) {
        for (Map.Entry<String, Long> d : destroyed) {
            audit.record(null, d.getKey(), d.getValue(), "static_token.previous_destroyed", "ok",
                    "grace period ended");
        }
        if (!destroyed.isEmpty()) {
            LOG.infof("destroyed %d replaced static token(s) whose grace period had ended", destroyed.size());
        }
    }
}
