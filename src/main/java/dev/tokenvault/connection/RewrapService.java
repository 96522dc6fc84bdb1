package dev.tokenvault.connection;

import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import jakarta.enterprise.context.ApplicationScoped;

import org.jboss.logging.Logger;

import dev.tokenvault.connection.ConnectionRepository.DataKeyRow;
import dev.tokenvault.crypto.CryptoService;
import dev.tokenvault.web.Redacted;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;

/**
 * Moves every wrapped data key to the newest key version (after a Transit key rotation, or a new local key file).
 * One run at a time per replica; each key is replaced by compare-and-set, so concurrent runs in several replicas,
 * installs and erasures running meanwhile are all safe. Data ciphertexts are untouched.
 */
@ApplicationScoped
public class RewrapService {

    private static final Logger LOG = Logger.getLogger(RewrapService.class);
    static final int PAGE = 200;
    static final int CONCURRENCY = 8;

    private final ConnectionRepository repository;
    private final CryptoService crypto;
    private final InstantSource clock;
    private final AtomicReference<RewrapProgress> progress = new AtomicReference<>(RewrapProgress.idle());

    RewrapService(ConnectionRepository repository, CryptoService crypto, InstantSource clock) {
        this.repository = repository;
        this.crypto = crypto;
        this.clock = clock;
    }

    public RewrapProgress progress() {
        return progress.get();
    }

    /** The background job: starts a run when some data key is not at the newest key version. */
    @io.quarkus.scheduler.Scheduled(every = "${tokenvault.crypto.rewrap-interval:6H}", delayed = "1m", concurrentExecution = io.quarkus.scheduler.Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> background() {
        if ("running".equals(progress.get().state())) {
            return Uni.createFrom().voidItem();
        }
        return crypto.currentKeyVersion()
                .chain(repository::countDataKeysNotAt)
                .chain(behind -> {
                    if (behind == 0) {
                        return Uni.createFrom().voidItem();
                    }
                    LOG.infof("%d data keys are wrapped under an older key version: rewrapping", behind);
                    return start().replaceWithVoid();
                })
                .onFailure().recoverWithNull().replaceWithVoid();
    }

    /** Starts a run, or returns the running one's progress. Completes once the run has started (or failed to). */
    public Uni<RewrapProgress> start() {
        RewrapProgress current = progress.get();
        if ("running".equals(current.state())) {
            return Uni.createFrom().item(current);
        }
        RewrapProgress starting = RewrapProgress.starting(clock.instant());
        if (!progress.compareAndSet(current, starting)) {
            return Uni.createFrom().item(progress.get());
        }
        return crypto.currentKeyVersion()
                .chain(target -> repository.countDataKeysNotAt(target).map(total -> {
                    RewrapProgress running = starting.running(target, total);
                    progress.set(running);
                    run(target);
                    return running;
                }))
                .onFailure().recoverWithItem(e -> {
                    RewrapProgress failed = starting.failed(clock.instant(), Redacted.describe(e));
                    progress.set(failed);
                    LOG.errorf("rewrap could not start: %s", Redacted.describe(e));
                    return failed;
                });
    }

    /** Runs the rewrap to completion in the background. */
    private void run(String target) {
        page(target, 0L)
                .subscribe().with(
                        ignored -> repository.countDataKeysNotAt(target).subscribe().with(
                                remaining -> progress.updateAndGet(p -> p.done(clock.instant(), remaining)),
                                e -> progress.updateAndGet(p -> p.done(clock.instant(), p.remaining()))),
                        e -> {
                            LOG.errorf("rewrap to key version %s failed: %s", target, Redacted.describe(e));
                            progress.updateAndGet(p -> p.failed(clock.instant(), Redacted.describe(e)));
                        });
    }

    /** Connections' data keys first, then those of pending revocations. */
    private Uni<Void> page(String target, long afterId) {
        return repository.dataKeysNotAt(target, afterId, PAGE).chain(rows -> {
            if (rows.isEmpty()) {
                return pendingPage(target, 0L);
            }
            long last = rows.get(rows.size() - 1).id();
            return rewrapAll(rows, (row, to) -> repository.replaceDataKey(row.id(), row.wrapped(), to,
                    clock.instant())).chain(() -> page(target, last));
        });
    }

    private Uni<Void> pendingPage(String target, long afterId) {
        return repository.pendingKeysNotAt(target, afterId, PAGE).chain(rows -> {
            if (rows.isEmpty()) {
                return Uni.createFrom().voidItem();
            }
            long last = rows.get(rows.size() - 1).id();
            return rewrapAll(rows, (row, to) -> repository.replacePendingKey(row.id(), row.wrapped(), to))
                    .chain(() -> pendingPage(target, last));
        });
    }

    private Uni<Void> rewrapAll(List<DataKeyRow> rows,
            java.util.function.BiFunction<DataKeyRow, dev.tokenvault.crypto.WrappedKey, Uni<Boolean>> replace) {
        return Multi.createFrom().iterable(rows)
                .onItem().transformToUni(row -> crypto.rewrap(row.wrapped())
                        .chain(to -> replace.apply(row, to)
                                .invoke(replaced -> {
                                    if (replaced) {
                                        crypto.forget(row.wrapped());
                                        progress.updateAndGet(RewrapProgress::oneMore);
                                    }
                                })))
                .merge(CONCURRENCY)
                .collect().last().replaceWithVoid();
    }

    /** Progress of the last rewrap run on this replica. */
    public record RewrapProgress(String state, String targetKeyVersion, Long total, Long rewrapped, Long remaining,
            Instant startedAt, Instant finishedAt, String error) {

        static RewrapProgress idle() {
            return new RewrapProgress("idle", null, null, null, null, null, null, null);
        }

        static RewrapProgress starting(Instant at) {
            return new RewrapProgress("running", null, null, 0L, null, at, null, null);
        }

        RewrapProgress running(String target, long total) {
            return new RewrapProgress("running", target, total, 0L, total, startedAt, null, null);
        }

        RewrapProgress oneMore() {
            long done = rewrapped == null ? 1 : rewrapped + 1;
            return new RewrapProgress(state, targetKeyVersion, total, done,
                    total == null ? null : Math.max(0, total - done), startedAt, finishedAt, error);
        }

        RewrapProgress done(Instant at, Long left) {
            return new RewrapProgress("done", targetKeyVersion, total, rewrapped, left, startedAt, at, null);
        }

        RewrapProgress failed(Instant at, String why) {
            return new RewrapProgress("failed", targetKeyVersion, total, rewrapped, remaining, startedAt, at, why);
        }
    }
}
