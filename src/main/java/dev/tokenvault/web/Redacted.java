package dev.tokenvault.web;

/**
 * A copy of an exception chain that is safe to log: the class names and stack traces are kept, but messages of
 * exceptions thrown outside this service are dropped, because libraries put parameter values in their messages
 * (the SQL client, for one, prints bind parameters). Our own exceptions never carry secrets and keep their messages.
 */
public final class Redacted extends RuntimeException {

    private Redacted(String message, Redacted cause, StackTraceElement[] trace) {
        super(message, cause, false, true);
        setStackTrace(trace);
    }

    /**
     * A one-line description safe for logs, progress reports and stored errors: the message of our own exceptions
     * (which never carry secrets), only the class name of anything else.
     */
    public static String describe(Throwable e) {
        return ours(e) && e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    private static boolean ours(Throwable e) {
        return e.getClass().getName().startsWith("dev.tokenvault.");
    }

    public static Throwable of(Throwable e) {
        return copy(e, 0);
    }

    private static Redacted copy(Throwable e, int depth) {
        if (e == null || depth > 8) {
            return null;
        }
        String message = e.getClass().getName();
        if (ours(e) && e.getMessage() != null) {
            message += ": " + e.getMessage();
        } else if (e instanceof io.vertx.pgclient.PgException pg) {
            message += ": SQLSTATE " + pg.getSqlState();
        }
        return new Redacted(message, copy(e.getCause(), depth + 1), e.getStackTrace());
    }

    @Override
    public String toString() {
        return getMessage();
    }
}
