package dev.tokenvault.proxy;

import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import org.jboss.logging.Logger;

import dev.tokenvault.audit.AuditLog;
import dev.tokenvault.budget.BudgetExhaustedException;
import dev.tokenvault.budget.BudgetKind;
import dev.tokenvault.budget.RateBudgets;
import dev.tokenvault.callers.Caller;
import dev.tokenvault.callers.RouteCallers;
import dev.tokenvault.config.Apps;
import dev.tokenvault.config.TokenVaultConfig;
import dev.tokenvault.metrics.Metrics;
import dev.tokenvault.token.TokenService;
import dev.tokenvault.web.ApiException;
import dev.tokenvault.web.Params;
import dev.tokenvault.web.ProblemMapper;
import io.vertx.core.Context;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.RequestOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/**
 * The HubSpot API proxy: {@code {GET,POST,PUT,PATCH,DELETE} /v1/apps/{app}/portals/{portalId}/hubspot/{path}} is
 * sent to {@code {api-base-url}/{path}?{query}} with the portal's access token, so callers never hold it.
 * <p>
 * In order: the caller's JWT and group {@code hubspot.proxy} for the portal (401/403, audited); the app (404); the
 * path ({@link ProxyPath}: 400/403); the method (405) and declared body size (413); a token valid for
 * {@code tokenvault.proxy.min-validity} from the same cache and single-flight refresh as hand-outs (404/409/503); a
 * permit of the portal's deployment-wide rate budget ({@link RateBudgets}, waiting up to
 * {@code tokenvault.proxy.max-wait}, then 429 {@code rate-budget-exhausted}). Then the request is streamed to
 * HubSpot with only an allow-list of headers and the portal's token, and HubSpot's status, headers (minus
 * {@code Set-Cookie} and hop-by-hop ones) and body are streamed back as they are; HubSpot's 401s included, never
 * retried. HubSpot's rate-limit headers correct the budget; its 429 pauses it. HubSpot unreachable: 502; no answer
 * within {@code tokenvault.proxy.timeout}: 504.
 * <p>
 * A Vert.x route rather than a JAX-RS resource, so that bodies stream both ways (up to
 * {@code tokenvault.proxy.max-body-size}) instead of being buffered, and so that the path is checked as it was sent,
 * before any normalisation.
 */
@ApplicationScoped
public class HubSpotProxy {

    private static final Logger LOG = Logger.getLogger(HubSpotProxy.class);
    /** The raw request path, before Vert.x normalises it. */
    private static final Pattern ROUTE = Pattern.compile("^/v1/apps/([^/]*)/portals/([^/]*)/hubspot(/.*)?$");
    static final Set<HttpMethod> METHODS = Set.of(HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH,
            HttpMethod.DELETE);
    /** The only request headers that go to HubSpot (besides the portal's Authorization, set here). */
    static final Set<String> FORWARDED_REQUEST_HEADERS = Set.of("accept", "accept-encoding", "accept-language",
            "content-type", "content-encoding", "content-length", "idempotency-key", "if-match", "if-none-match",
            "if-modified-since", "if-unmodified-since");
    /** Never copied back from HubSpot. */
    static final Set<String> DROPPED_RESPONSE_HEADERS = Set.of("set-cookie", "set-cookie2", "connection", "keep-alive",
            "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer", "trailers",
            "transfer-encoding", "upgrade");

    private final RouteCallers callers;
    private final Apps apps;
    private final TokenService tokens;
    private final RateBudgets budgets;
    private final AuditLog audit;
    private final Metrics metrics;
    private final TokenVaultConfig.Proxy config;
    private final URI base;
    private final Vertx vertx;
    private final java.time.InstantSource clock;
    private volatile HttpClient client;
    /**
     * The rate-limit shape HubSpot last reported per budget (app/portal/kind → max, interval): a HubSpot answer that
     * says the same again, with a plausible remainder, needs no database write (one locking transaction less per call).
     */
    private final java.util.Map<String, long[]> reported = new java.util.concurrent.ConcurrentHashMap<>();

    HubSpotProxy(RouteCallers callers, Apps apps, TokenService tokens, RateBudgets budgets, AuditLog audit,
            Metrics metrics, TokenVaultConfig config, Vertx vertx, java.time.InstantSource clock) {
        this.clock = clock;
        this.callers = callers;
        this.apps = apps;
        this.tokens = tokens;
        this.budgets = budgets;
        this.audit = audit;
        this.metrics = metrics;
        this.config = config.proxy();
        this.base = config.hubspot().apiBaseUrl();
        this.vertx = vertx;
    }

    void routes(@Observes Router router) {
        // before every other route, on the raw path: a path that normalises elsewhere must be refused, not moved
        router.route().order(-100).handler(this::route);
    }

    private HttpClient client() {
        HttpClient c = client;
        if (c == null) {
            synchronized (this) {
                if (client == null) {
                    boolean tls = "https".equalsIgnoreCase(base.getScheme());
                    client = vertx.createHttpClient(new HttpClientOptions().setSsl(tls).setVerifyHost(tls)
                            .setMaxPoolSize(config.maxConnections()).setKeepAlive(true).setTcpNoDelay(true)
                            // calls waiting for a connection are bounded, in number and in time (RequestOptions)
                            .setMaxWaitQueueSize(config.maxConnections() * 4)
                            .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, Duration.ofSeconds(10).toMillis()))
                            .setIdleTimeout(60).setDecompressionSupported(false));
                }
                c = client;
            }
        }
        return c;
    }

    private void route(RoutingContext ctx) {
        String path = ctx.request().path();
        if (path == null || !path.startsWith("/v1/apps/") || !path.contains("/hubspot")) {
            ctx.next();
            return;
        }
        Matcher m = ROUTE.matcher(path);
        if (!m.matches()) {
            ctx.next();
            return;
        }
        HttpServerRequest req = ctx.request();
        req.pause();
        Call call = new Call(ctx, m.group(1), m.group(3) == null ? "" : m.group(3));
        try {
            long portalId = Params.portalId(m.group(2));
            call.portalId = portalId;
            callers.require(req.getHeader("Authorization"), call.app, portalId, Caller.PROXY)
                    .subscribe().with(caller -> {
                        call.caller = caller;
                        authorized(call);
                    }, e -> call.fail(e));
        } catch (RuntimeException e) {
            call.fail(e);
        }
    }

    private void authorized(Call call) {
        HttpServerRequest req = call.ctx.request();
        try {
            TokenVaultConfig.App app = apps.require(call.app);
            call.target = ProxyPath.of(req.method().name(), call.rest, req.query(), app.appProxy().allowedPaths());
            if (!METHODS.contains(req.method())) {
                call.ctx.response().putHeader("Allow", "GET, POST, PUT, PATCH, DELETE");
                throw new ApiException(405, "method-not-allowed", "Method not allowed",
                        "the proxy forwards GET, POST, PUT, PATCH and DELETE", null, null, null);
            }
            String length = req.getHeader("Content-Length");
            if (length != null) {
                long declared;
                try {
                    declared = Long.parseLong(length.trim());
                } catch (NumberFormatException e) {
                    throw ApiException.badRequest("Content-Length is not a number");
                }
                if (declared > config.maxBodySize().asLongValue()) {
                    throw tooLarge();
                }
            }
        } catch (RuntimeException e) {
            call.fail(e);
            return;
        }
        tokens.handOut(call.app, call.portalId, (int) Math.min(3600, config.minValidity().toSeconds()))
                .chain(handOut -> {
                    call.token = handOut.token().accessToken();
                    return budgets.acquire(call.app, call.portalId, call.target.budget(), 1, config.maxWait());
                })
                .subscribe().with(grant -> {
                    call.grant = grant;
                    // the grant may complete on another event loop (the database's): make the upstream call on the
                    // caller's context, so HubSpot's answer is read where it is relayed, in order
                    if (call.context == null || call.context == Vertx.currentContext()) {
                        forward(call);
                    } else {
                        call.context.runOnContext(v -> forward(call));
                    }
                }, e -> {
                    if (e instanceof BudgetExhaustedException b) {
                        call.outcome = "rate_limited";
                        call.fail(ApiException.tooManyRequests("rate-budget-exhausted", "Rate budget exhausted",
                                "no permit of this portal's HubSpot rate budget within " + config.maxWait().toMillis()
                                        + " ms; retry after the Retry-After delay",
                                b.retryAfter()));
                    } else {
                        call.fail(e);
                    }
                });
    }

    private void forward(Call call) {
        HttpServerRequest req = call.ctx.request();
        // host, port and the request URI as the caller wrote it: an absolute URI would be parsed and encoded again
        boolean tls = "https".equalsIgnoreCase(base.getScheme());
        int port = base.getPort() > 0 ? base.getPort() : tls ? 443 : 80;
        String basePath = base.getRawPath() == null ? "" : base.getRawPath().replaceAll("/+$", "");
        RequestOptions options = new RequestOptions().setMethod(req.method()).setHost(base.getHost()).setPort(port)
                .setSsl(tls).setURI(basePath + call.target.pathAndQuery()).setIdleTimeout(config.timeout().toMillis())
                // a connection from the pool (or a new one) within 5 s, else 503: a pool held by slow calls of one
                // portal must not hold every other portal's calls indefinitely
                .setConnectTimeout(5_000);
        MultiMap headers = MultiMap.caseInsensitiveMultiMap();
        for (var h : req.headers()) {
            if (FORWARDED_REQUEST_HEADERS.contains(h.getKey().toLowerCase(Locale.ROOT))) {
                if (h.getValue().chars().anyMatch(c -> c < 0x20 && c != '\t' || c == 0x7f)) {
                    call.fail(ApiException.badRequest("header " + h.getKey() + " holds a control character"));
                    return;
                }
                headers.add(h.getKey(), h.getValue());
            }
        }
        headers.set("Authorization", "Bearer " + call.token);
        headers.set("User-Agent", "tokenvault-proxy");
        options.setHeaders(headers);
        long start = System.nanoTime();
        CappedBody body = new CappedBody(req, config.maxBodySize().asLongValue());
        client().request(options)
                .compose(upstream -> {
                    if (!headers.contains("Content-Length") && hasBody(req)) {
                        upstream.setChunked(true);
                    }
                    body.onTooLarge(() -> upstream.reset());
                    // the caller went away: stop the call to HubSpot at once, do not hold a connection for its timeout
                    call.ctx.response().closeHandler(v -> {
                        if (!call.ctx.response().ended()) {
                            call.gone = true;
                            upstream.reset();
                        }
                    });
                    return upstream.send(body).map(response -> {
                        // hold HubSpot's answer until the relay pipes it: a short answer must not end unread
                        response.pause();
                        return response;
                    });
                })
                .onSuccess(upstream -> {
                    metrics.proxyUpstream(Duration.ofNanos(System.nanoTime() - start));
                    learn(call, upstream);
                    relay(call, upstream);
                })
                .onFailure(e -> {
                    metrics.proxyUpstream(Duration.ofNanos(System.nanoTime() - start));
                    if (call.gone) {
                        call.outcome = "cancelled";
                        LOG.debugf("proxied call to %s/%d cancelled: the caller went away", call.app, call.portalId);
                        call.done(499);
                    } else if (body.tooLarge()) {
                        call.fail(tooLarge());
                    } else if (e instanceof io.vertx.core.http.ConnectionPoolTooBusyException || e.getMessage() != null
                            && e.getMessage().contains("getting a connection")) {
                        call.outcome = "unavailable";
                        call.fail(ApiException.unavailable("too many proxied HubSpot calls in flight in this replica "
                                + "(tokenvault.proxy.max-connections); retry shortly", Duration.ofSeconds(1), null));
                    } else if (isTimeout(e)) {
                        call.outcome = "timeout";
                        call.fail(new ApiException(504, "hubspot-timeout", "HubSpot did not answer in time",
                                "HubSpot did not answer within " + config.timeout().toSeconds() + " s", null, null,
                                null));
                    } else {
                        call.outcome = "unreachable";
                        call.fail(new ApiException(502, "hubspot-unreachable", "HubSpot is unreachable",
                                "the call could not be sent to HubSpot (" + e.getClass().getSimpleName() + ")", null,
                                null, null));
                    }
                });
    }

    /** A body without a declared length follows (HTTP/1.1 chunked, or HTTP/2 without content-length). */
    private static boolean hasBody(HttpServerRequest req) {
        String te = req.getHeader("Transfer-Encoding");
        return te != null && te.toLowerCase(Locale.ROOT).contains("chunked")
                || req.version() == io.vertx.core.http.HttpVersion.HTTP_2 && !req.isEnded();
    }

    private static boolean isTimeout(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof java.util.concurrent.TimeoutException || t.getClass().getSimpleName().contains("Timeout")) {
                return true;
            }
        }
        return false;
    }

    private ApiException tooLarge() {
        return new ApiException(413, "payload-too-large", "Request body too large", "the proxy takes bodies of at most "
                + config.maxBodySize().asLongValue() + " bytes (tokenvault.proxy.max-body-size)", null, null, null);
    }

    /** HubSpot's rate-limit headers correct the budget; its 429 pauses it. */
    private void learn(Call call, HttpClientResponse upstream) {
        OptionalInt max = intHeader(upstream, "X-HubSpot-RateLimit-Max");
        OptionalInt remaining = intHeader(upstream, "X-HubSpot-RateLimit-Remaining");
        OptionalLong interval = longHeader(upstream, "X-HubSpot-RateLimit-Interval-Milliseconds");
        BudgetKind kind = call.target.budget();
        if ((max.isPresent() || remaining.isPresent() || interval.isPresent()) && news(call, max, remaining, interval)) {
            budgets.observe(call.app, call.portalId, kind, max, remaining, interval).subscribe().with(x -> {
            }, e -> LOG.debugf("rate budget of %s/%d not corrected: %s", call.app, call.portalId,
                    e.getClass().getSimpleName()));
        }
        if (upstream.statusCode() == 429) {
            metrics.upstream429();
            Instant until = pauseUntil(upstream, clock.instant());
            budgets.pause(call.app, call.portalId, kind, until).subscribe().with(x -> {
            }, e -> LOG.debugf("rate budget of %s/%d not paused: %s", call.app, call.portalId,
                    e.getClass().getSimpleName()));
            LOG.warnf("HubSpot answered 429 for %s/%d (%s); its rate budget is paused until %s", call.app,
                    call.portalId, upstream.getHeader("X-HubSpot-RateLimit-Policy") == null ? "rolling window"
                            : upstream.getHeader("X-HubSpot-RateLimit-Policy"),
                    until);
        }
    }

    /**
     * Whether HubSpot's headers tell the budget anything new: another limit or interval than last reported, or fewer
     * calls remaining than this call's grant left (by more than a tenth of the limit: calls made outside the vault).
     */
    private boolean news(Call call, OptionalInt max, OptionalInt remaining, OptionalLong interval) {
        String key = call.app + "/" + call.portalId + "/" + call.target.budget();
        long[] shape = { max.isPresent() ? max.getAsInt() : -1, interval.isPresent() ? interval.getAsLong() : -1 };
        long[] before = reported.put(key, shape);
        if (reported.size() > 100_000) {
            reported.clear(); // a bound, not a cache policy: the next answers repopulate it
        }
        if (before == null || before[0] != shape[0] || before[1] != shape[1]) {
            return true;
        }
        if (remaining.isEmpty() || call.grant == null || max.isEmpty()) {
            return false;
        }
        return remaining.getAsInt() < call.grant.remaining() - Math.max(1, max.getAsInt() / 10);
    }

    /** {@code Retry-After}, or for a daily policy the next midnight (UTC: the account's time zone is unknown). */
    static Instant pauseUntil(HttpClientResponse upstream, Instant now) {
        String retry = upstream.getHeader("Retry-After");
        if (retry != null) {
            try {
                return now.plusSeconds(Math.max(1, Math.min(86_400, Long.parseLong(retry.trim()))));
            } catch (NumberFormatException ignored) {
                // an HTTP date or garbage: fall through
            }
        }
        String daily = upstream.getHeader("X-HubSpot-RateLimit-Daily-Remaining");
        if ("0".equals(daily == null ? null : daily.trim())) {
            return now.atZone(ZoneOffset.UTC).toLocalDate().plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
        }
        return now.plusSeconds(1);
    }

    private void relay(Call call, HttpClientResponse upstream) {
        HttpServerResponse response = call.ctx.response();
        int status = upstream.statusCode();
        response.setStatusCode(status);
        if (upstream.statusMessage() != null) {
            response.setStatusMessage(upstream.statusMessage());
        }
        Set<String> dropped = new java.util.HashSet<>(DROPPED_RESPONSE_HEADERS);
        String connection = upstream.getHeader("Connection");
        if (connection != null) {
            for (String token : connection.split(",")) {
                dropped.add(token.trim().toLowerCase(Locale.ROOT));
            }
        }
        upstream.headers().forEach(h -> {
            String name = h.getKey().toLowerCase(Locale.ROOT);
            if (!dropped.contains(name) && !name.startsWith("access-control-")) {
                response.headers().add(h.getKey(), h.getValue());
            }
        });
        if (upstream.getHeader("Content-Length") == null) {
            response.setChunked(true);
        }
        call.outcome = status == 429 ? "upstream_429"
                : status >= 500 ? "upstream_5xx"
                        : status >= 400 ? "upstream_4xx"
                                : "ok";
        upstream.pipeTo(response).onComplete(ar -> {
            if (ar.failed()) {
                upstream.request().reset(); // the caller went away mid-answer
                call.outcome = "cancelled";
            }
            call.done(ar.succeeded() ? status : 499);
        });
    }

    private static OptionalInt intHeader(HttpClientResponse r, String name) {
        OptionalLong v = longHeader(r, name);
        return v.isPresent() && v.getAsLong() <= Integer.MAX_VALUE ? OptionalInt.of((int) v.getAsLong())
                : OptionalInt.empty();
    }

    private static OptionalLong longHeader(HttpClientResponse r, String name) {
        String v = r.getHeader(name);
        if (v == null) {
            return OptionalLong.empty();
        }
        try {
            long n = Long.parseLong(v.trim());
            return n < 0 ? OptionalLong.empty() : OptionalLong.of(n);
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    /** One proxied call, for its audit record and metrics. */
    private final class Call {
        final RoutingContext ctx;
        /** The caller's request context: the call to HubSpot is made, and its answer read, on it. */
        final Context context = Vertx.currentContext();
        final String app;
        final String rest;
        long portalId;
        Caller caller;
        ProxyPath target;
        String token;
        dev.tokenvault.budget.Grant grant;
        volatile boolean gone;
        String outcome = "refused";

        Call(RoutingContext ctx, String app, String rest) {
            this.ctx = ctx;
            this.app = app;
            this.rest = rest;
        }

        void fail(Throwable e) {
            if ("refused".equals(outcome) && !(e instanceof ApiException a && a.status() < 500)) {
                outcome = "unavailable";
            }
            if (!ctx.request().isEnded() && !ctx.response().headWritten()
                    && ctx.request().version() != io.vertx.core.http.HttpVersion.HTTP_2) {
                // the body was not read: do not keep a connection whose next bytes are that body
                ctx.response().putHeader("Connection", "close");
            }
            ProblemMapper.write(ctx, e);
            done(ctx.response().getStatusCode());
        }

        /** Audited per caller, portal, method and status; never bodies, query values or tokens. */
        void done(int status) {
            metrics.proxied(outcome);
            if (caller != null) {
                audit.record(caller.sub(), app, portalId, "hubspot.proxy", Integer.toString(status),
                        ctx.request().method().name() + " " + ProxyPath.firstSegments(
                                target != null ? target.path() : rest.isEmpty() ? "/" : rest));
            }
        }
    }
}
