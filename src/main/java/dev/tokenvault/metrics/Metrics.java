package dev.tokenvault.metrics;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import jakarta.inject.Singleton;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.Startup;

/**
 * Every {@code tokenvault_*} meter, registered at start-up at zero so dashboards and alerts see them before the first
 * event. Features record through this bean; the names are the operational contract (see README).
 */
@Singleton
@Startup
public class Metrics {

    public static final List<String> REFRESH_OUTCOMES = List.of("success", "rejected", "transient");
    public static final List<String> HANDOUT_OUTCOMES = List.of("cache", "store", "refreshed", "stale",
            "needs_reauth", "not_found", "unavailable", "forbidden", "invalid", "error");
    public static final List<String> STATUSES = List.of("active", "needs_reauth");
    /** How proxied calls ended: sent and answered by HubSpot, or answered by the vault itself. */
    public static final List<String> PROXY_OUTCOMES = List.of("ok", "upstream_4xx", "upstream_5xx", "upstream_429",
            "rate_limited", "refused", "unavailable", "unreachable", "timeout", "cancelled");

    private final MeterRegistry registry;
    private final Map<String, Counter> refresh = new ConcurrentHashMap<>();
    private final Map<String, Counter> handouts = new ConcurrentHashMap<>();
    private final Timer refreshLatency;
    private final Counter auditWriteFailures;
    private final Counter notifyFailures;
    private final Counter auditDropped;
    private final Counter auditAnonymousLimited;
    private final Counter oauthCallbacksLimited;
    private final Map<String, AtomicLong> connections = new ConcurrentHashMap<>();
    private final AtomicLong due = new AtomicLong();
    private final AtomicLong notificationsPending = new AtomicLong();
    private final AtomicLong expired = new AtomicLong();
    private final AtomicLong revocationsPending = new AtomicLong();
    private final AtomicLong staticTokenAge = new AtomicLong();
    private final AtomicLong staticTokensRotationDue = new AtomicLong();
    private final MultiGauge dataKeys;
    private final AtomicInteger auditPending = new AtomicInteger();
    private final AtomicInteger refreshWritesPending = new AtomicInteger();
    private final AtomicInteger rewrapFailed = new AtomicInteger();
    private final AtomicInteger keyServiceUp = new AtomicInteger();
    private final Counter refreshTokensLost;
    private final Counter hubspotBusy;
    private final Timer budgetWait;
    private final Counter budgetExhausted;
    private final Counter budgetPauses;
    private final Map<String, Counter> proxied = new ConcurrentHashMap<>();
    private final Timer proxyUpstream;
    private final Counter upstream429;
    private final Map<String, Counter> dataKeysOpened = new ConcurrentHashMap<>();
    private final Counter dataKeysBatchCalls;
    private final Counter dataKeysBatchKeys;
    /** Where an opened data key came from: the data-key cache, or the key-encryption provider (a Vault call). */
    public static final List<String> DATA_KEY_SOURCES = List.of("cache", "provider");

    Metrics(MeterRegistry registry) {
        this.registry = registry;
        REFRESH_OUTCOMES.forEach(this::refreshCounter);
        HANDOUT_OUTCOMES.forEach(this::handoutCounter);
        DATA_KEY_SOURCES.forEach(source -> dataKeysOpened.put(source, Counter.builder("tokenvault_data_keys_opened_total")
                .description("Data keys opened to read a connection's secrets, by source: the in-memory cache or "
                        + "the key-encryption provider (with Vault, one Transit decrypt each)")
                .tag("source", source).register(registry)));
        dataKeysBatchCalls = Counter.builder("tokenvault_data_key_batches_total")
                .description("Batch calls that opened several data keys at once (with Vault, one Transit decrypt "
                        + "with batch_input each)")
                .register(registry);
        dataKeysBatchKeys = Counter.builder("tokenvault_data_keys_batch_opened_total")
                .description("Data keys opened by batch calls, then read from the data-key cache")
                .register(registry);
        refreshLatency = Timer.builder("tokenvault_refresh_seconds").description("HubSpot refresh calls")
                .register(registry);
        auditWriteFailures = Counter.builder("tokenvault_audit_write_failures_total")
                .description("Audit batches that failed to be written (they are retried)").register(registry);
        auditDropped = Counter.builder("tokenvault_audit_dropped_total")
                .description("Audit events of unauthenticated requests not queued because the audit backlog was full")
                .register(registry);
        auditAnonymousLimited = Counter.builder("tokenvault_audit_anonymous_limited_total")
                .description("Audit events of unauthenticated requests not recorded because their app already had "
                        + "tokenvault.audit.anonymous-records-per-second records in that second (this replica)")
                .register(registry);
        oauthCallbacksLimited = Counter.builder("tokenvault_oauth_callbacks_limited_total")
                .description("OAuth callbacks answered 503 without using their state because this replica already "
                        + "used tokenvault.oauth.callbacks-per-second states in that second")
                .register(registry);
        notifyFailures = Counter.builder("tokenvault_notify_failures_total")
                .description("Outgoing notification deliveries that failed (they are retried)").register(registry);
        for (String status : STATUSES) {
            AtomicLong value = new AtomicLong();
            connections.put(status, value);
            registry.gauge("tokenvault_connections", Tags.of("status", status), value, AtomicLong::doubleValue);
        }
        registry.gauge("tokenvault_connections_due", Tags.empty(), due, AtomicLong::doubleValue);
        Gauge.builder("tokenvault_connections_expired", expired, AtomicLong::doubleValue)
                .description("Active OAuth connections whose access token has expired: the proactive refresh did not "
                        + "happen in time (a hand-out then refreshes first)")
                .register(registry);
        Gauge.builder("tokenvault_static_token_age_seconds", staticTokenAge, AtomicLong::doubleValue)
                .description("Age of the oldest static credential (service key or private-app token) held: seconds "
                        + "since its token was stored; 0 when there is none")
                .register(registry);
        Gauge.builder("tokenvault_static_tokens_rotation_due", staticTokensRotationDue, AtomicLong::doubleValue)
                .description("Static credentials stored longer ago than tokenvault.static-tokens.rotate-after")
                .register(registry);
        Gauge.builder("tokenvault_notifications_pending", notificationsPending, AtomicLong::doubleValue)
                .description("Outgoing notifications not delivered yet (outbox)").register(registry);
        Gauge.builder("tokenvault_revocations_pending", revocationsPending, AtomicLong::doubleValue)
                .description("Refresh tokens of erased connections whose revocation at HubSpot is still pending")
                .register(registry);
        Gauge.builder("tokenvault_audit_pending", auditPending, AtomicInteger::doubleValue)
                .description("Audit events queued, not yet written").register(registry);
        Gauge.builder("tokenvault_refresh_pending_writes", refreshWritesPending, AtomicInteger::doubleValue)
                .description("Refresh results carrying a new refresh token that could not be stored yet (database "
                        + "unavailable): kept in memory and written again with backoff")
                .register(registry);
        Gauge.builder("tokenvault_rewrap_failed", rewrapFailed, AtomicInteger::doubleValue)
                .description("1 while the deployment's last rewrap run failed (or stopped without finishing), else 0")
                .register(registry);
        Gauge.builder("tokenvault_key_service_up", keyServiceUp, AtomicInteger::doubleValue)
                .description("1 when the key service answered the last gauge update (current key version), else 0")
                .register(registry);
        refreshTokensLost = Counter.builder("tokenvault_refresh_tokens_lost_total")
                .description("New refresh tokens given up on after tokenvault.refresh.pending-write-retention or "
                        + "beyond tokenvault.refresh.pending-write-limit (their connections will need a re-install)")
                .register(registry);
        for (String outcome : PROXY_OUTCOMES) {
            proxied.put(outcome, Counter.builder("tokenvault_proxy_requests_total")
                    .description("HubSpot API proxy calls by outcome").tag("outcome", outcome).register(registry));
        }
        proxyUpstream = Timer.builder("tokenvault_proxy_upstream_seconds")
                .description("HubSpot's time to answer proxied calls (until its response starts)").register(registry);
        upstream429 = Counter.builder("tokenvault_upstream_429_total")
                .description("HubSpot answers 429 seen by the proxy (its rate budget is then paused)")
                .register(registry);
        hubspotBusy = Counter.builder("tokenvault_hubspot_bulkhead_rejections_total")
                .description("HubSpot OAuth calls not sent because their bulkhead was full for the whole wait")
                .register(registry);
        budgetWait = Timer.builder("tokenvault_rate_budget_wait_seconds")
                .description("How long granted HubSpot rate-budget permits were waited for").register(registry);
        budgetExhausted = Counter.builder("tokenvault_rate_budget_exhausted_total")
                .description("Waits for HubSpot rate-budget permits that ended without one (answered 429)")
                .register(registry);
        budgetPauses = Counter.builder("tokenvault_rate_budget_pauses_total")
                .description("Rate budgets paused after a HubSpot 429").register(registry);
        dataKeys = MultiGauge.builder("tokenvault_data_keys")
                .description("Wrapped data keys (of connections and of pending revocations) by key version")
                .register(registry);
    }

    public void refreshed(String outcome) {
        refreshCounter(outcome).increment();
    }

    public Timer refreshLatency() {
        return refreshLatency;
    }

    /** Data keys opened ahead, in one batch call to the key service (the refresher's page of due connections). */
    public void dataKeysBatchUnwrapped(int keys) {
        dataKeysBatchCalls.increment();
        dataKeysBatchKeys.increment(keys);
    }

    /** A data key was opened: {@code cache} or {@code provider}. */
    public void dataKeyOpened(String source) {
        Counter c = dataKeysOpened.get(source);
        if (c != null) {
            c.increment();
        }
    }

    public void handedOut(String outcome) {
        handoutCounter(outcome).increment();
    }

    public void auditWriteFailed() {
        auditWriteFailures.increment();
    }

    /** The audit trail's queue length: the audit log counts into it, the gauge reads it. */
    public AtomicInteger auditPending() {
        return auditPending;
    }

    public void auditDropped() {
        auditDropped.increment();
    }

    public void auditAnonymousLimited() {
        auditAnonymousLimited.increment();
    }

    public void oauthCallbackLimited() {
        oauthCallbacksLimited.increment();
    }

    /** Refresh results waiting to be written: the pending-write queue counts into it, the gauge reads it. */
    public AtomicInteger refreshWritesPending() {
        return refreshWritesPending;
    }

    public void rewrapFailed(boolean failed) {
        rewrapFailed.set(failed ? 1 : 0);
    }

    public void keyServiceUp(boolean up) {
        keyServiceUp.set(up ? 1 : 0);
    }

    public void refreshTokenLost() {
        refreshTokensLost.increment();
    }

    public void proxied(String outcome) {
        Counter c = proxied.get(outcome);
        if (c != null) {
            c.increment();
        }
    }

    public void proxyUpstream(java.time.Duration d) {
        proxyUpstream.record(d);
    }

    public void upstream429() {
        upstream429.increment();
    }

    public void hubspotBusy() {
        hubspotBusy.increment();
    }

    public void budgetWaited(Duration wait) {
        budgetWait.record(wait);
    }

    public void budgetExhausted() {
        budgetExhausted.increment();
    }

    public void budgetPaused() {
        budgetPauses.increment();
    }

    public void notifyFailed() {
        notifyFailures.increment();
    }

    /** Sets the connection gauges from a fresh count. */
    public void connections(Map<String, Long> byStatus, long dueWithinLeadTime, long expiredAccessTokens) {
        expired.set(expiredAccessTokens);
        STATUSES.forEach(s -> connections.get(s).set(byStatus.getOrDefault(s, 0L)));
        due.set(dueWithinLeadTime);
    }

    /** Sets the static-credential gauges: the oldest token's age and how many are due for rotation. */
    public void staticTokens(long oldestAgeSeconds, long rotationDue) {
        staticTokenAge.set(oldestAgeSeconds);
        staticTokensRotationDue.set(rotationDue);
    }

    /** Sets the outbox and pending-revocation gauges from a fresh count. */
    public void backlogs(long notifications, long revocations) {
        notificationsPending.set(notifications);
        revocationsPending.set(revocations);
    }

    /** Sets the data-key gauge from a fresh count by key version. */
    public void dataKeys(Map<String, Long> byVersion) {
        dataKeys.register(byVersion.entrySet().stream()
                .map(e -> MultiGauge.Row.of(Tags.of("key_version", e.getKey()), e.getValue()))
                .toList(), true);
    }

    private Counter refreshCounter(String outcome) {
        return refresh.computeIfAbsent(outcome, o -> Counter.builder("tokenvault_refresh_total")
                .description("Refresh attempts by outcome").tag("outcome", o).register(registry));
    }

    private Counter handoutCounter(String outcome) {
        return handouts.computeIfAbsent(outcome, o -> Counter.builder("tokenvault_handouts_total")
                .description("Token hand-outs by outcome").tag("outcome", o).register(registry));
    }
}
