package dev.tokenvault.db;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

import jakarta.enterprise.context.ApplicationScoped;

import org.jboss.logging.Logger;

import dev.tokenvault.crypto.KeyServiceUnavailableException;
import dev.tokenvault.hubspot.HubSpotException;
import dev.tokenvault.refresh.RefreshUnavailableException;
import dev.tokenvault.web.Redacted;
import io.smallrye.mutiny.Uni;

/**
 * Runs the body of a scheduled job so that an outage is one log line, not a stack trace every run: the first run that
 * finds the database (or another backing service) unavailable logs one WARN, later failing runs log at DEBUG, and
 * the first run that succeeds again logs one INFO. A failure that is not an outage is a bug and is logged at ERROR
 * with its (redacted) cause. A job never fails towards the scheduler, which would log its own stack trace.
 */
@ApplicationScoped
public class ScheduledJobs {

    private static final Logger LOG = Logger.getLogger(ScheduledJobs.class);

    /** Jobs whose last run failed with an outage. */
    private final Map<String, Boolean> failing = new ConcurrentHashMap<>();

    public <T> Uni<Void> run(String job, Supplier<Uni<T>> body) {
        return Uni.createFrom().<T> deferred(body::get)
                .onItem().invoke(ignored -> {
                    if (failing.remove(job) != null) {
                        LOG.infof("%s: working again", job);
                    }
                })
                .onFailure().recoverWithItem(e -> {
                    if (Outages.isDatabaseUnavailable(e) || isServiceUnavailable(e)) {
                        if (failing.put(job, Boolean.TRUE) == null) {
                            LOG.warnf("%s: cannot run now (%s); retried on schedule, further failures are logged "
                                    + "at DEBUG until it works again", job, Outages.describe(e));
                        } else {
                            LOG.debugf("%s: still cannot run (%s)", job, Outages.describe(e));
                        }
                    } else {
                        LOG.errorf(Redacted.of(e), "%s failed", job);
                    }
                    return null;
                })
                .replaceWithVoid();
    }

    /** Whether this job's last run failed with an outage (for tests and health data). */
    public boolean isFailing(String job) {
        return failing.containsKey(job);
    }

    private static boolean isServiceUnavailable(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof KeyServiceUnavailableException || t instanceof RefreshUnavailableException
                    || t instanceof HubSpotException || t instanceof java.util.concurrent.TimeoutException) {
                return true;
            }
        }
        return false;
    }
}
