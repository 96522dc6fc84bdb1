package dev.tokenvault.db;

import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collector;

import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PrepareOptions;
import io.vertx.sqlclient.PreparedQuery;
import io.vertx.sqlclient.PreparedStatement;
import io.vertx.sqlclient.Query;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.SqlResult;
import io.vertx.sqlclient.Transaction;
import io.vertx.sqlclient.Tuple;
import io.vertx.sqlclient.spi.DatabaseMetadata;

/**
 * The application's connection pool: the Vert.x PostgreSQL pool with a deadline on every step that waits for the
 * database — acquiring a connection, each statement, prepare, begin, commit and rollback. A step without an answer
 * within {@code tokenvault.database.timeout} fails with {@link DatabaseTimeoutException} (answered 503), so a silent
 * database (a partition, a stuck failover) never holds a request or a job.
 * <p>
 * The Vert.x SQL client has no statement timeout of its own, and its pool-acquisition timer is turned off (see
 * {@link PoolCreator}: it completes a promise twice after a failed connect and floods the log with
 * "Result is already complete"); this class is where those deadlines live instead. A connection acquired after its
 * deadline is given back at once. A statement left without an answer keeps its connection until the TCP idle timeout
 * closes it; commands on one connection run in order, so a rollback queued behind it still runs before the connection
 * is reused.
 */
@SuppressWarnings("deprecation") // Quarkus exposes the pool as a PgPool bean too
final class DeadlinePool implements io.vertx.pgclient.PgPool {

    private final Pool delegate;
    private final Vertx vertx;
    private final long timeoutMillis;

    DeadlinePool(Pool delegate, Vertx vertx, Duration timeout) {
        this.delegate = delegate;
        this.vertx = vertx;
        this.timeoutMillis = Math.max(1, timeout.toMillis());
    }

    /** {@code future}, or a {@link DatabaseTimeoutException} when it has no outcome within the deadline. */
    <T> Future<T> deadline(String step, Future<T> future, Handler<T> lateResult) {
        Promise<T> promise = Promise.promise();
        long timer = vertx.setTimer(timeoutMillis,
                id -> promise.tryFail(new DatabaseTimeoutException(step, Duration.ofMillis(timeoutMillis))));
        future.onComplete(ar -> {
            vertx.cancelTimer(timer);
            boolean delivered = ar.succeeded() ? promise.tryComplete(ar.result())
                    : promise.tryFail(ar.cause() instanceof java.io.IOException ? new DatabaseIoException(ar.cause())
                            : ar.cause());
            if (!delivered && ar.succeeded() && lateResult != null) {
                lateResult.handle(ar.result());
            }
        });
        return promise.future();
    }

    private static <T> void reply(Future<T> future, Handler<AsyncResult<T>> handler) {
        if (handler != null) {
            future.onComplete(handler);
        }
    }

    // ---- Pool ----------------------------------------------------------------------------------------------------

    @Override
    public Future<SqlConnection> getConnection() {
        return deadline("acquiring a database connection", delegate.getConnection(), SqlConnection::close)
                .map(c -> (SqlConnection) new Connection(c));
    }

    @Override
    public void getConnection(Handler<AsyncResult<SqlConnection>> handler) {
        reply(getConnection(), handler);
    }

    @Override
    public Query<RowSet<Row>> query(String sql) {
        return new DeadlineQuery<>(() -> delegate.query(sql));
    }

    @Override
    public PreparedQuery<RowSet<Row>> preparedQuery(String sql) {
        return new DeadlinePreparedQuery<>(delegate.preparedQuery(sql));
    }

    @Override
    public PreparedQuery<RowSet<Row>> preparedQuery(String sql, PrepareOptions options) {
        return new DeadlinePreparedQuery<>(delegate.preparedQuery(sql, options));
    }

    @Override
    public io.vertx.pgclient.PgPool connectHandler(Handler<SqlConnection> handler) {
        delegate.connectHandler(handler);
        return this;
    }

    @Override
    public io.vertx.pgclient.PgPool connectionProvider(Function<Context, Future<SqlConnection>> provider) {
        delegate.connectionProvider(provider);
        return this;
    }

    @Override
    public int size() {
        return delegate.size();
    }

    @Override
    public void close(Handler<AsyncResult<Void>> handler) {
        delegate.close(handler);
    }

    @Override
    public Future<Void> close() {
        return delegate.close();
    }

    // ---- queries -------------------------------------------------------------------------------------------------

    private class DeadlineQuery<T> implements Query<T> {
        private final Supplier<Query<T>> query;

        DeadlineQuery(Supplier<Query<T>> query) {
            this.query = query;
        }

        @Override
        public Future<T> execute() {
            return deadline("a database statement", query.get().execute(), null);
        }

        @Override
        public void execute(Handler<AsyncResult<T>> handler) {
            reply(execute(), handler);
        }

        @Override
        public <R> Query<SqlResult<R>> collecting(Collector<Row, ?, R> collector) {
            return new DeadlineQuery<>(() -> query.get().collecting(collector));
        }

        @Override
        public <U> Query<RowSet<U>> mapping(Function<Row, U> mapper) {
            return new DeadlineQuery<>(() -> query.get().mapping(mapper));
        }
    }

    private class DeadlinePreparedQuery<T> implements PreparedQuery<T> {
        private final PreparedQuery<T> query;

        DeadlinePreparedQuery(PreparedQuery<T> query) {
            this.query = query;
        }

        @Override
        public Future<T> execute() {
            return deadline("a database statement", query.execute(), null);
        }

        @Override
        public void execute(Handler<AsyncResult<T>> handler) {
            reply(execute(), handler);
        }

        @Override
        public Future<T> execute(Tuple tuple) {
            return deadline("a database statement", query.execute(tuple), null);
        }

        @Override
        public void execute(Tuple tuple, Handler<AsyncResult<T>> handler) {
            reply(execute(tuple), handler);
        }

        @Override
        public Future<T> executeBatch(List<Tuple> batch) {
            return deadline("a database statement", query.executeBatch(batch), null);
        }

        @Override
        public void executeBatch(List<Tuple> batch, Handler<AsyncResult<T>> handler) {
            reply(executeBatch(batch), handler);
        }

        @Override
        public <R> PreparedQuery<SqlResult<R>> collecting(Collector<Row, ?, R> collector) {
            return new DeadlinePreparedQuery<>(query.collecting(collector));
        }

        @Override
        public <U> PreparedQuery<RowSet<U>> mapping(Function<Row, U> mapper) {
            return new DeadlinePreparedQuery<>(query.mapping(mapper));
        }
    }

    // ---- a connection of the pool (transactions) -----------------------------------------------------------------

    private class Connection implements SqlConnection {
        private final SqlConnection delegate;

        Connection(SqlConnection delegate) {
            this.delegate = delegate;
        }

        @Override
        public Query<RowSet<Row>> query(String sql) {
            return new DeadlineQuery<>(() -> delegate.query(sql));
        }

        @Override
        public PreparedQuery<RowSet<Row>> preparedQuery(String sql) {
            return new DeadlinePreparedQuery<>(delegate.preparedQuery(sql));
        }

        @Override
        public PreparedQuery<RowSet<Row>> preparedQuery(String sql, PrepareOptions options) {
            return new DeadlinePreparedQuery<>(delegate.preparedQuery(sql, options));
        }

        @Override
        public Future<PreparedStatement> prepare(String sql) {
            return deadline("preparing a database statement", delegate.prepare(sql), null);
        }

        @Override
        public SqlConnection prepare(String sql, Handler<AsyncResult<PreparedStatement>> handler) {
            reply(prepare(sql), handler);
            return this;
        }

        @Override
        public Future<PreparedStatement> prepare(String sql, PrepareOptions options) {
            return deadline("preparing a database statement", delegate.prepare(sql, options), null);
        }

        @Override
        public SqlConnection prepare(String sql, PrepareOptions options, Handler<AsyncResult<PreparedStatement>> handler) {
            reply(prepare(sql, options), handler);
            return this;
        }

        @Override
        public SqlConnection exceptionHandler(Handler<Throwable> handler) {
            delegate.exceptionHandler(handler);
            return this;
        }

        @Override
        public SqlConnection closeHandler(Handler<Void> handler) {
            delegate.closeHandler(handler);
            return this;
        }

        @Override
        public Future<Transaction> begin() {
            return deadline("beginning a transaction", delegate.begin(), null).map(t -> (Transaction) new Tx(t));
        }

        @Override
        public void begin(Handler<AsyncResult<Transaction>> handler) {
            reply(begin(), handler);
        }

        @Override
        public Transaction transaction() {
            Transaction t = delegate.transaction();
            return t == null ? null : new Tx(t);
        }

        @Override
        public boolean isSSL() {
            return delegate.isSSL();
        }

        @Override
        public DatabaseMetadata databaseMetadata() {
            return delegate.databaseMetadata();
        }

        @Override
        public Future<Void> close() {
            // giving a connection back to the pool (with a rollback first if a transaction is open) never waits for
            // the database
            return delegate.close();
        }

        @Override
        public void close(Handler<AsyncResult<Void>> handler) {
            delegate.close(handler);
        }
    }

    private class Tx implements Transaction {
        private final Transaction delegate;

        Tx(Transaction delegate) {
            this.delegate = delegate;
        }

        @Override
        public Future<Void> commit() {
            return deadline("committing a transaction", delegate.commit(), null);
        }

        @Override
        public void commit(Handler<AsyncResult<Void>> handler) {
            reply(commit(), handler);
        }

        @Override
        public Future<Void> rollback() {
            return deadline("rolling back a transaction", delegate.rollback(), null);
        }

        @Override
        public void rollback(Handler<AsyncResult<Void>> handler) {
            reply(rollback(), handler);
        }

        @Override
        public Future<Void> completion() {
            return delegate.completion();
        }

        @Override
        public void completion(Handler<AsyncResult<Void>> handler) {
            delegate.completion(handler);
        }
    }
}
