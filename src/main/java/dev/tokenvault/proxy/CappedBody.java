package dev.tokenvault.proxy;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.streams.ReadStream;

/**
 * The caller's request body as it arrives, passed on to HubSpot chunk by chunk, and cut off (the upload to HubSpot
 * fails, the caller gets 413) once it exceeds the cap: a chunked body is never held in memory whole, and a body that
 * lied about its length cannot pass the cap either.
 */
final class CappedBody implements ReadStream<Buffer> {

    private final HttpServerRequest request;
    private final long cap;
    private long seen;
    private volatile boolean tooLarge;
    private Handler<Throwable> exceptionHandler;
    private Runnable onTooLarge = () -> {
    };

    CappedBody(HttpServerRequest request, long cap) {
        this.request = request;
        this.cap = cap;
    }

    boolean tooLarge() {
        return tooLarge;
    }

    /** What to do once the cap is passed: abort the upload to HubSpot, so it never sees a truncated body as whole. */
    void onTooLarge(Runnable action) {
        this.onTooLarge = action;
    }

    @Override
    public ReadStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
        this.exceptionHandler = handler;
        request.exceptionHandler(handler);
        return this;
    }

    @Override
    public ReadStream<Buffer> handler(Handler<Buffer> handler) {
        if (handler == null) {
            request.handler(null);
            return this;
        }
        request.handler(chunk -> {
            if (tooLarge) {
                return;
            }
            seen += chunk.length();
            if (seen > cap) {
                tooLarge = true;
                request.pause();
                onTooLarge.run();
                if (exceptionHandler != null) {
                    exceptionHandler.handle(new IllegalStateException("request body over the cap"));
                }
                return;
            }
            handler.handle(chunk);
        });
        return this;
    }

    @Override
    public ReadStream<Buffer> pause() {
        request.pause();
        return this;
    }

    @Override
    public ReadStream<Buffer> resume() {
        if (!tooLarge) {
            request.resume();
        }
        return this;
    }

    @Override
    public ReadStream<Buffer> fetch(long amount) {
        if (!tooLarge) {
            request.fetch(amount);
        }
        return this;
    }

    @Override
    public ReadStream<Buffer> endHandler(Handler<Void> endHandler) {
        // a body cut off at the cap never ends normally
        request.endHandler(endHandler == null ? null : v -> {
            if (!tooLarge) {
                endHandler.handle(v);
            }
        });
        return this;
    }
}
