package dev.tokenvault.web;

import java.util.Map;

import jakarta.inject.Singleton;

import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.quarkus.vertx.VertxOptionsCustomizer;
import io.vertx.core.Context;
import io.vertx.core.Handler;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.impl.HttpServerConnection;
import io.vertx.core.spi.tracing.SpanKind;
import io.vertx.core.spi.tracing.TagExtractor;
import io.vertx.core.spi.tracing.VertxTracer;
import io.vertx.core.tracing.TracingOptions;
import io.vertx.core.tracing.TracingPolicy;

/**
 * What the HTTP codec refuses before any route exists for the request (a request line over
 * {@code quarkus.http.limits.max-initial-line-length}: 414; headers over {@code max-header-size}: 431; a request line
 * or header that is not HTTP: 400) is answered with the same {@code application/problem+json} as every other error,
 * logged at DEBUG like every 4xx, and the connection closed; Vert.x would answer with an empty body.
 * <p>
 * Vert.x hands such a request to the server's {@code invalidRequestHandler}, which Quarkus neither sets nor exposes
 * (it creates the {@code HttpServer} inside its own verticle; quarkusio/quarkus#55082). The one place application code
 * sees every HTTP/1 request before Vert.x picks its handler is the tracer SPI: Vert.x reports the request to the tracer
 * as it begins, then chooses between the request handler and the connection's invalid-request handler. This tracer
 * traces nothing; for a request the codec refused it sets the connection's invalid-request handler to ours. Should a
 * Vert.x upgrade change that order, {@code HttpCodecErrorsTest} fails (the bodies are empty again).
 */
@Singleton
public class HttpCodecErrors implements VertxOptionsCustomizer {

    @Override
    public void accept(VertxOptions options) {
        if (options.getTracingOptions() == null) {
            // a real tracer (OpenTelemetry) would take this slot; then it has to delegate to ours
            options.setTracingOptions(new TracingOptions().setFactory(ignored -> TRACER));
        }
    }

    static final VertxTracer<Object, Object> TRACER = new VertxTracer<>() {
        @Override
        public <R> Object receiveRequest(Context context, SpanKind kind, TracingPolicy policy, R request,
                String operation, Iterable<Map.Entry<String, String>> headers, TagExtractor<R> tagExtractor) {
            if (request instanceof HttpServerRequest r && r.decoderResult().isFailure()
                    && r.connection() instanceof HttpServerConnection connection) {
                connection.invalidRequestHandler(PROBLEM);
            }
            return null;
        }
    };

    /** Like Vert.x's {@code HttpServerRequest.DEFAULT_INVALID_REQUEST_HANDLER}, with the problem body. */
    static final Handler<HttpServerRequest> PROBLEM = request -> {
        ProblemMapper.write(request.response().putHeader("Connection", "close"), null, problem(request.decoderResult()));
        request.response().close();
    };

    static ApiException problem(DecoderResult result) {
        Throwable cause = result.cause();
        if (cause instanceof TooLongHttpLineException) {
            return new ApiException(414, "uri-too-long", "URI too long",
                    "the request line is longer than this service takes", null, null, null);
        }
        if (cause instanceof TooLongHttpHeaderException) {
            return new ApiException(431, "headers-too-large", "Request header fields too large",
                    "the request headers are larger than this service takes", null, null, null);
        }
        return ApiException.badRequest("the request is not valid HTTP/1.1");
    }
}
