package dev.tokenvault.db;

import java.io.IOException;

import io.vertx.core.http.ConnectionPoolTooBusyException;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.ClosedConnectionException;

/**
 * Tells a database that is unreachable, restarting or silent (an outage: 503, retried later, logged as one line)
 * from a failure that is a bug (500). Every way the pool reports an outage is here: connect refused or timed out,
 * connection reset or closed, the wait queue full, a missed deadline, and PostgreSQL's own connection and shutdown
 * SQLSTATEs.
 * The description is never the exception's message: the SQL client puts connection details and bind parameters there.
 */
public final class Outages {

    private Outages() {
    }

    public static boolean isDatabaseUnavailable(Throwable e) {
        for (Throwable t = e; t != null && depth(e, t) < 10; t = t.getCause()) {
            // connect refused or timed out (no stack trace to look at), or another I/O failure of the SQL client:
            // reset, broken pipe, closed channel (an I/O failure reading the caller's request is not an outage)
            if (t instanceof DatabaseTimeoutException || t instanceof DatabaseIoException
                    || t instanceof java.net.ConnectException
                    || t instanceof IOException && fromSqlClient(t) || t instanceof ClosedConnectionException
                    || t instanceof ConnectionPoolTooBusyException
                    || t.getClass().getName().equals("io.vertx.core.impl.NoStackTraceThrowable")
                            && t.getMessage() != null
                            && t.getMessage().toLowerCase(java.util.Locale.ROOT).contains("connection")) {
                return true;
            }
            if (t instanceof PgException pg && isOutageState(pg.getSqlState())) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }

    private static boolean fromSqlClient(Throwable t) {
        for (StackTraceElement frame : t.getStackTrace()) {
            String c = frame.getClassName();
            if (c.startsWith("io.vertx.sqlclient.") || c.startsWith("io.vertx.pgclient.")) {
                return true;
            }
        }
        return false;
    }

    /**
     * Connection exceptions (class 08), the server shutting down, crashed or starting up (57P01-57P03), too many
     * connections (53300), a statement cancelled by a server timeout (57014).
     */
    static boolean isOutageState(String sqlState) {
        return sqlState != null && (sqlState.startsWith("08") || sqlState.startsWith("57P0")
                || sqlState.equals("53300") || sqlState.equals("57014"));
    }

    /** A one-line description safe for logs and health data: no parameter values, no connection details. */
    public static String describe(Throwable e) {
        for (Throwable t = e; t != null && depth(e, t) < 10; t = t.getCause()) {
            if (t instanceof DatabaseTimeoutException || t instanceof DatabaseIoException) {
                return t.getMessage();
            }
            if (t instanceof PgException pg) {
                return "PostgreSQL SQLSTATE " + pg.getSqlState();
            }
            if (t.getCause() == null || t.getCause() == t) {
                return t.getClass().getSimpleName();
            }
        }
        return e.getClass().getSimpleName();
    }

    private static int depth(Throwable top, Throwable t) {
        int d = 0;
        for (Throwable x = top; x != null && x != t && d < 10; x = x.getCause()) {
            d++;
        }
        return d;
    }
}
