package dev.tokenvault.db;

import java.time.Duration;

/** The database gave no answer within {@code tokenvault.database.timeout}: answered 503, like any outage. */
public class DatabaseTimeoutException extends RuntimeException {

    public DatabaseTimeoutException(String step, Duration deadline) {
        super("the database did not answer within " + deadline.toMillis() + " ms (" + step + ")", null, false, false);
    }
}
