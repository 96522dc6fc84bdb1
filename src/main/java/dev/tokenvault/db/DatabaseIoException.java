package dev.tokenvault.db;

/**
 * An I/O failure of a database connection (reset, broken pipe, closed channel), as the pool reported it: marked here
 * because the same {@link java.io.IOException} types also come from reading a caller's request, which is no outage.
 */
public class DatabaseIoException extends RuntimeException {

    public DatabaseIoException(Throwable cause) {
        super("the database connection failed (" + cause.getClass().getSimpleName() + ")", cause, false, false);
    }
}
