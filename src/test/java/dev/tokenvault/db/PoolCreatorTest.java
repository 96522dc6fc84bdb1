package dev.tokenvault.db;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tokenvault.config.TokenVaultConfig;
import io.quarkus.reactive.pg.client.PgPoolCreator;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;

/**
 * The pool {@link PoolCreator} builds, against a database that refuses connections, without Quarkus: every query
 * fails promptly as an outage, and nothing completes a promise twice afterwards. (With Vert.x 4.5's own acquisition
 * timer, each query issued during an outage threw "IllegalStateException: Result is already complete" once that
 * timer fired: hundreds of them after a database restart.)
 */
class PoolCreatorTest {

    final Vertx vertx = Vertx.vertx();
    final List<Throwable> unhandled = new CopyOnWriteArrayList<>();

    @AfterEach
    void close() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }

    static int refusedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static TokenVaultConfig.Database config(Duration timeout) {
        return new TokenVaultConfig.Database() {
            @Override
            public Duration timeout() {
                return timeout;
            }

            @Override
            public Duration healthTimeout() {
                return timeout;
            }

            @Override
            public Duration connectTimeout() {
                return Duration.ofSeconds(1);
            }

            @Override
            public Duration idleTimeout() {
                return Duration.ofSeconds(5);
            }

            @Override
            public int maxWaitQueue() {
                return 10;
            }
        };
    }

    @Test
    void anIoFailureReadingTheCallersRequestIsNoDatabaseOutage() {
        java.io.IOException bodyCutOff = new java.io.IOException("request body over the limit");
        bodyCutOff.setStackTrace(new StackTraceElement[] {
                new StackTraceElement("org.jboss.resteasy.reactive.server.vertx.VertxInputStream", "read", null, 1) });
        assertThat(Outages.isDatabaseUnavailable(bodyCutOff)).isFalse();
        java.io.IOException pgWrite = new java.io.IOException("Broken pipe");
        pgWrite.setStackTrace(new StackTraceElement[] {
                new StackTraceElement("io.vertx.pgclient.impl.codec.PgEncoder", "flush", null, 1) });
        assertThat(Outages.isDatabaseUnavailable(pgWrite)).isTrue();
        assertThat(Outages.isDatabaseUnavailable(new java.net.ConnectException("refused"))).isTrue();
        assertThat(Outages.isDatabaseUnavailable(new IllegalStateException("a bug"))).isFalse();
    }

    @Test
    void queriesDuringAnOutageFailAsOutagesAndNothingCompletesTwice() throws Exception {
        vertx.exceptionHandler(unhandled::add);
        int port = refusedPort();
        // Quarkus hands over its pool options; an acquisition timeout there is what used to fire twice
        PoolOptions options = new PoolOptions().setMaxSize(4).setConnectionTimeout(300)
                .setConnectionTimeoutUnit(TimeUnit.MILLISECONDS);
        PgConnectOptions connect = new PgConnectOptions().setHost("127.0.0.1").setPort(port).setDatabase("postgres")
                .setUser("postgres").setPassword("postgres");
        Pool pool = new PoolCreator(config(Duration.ofMillis(500))).create(new PgPoolCreator.Input() {
            @Override
            public Vertx vertx() {
                return vertx;
            }

            @Override
            public PoolOptions poolOptions() {
                return options;
            }

            @Override
            public List<PgConnectOptions> pgConnectOptionsList() {
                return List.of(connect);
            }
        });
        assertThat(options.getConnectionTimeout()).isZero();
        assertThat(connect.getIdleTimeout()).isEqualTo(5);

        List<Future<?>> queries = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            queries.add(pool.query("select 1").execute());
            queries.add(pool.preparedQuery("select $1::int").execute(io.vertx.sqlclient.Tuple.of(i)));
            queries.add(pool.withTransaction(c -> c.query("select 1").execute()));
        }
        for (Future<?> q : queries) {
            Throwable failure = null;
            try {
                q.toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                failure = e.getCause();
            }
            assertThat(failure).as("a query against a refused database").isNotNull();
            assertThat(Outages.isDatabaseUnavailable(failure)).as(String.valueOf(failure)).isTrue();
        }
        Thread.sleep(1000); // well past the 300 ms acquisition timeout that used to fire after the failure
        assertThat(unhandled).isEmpty();
        pool.close();
    }
}
