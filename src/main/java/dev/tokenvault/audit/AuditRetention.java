package dev.tokenvault.audit;

import java.time.Instant;
import java.time.InstantSource;
import java.time.ZoneOffset;

import jakarta.enterprise.context.ApplicationScoped;

import org.jboss.logging.Logger;

import dev.tokenvault.config.TokenVaultConfig;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * Deletes audit records older than {@code tokenvault.audit.retention} (unset: kept for ever), in chunks, so that a
 * first purge of a large table neither holds one long transaction nor blocks writers. Each purge that deletes
 * something is itself audited ({@code audit.purge}). Every replica runs it; concurrent purges only delete rows the
 * other has not.
 */
@ApplicationScoped
public class AuditRetention {

    private static final Logger LOG = Logger.getLogger(AuditRetention.class);
    static final int CHUNK = 10_000;
    /** At most this many chunks per run; the next run goes on. */
    static final int MAX_CHUNKS = 100;

    private final Pool pool;
    private final InstantSource clock;
    private final AuditLog audit;
    private final TokenVaultConfig config;

    private final dev.tokenvault.db.ScheduledJobs jobs;

    AuditRetention(Pool pool, InstantSource clock, AuditLog audit, TokenVaultConfig config,
            dev.tokenvault.db.ScheduledJobs jobs) {
        this.jobs = jobs;
        this.pool = pool;
        this.clock = clock;
        this.audit = audit;
        this.config = config;
    }

    @Scheduled(every = "1h", delayed = "5m", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> scheduledPurge() {
        return config.audit().retention().filter(r -> !r.isZero() && !r.isNegative())
                .map(r -> jobs.run("audit retention purge", () -> purgeOlderThan(clock.instant().minus(r))))
                .orElseGet(() -> Uni.createFrom().voidItem());
    }

    /** Deletes records whose last event is before {@code cutoff}; the number deleted. */
    public Uni<Long> purgeOlderThan(Instant cutoff) {
        return chunk(cutoff, 0, 0L).invoke(deleted -> {
            if (deleted > 0) {
                audit.record(null, null, null, "audit.purge", "ok",
                        "deleted " + deleted + " records before " + cutoff);
                LOG.infof("audit retention: deleted %d records before %s", deleted, cutoff);
            }
        });
    }

    private Uni<Long> chunk(Instant cutoff, int chunks, long deleted) {
        return pool.preparedQuery("delete from audit_log where id in (select id from audit_log "
                + "where at < $1 and coalesce(last_at, at) < $1 order by at limit $2)")
                .execute(Tuple.of(cutoff.atOffset(ZoneOffset.UTC), CHUNK))
                .chain(rows -> {
                    long total = deleted + rows.rowCount();
                    return rows.rowCount() == CHUNK && chunks + 1 < MAX_CHUNKS ? chunk(cutoff, chunks + 1, total)
                            : Uni.createFrom().item(total);
                });
    }
}
