package dev.tokenvault.web;

import java.util.stream.Collectors;

import jakarta.validation.ConstraintViolationException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;

import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;
import org.jboss.resteasy.reactive.server.ServerResponseFilter;

import com.fasterxml.jackson.core.JsonProcessingException;

import dev.tokenvault.crypto.CryptoException;
import dev.tokenvault.crypto.KeyServiceUnavailableException;
import dev.tokenvault.db.DatabaseTimeoutException;
import dev.tokenvault.db.Outages;
import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.ForbiddenException;
import io.quarkus.security.UnauthorizedException;
import io.vertx.core.VertxException;
import io.vertx.pgclient.PgException;

/**
 * The one place that turns failures into {@code application/problem+json}. 5xx are logged at ERROR with their cause,
 * 4xx at DEBUG; no stack trace, token or secret ever reaches the caller.
 */
public class ProblemMapper {

    private static final Logger LOG = Logger.getLogger(ProblemMapper.class);

    @ServerExceptionMapper
    public Response api(ApiException e, UriInfo uri) {
        return respond(e, uri);
    }

    @ServerExceptionMapper({ AuthenticationFailedException.class, UnauthorizedException.class })
    public Response unauthenticated(RuntimeException e, UriInfo uri) {
        return respond(ApiException.unauthenticated(), uri);
    }

    @ServerExceptionMapper
    public Response forbidden(ForbiddenException e, UriInfo uri) {
        return respond(ApiException.forbidden("the caller's groups do not allow this action"), uri);
    }

    @ServerExceptionMapper
    public Response keyService(KeyServiceUnavailableException e, UriInfo uri) {
        return respond(toApiException(e), uri);
    }

    @ServerExceptionMapper
    public Response crypto(CryptoException e, UriInfo uri) {
        return respond(toApiException(e), uri);
    }

    @ServerExceptionMapper
    public Response database(PgException e, UriInfo uri) {
        return respond(toApiException(e), uri);
    }

    @ServerExceptionMapper
    public Response databaseTimeout(DatabaseTimeoutException e, UriInfo uri) {
        return respond(toApiException(e), uri);
    }

    @ServerExceptionMapper
    public Response vertx(VertxException e, UriInfo uri) {
        if (Outages.isDatabaseUnavailable(e)) {
            return respond(toApiException(e), uri);
        }
        return respond(ApiException.unavailable("a backing service is unavailable; retry later",
                java.time.Duration.ofSeconds(5), e), uri);
    }

    /** What the log line says of a database outage: a safe description, no trace. */
    static final class DatabaseOutage extends RuntimeException {
        DatabaseOutage(String description) {
            super(description, null, false, false);
        }
    }

    @ServerExceptionMapper
    public Response validation(ConstraintViolationException e, UriInfo uri) {
        String detail = e.getConstraintViolations().stream()
                .map(v -> lastNode(v.getPropertyPath().toString()) + ": " + v.getMessage())
                .sorted().collect(Collectors.joining("; "));
        return respond(ApiException.badRequest(detail), uri);
    }

    /** Wrong types, a scalar where an object belongs (Quarkus would answer these with its own JSON body). */
    @ServerExceptionMapper
    public Response mismatched(com.fasterxml.jackson.databind.exc.MismatchedInputException e, UriInfo uri) {
        return json(e, uri);
    }

    /** Duplicate keys, truncated or malformed JSON. */
    @ServerExceptionMapper
    public Response unparsable(com.fasterxml.jackson.core.JsonParseException e, UriInfo uri) {
        return json(e, uri);
    }

    @ServerExceptionMapper
    public Response json(JsonProcessingException e, UriInfo uri) {
        return respond(ApiException.badRequest("the request body is not valid JSON of the expected shape"), uri);
    }

    @ServerExceptionMapper
    public Response webApplication(WebApplicationException e, UriInfo uri) {
        int status = e.getResponse().getStatus();
        if (e.getCause() instanceof JsonProcessingException) {
            return json((JsonProcessingException) e.getCause(), uri);
        }
        String title = Response.Status.fromStatusCode(status) == null ? "Error"
                : Response.Status.fromStatusCode(status).getReasonPhrase();
        String detail = switch (status) {
            case 400 -> "the request is malformed";
            case 404 -> "no such resource";
            case 405 -> "method not allowed on this resource";
            case 406 -> "no acceptable representation";
            case 415 -> "unsupported content type";
            default -> title;
        };
        return respond(new ApiException(status, slug(title), title, detail, null, null,
                status >= 500 ? e : null), uri);
    }

    @ServerExceptionMapper(priority = jakarta.ws.rs.Priorities.USER + 1000)
    public Response unexpected(Throwable e, UriInfo uri) {
        return respond(toApiException(e), uri);
    }

    /**
     * Some failures are answered by the REST layer before any mapper runs (e.g. 415 during routing); give those the
     * same problem body.
     */
    @ServerResponseFilter
    public void bodilessErrors(ContainerRequestContext request, ContainerResponseContext response) {
        int status = response.getStatus();
        if (status >= 400 && !response.hasEntity()) {
            Response problem = webApplication(new WebApplicationException(status), request.getUriInfo());
            response.setEntity(problem.getEntity(), null, MediaType.valueOf(Problem.MEDIA_TYPE));
        }
    }

    private static final java.util.concurrent.atomic.AtomicLong last503Logged = new java.util.concurrent.atomic.AtomicLong(
            System.nanoTime() - 2_000_000_000L);
    private static final java.util.concurrent.atomic.AtomicLong unlogged503 = new java.util.concurrent.atomic.AtomicLong();

    static Response respond(ApiException e, UriInfo uri) {
        String path = uri == null ? null : uri.getPath();
        log(e, path);
        Response.ResponseBuilder response = Response.status(e.status())
                .type(Problem.MEDIA_TYPE)
                .entity(new Problem(e.type().toString(), e.title(), e.status(), e.getMessage(), path, e.extensions()));
        if (e.retryAfter() != null) {
            response.header("Retry-After", Math.max(1, e.retryAfter().toSeconds()));
        }
        if (e.status() == 401) {
            response.header("WWW-Authenticate", "Bearer");
        }
        return response.build();
    }

    /**
     * Writes the problem on a Vert.x route (the HubSpot proxy), with the same body, headers and logging as
     * {@link #respond}. Nothing is written when the response has already started.
     */
    public static void write(io.vertx.ext.web.RoutingContext ctx, Throwable failure) {
        write(ctx.response(), ctx.request().path(), failure);
    }

    /**
     * Writes the problem on a bare Vert.x response (what the HTTP codec refused before any route, see
     * {@link HttpCodecErrors}); {@code path} is the problem's {@code instance}, or null when it is not known.
     */
    static void write(io.vertx.core.http.HttpServerResponse response, String path, Throwable failure) {
        ApiException e = toApiException(failure);
        log(e, path);
        if (response.headWritten() || response.ended()) {
            if (!response.ended()) {
                response.reset();
            }
            return;
        }
        response.setStatusCode(e.status()).putHeader("Content-Type", Problem.MEDIA_TYPE);
        if (e.retryAfter() != null) {
            response.putHeader("Retry-After", Long.toString(Math.max(1, e.retryAfter().toSeconds())));
        }
        if (e.status() == 401) {
            response.putHeader("WWW-Authenticate", "Bearer");
        }
        response.end(io.vertx.core.json.Json.encode(new Problem(e.type().toString(), e.title(), e.status(),
                e.getMessage(), path, e.extensions())));
    }

    /**
     * The one translation of a failure into what the caller is answered, for the JAX-RS mappers above and the
     * proxy's Vert.x route: the database unreachable, restarting or silent is 503 with Retry-After (one rate-limited
     * WARN line, see {@link #log}, never a stack trace), so is the key service; anything unknown is a 500.
     */
    static ApiException toApiException(Throwable failure) {
        Throwable e = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                ? failure.getCause()
                : failure;
        if (e instanceof ApiException api) {
            return api;
        }
        if (e instanceof KeyServiceUnavailableException) {
            return ApiException.unavailable("the key service is unavailable; retry later", java.time.Duration.ofSeconds(5),
                    e);
        }
        if (Outages.isDatabaseUnavailable(e)) {
            return ApiException.unavailable("the database is unavailable; retry later", java.time.Duration.ofSeconds(5),
                    new DatabaseOutage(Outages.describe(e)));
        }
        if (e instanceof CryptoException) {
            return new ApiException(500, "secret-unreadable", "Stored secret cannot be opened",
                    "a stored secret of this connection cannot be opened; operators have been told", null, null, e);
        }
        return new ApiException(500, "internal-error", "Internal error", "an unexpected error occurred; it has been logged",
                null, null, e);
    }

    private static void log(ApiException e, String path) {
        // 503, and 502/504 (HubSpot unreachable or slow, through the proxy): an outage, not a bug
        if (e.status() == 503 || e.status() == 502 || e.status() == 504) {
            // a dependency that is down (HubSpot, key service, database, audit backlog): expected and answered with
            // Retry-After. During an outage every request gets one, so: one line, no stack trace, at most one WARN
            // a second (the others at DEBUG), with how many were not logged
            long now = System.nanoTime();
            long last = last503Logged.get();
            if (now - last >= 1_000_000_000L && last503Logged.compareAndSet(last, now)) {
                long skipped = unlogged503.getAndSet(0);
                LOG.warnf("%s -> %d %s%s%s", logSafe(path), e.status(), logSafe(e.getMessage()),
                        e.getCause() == null ? "" : " (" + Redacted.describe(e.getCause()) + ")",
                        skipped == 0 ? "" : " [" + skipped + " more such answers since the last such line]");
            } else {
                unlogged503.incrementAndGet();
                LOG.debugf("%s -> %d %s", logSafe(path), e.status(), logSafe(e.getMessage()));
            }
        } else if (e.status() >= 500) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            LOG.errorf(Redacted.of(cause), "%s -> %d %s: %s", logSafe(path), e.status(), e.title(), logSafe(e.getMessage()));
        } else if (LOG.isDebugEnabled()) {
            LOG.debugf("%s -> %d %s: %s", logSafe(path), e.status(), e.title(), logSafe(e.getMessage()));
        }
    }

    private static String slug(String title) {
        return title.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9]+", "-");
    }

    /** Paths and messages carry whatever the caller sent: no control characters (forged log lines) in logs. */
    static String logSafe(String text) {
        return text == null ? null : CONTROL.matcher(text).replaceAll("?");
    }

    private static final java.util.regex.Pattern CONTROL = java.util.regex.Pattern.compile("\\p{Cntrl}");

    private static String lastNode(String path) {
        int dot = path.lastIndexOf('.');
        return dot < 0 ? path : path.substring(dot + 1);
    }
}
