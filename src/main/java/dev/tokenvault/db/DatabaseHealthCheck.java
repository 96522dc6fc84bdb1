package dev.tokenvault.db;

import jakarta.enterprise.context.ApplicationScoped;

import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

import dev.tokenvault.config.TokenVaultConfig;
import io.smallrye.health.api.AsyncHealthCheck;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;

/**
 * Ready only while the pool that serves requests answers {@code select 1} within
 * {@code tokenvault.database.health-timeout}, so a silent database takes the pod out of rotation within seconds and
 * puts it back by itself. (Quarkus' own datasource checks are off: the JDBC one looks at the pool only Flyway uses at
 * start-up, and the reactive one waits 20 s.)
 */
@Readiness
@ApplicationScoped
class DatabaseHealthCheck implements AsyncHealthCheck {

    private final Pool pool;
    private final java.time.Duration timeout;

    DatabaseHealthCheck(Pool pool, TokenVaultConfig config) {
        this.pool = pool;
        this.timeout = config.database().healthTimeout();
    }

    @Override
    public Uni<HealthCheckResponse> call() {
        return pool.query("select 1").execute()
                .ifNoItem().after(timeout).failWith(() -> new DatabaseTimeoutException("readiness check", timeout))
                .map(rows -> HealthCheckResponse.named("database").up().build())
                .onFailure().recoverWithItem(e -> HealthCheckResponse.named("database").down()
                        .withData("error", Outages.describe(e)).build());
    }
}
