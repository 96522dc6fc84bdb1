package dev.tokenvault.db;

import jakarta.enterprise.context.ApplicationScoped;

import dev.tokenvault.config.TokenVaultConfig;
import io.quarkus.reactive.pg.client.PgPoolCreator;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;

/**
 * Creates the reactive PostgreSQL pool that every feature uses (Quarkus calls this bean instead of building the pool
 * itself), with bounds for outages:
 * <ul>
 * <li>TCP connect timeout {@code tokenvault.database.connect-timeout}, and a TCP idle timeout
 * ({@code tokenvault.database.idle-timeout}) that closes a connection on which nothing moved, so a statement that
 * never got an answer does not hold its connection for ever;</li>
 * <li>a bounded wait queue ({@code tokenvault.database.max-wait-queue}): beyond it a request fails at once;</li>
 * <li>no Vert.x acquisition timer ({@code connectionTimeout = 0}): in Vert.x 4.5 it fires after a connect that already
 * failed and completes the request's promise a second time (vertx-sql-client issue 1706: a flood of
 * "IllegalStateException: Result is already complete" once the database is back). {@link DeadlinePool} puts a
 * deadline on acquisition and on every statement instead.</li>
 * </ul>
 */
@ApplicationScoped
public class PoolCreator implements PgPoolCreator {

    private final TokenVaultConfig.Database config;

    @jakarta.inject.Inject
    PoolCreator(TokenVaultConfig config) {
        this(config.database());
    }

    PoolCreator(TokenVaultConfig.Database config) {
        this.config = config;
    }

    @Override
    public Pool create(Input input) {
        PoolOptions pool = input.poolOptions()
                .setConnectionTimeout(0)
                .setMaxWaitQueueSize(config.maxWaitQueue());
        for (PgConnectOptions options : input.pgConnectOptionsList()) {
            options.setConnectTimeout((int) Math.min(Integer.MAX_VALUE, config.connectTimeout().toMillis()));
            options.setIdleTimeout((int) Math.max(1, config.idleTimeout().toSeconds()));
            options.setIdleTimeoutUnit(java.util.concurrent.TimeUnit.SECONDS);
        }
        Pool pg = PgBuilder.pool().with(pool)
                .connectingTo(new java.util.ArrayList<io.vertx.sqlclient.SqlConnectOptions>(input.pgConnectOptionsList()))
                .using(input.vertx()).build();
        return new DeadlinePool(pg, input.vertx(), config.timeout());
    }
}
