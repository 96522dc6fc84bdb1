package dev.tokenvault.web;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import io.vertx.ext.web.Router;

/**
 * Errors answered by the HTTP layer before any resource runs get the same {@code application/problem+json} body as
 * every other error, and no stack trace in the log: a body over {@code quarkus.http.limits.max-body-size} (413, also
 * when it arrives chunked), and whatever else the router fails with before routing (400, 404, 405, 500). What the HTTP
 * codec refuses before there is a route (414, 431, 400) is {@link HttpCodecErrors}'.
 */
@ApplicationScoped
public class HttpErrorRoutes {

    /** The JSON API's body limit; the HubSpot proxy has its own (tokenvault.proxy.max-body-size). */
    private final long maxBodySize = org.eclipse.microprofile.config.ConfigProvider.getConfig()
            .getOptionalValue("quarkus.http.limits.max-body-size", io.quarkus.runtime.configuration.MemorySize.class)
            .map(io.quarkus.runtime.configuration.MemorySize::asLongValue).orElse(Long.MAX_VALUE);

    /** Bodies without a Content-Length, buffered up to the limit (a resource would read them whole anyway). */
    private final io.vertx.ext.web.handler.BodyHandler chunkedBodies = io.vertx.ext.web.handler.BodyHandler.create(false)
            .setBodyLimit(maxBodySize);

    void routes(@Observes Router router) {
        // a declared body over the limit is refused before anything reads it, with the problem body (the HTTP layer's
        // own 413 has none); the proxy's route comes first and applies its own cap
        router.route().order(-90).handler(ctx -> {
            String length = ctx.request().getHeader("Content-Length");
            if (length != null && length.length() < 19 && length.chars().allMatch(c -> c >= '0' && c <= '9')
                    && Long.parseLong(length) > maxBodySize) {
                ctx.request().pause();
                ctx.response().putHeader("Connection", "close");
                ProblemMapper.write(ctx, tooLarge());
                return;
            }
            if (length == null && ctx.request().headers().contains("Transfer-Encoding")) {
                // a body of unknown length is read here, up to the limit, before a resource reads it: over the limit
                // it fails the route with 413 (answered below) instead of REST's own reader answering an empty 413
                // and failing the resource with an IOException (an ERROR with a stack trace)
                chunkedBodies.handle(ctx);
                return;
            }
            ctx.next();
        }).failureHandler(ctx -> {
            // the chunked body over the limit (BodyHandler fails the route with 413, which Quarkus' failure handler
            // would answer with an empty body); what is left of it is not read: the connection is closed
            if (ctx.statusCode() == 413 && ctx.failure() == null) {
                ctx.response().putHeader("Connection", "close");
                ProblemMapper.write(ctx, tooLarge());
                return;
            }
            ctx.next();
        });
        router.errorHandler(413, ctx -> ProblemMapper.write(ctx, tooLarge()));
        router.errorHandler(400, ctx -> ProblemMapper.write(ctx, ctx.failure() instanceof ApiException a ? a
                : ApiException.badRequest("the request is malformed")));
    }

    private ApiException tooLarge() {
        return new ApiException(413, "payload-too-large", "Request body too large",
                "the request body is larger than this endpoint takes (" + maxBodySize + " bytes)", null, null, null);
    }
}
