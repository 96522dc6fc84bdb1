package dev.tokenvault.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.InstantSource;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import dev.tokenvault.sandbox.HubSpotSimulator;
import dev.tokenvault.sandbox.HubSpotSimulator.SimRequest;
import dev.tokenvault.sandbox.HubSpotSimulator.SimResponse;

/**
 * Thin HTTP adapter: a JDK {@link HttpServer} on 127.0.0.1 (ephemeral port) that hands every request to one
 * {@link HubSpotSimulator}. All behaviour lives in the simulator; point the HubSpot client's API base URL and the
 * authorize URL at {@link #baseUrl()} ({@code baseUrl() + "/oauth/v1/token"}, {@code baseUrl() + "/oauth/authorize"}).
 */
public final class FakeHubSpot implements AutoCloseable {

    private final HttpServer server;
    private final ExecutorService executor;
    private final HubSpotSimulator sim;

    private FakeHubSpot(HttpServer server, ExecutorService executor, HubSpotSimulator sim) {
        this.server = server;
        this.executor = executor;
        this.sim = sim;
    }

    /** Starts a fake with a fresh simulator on the system clock. */
    public static FakeHubSpot start() {
        return start(new HubSpotSimulator());
    }

    /** Starts a fake with a fresh simulator on the given clock. */
    public static FakeHubSpot start(InstantSource clock) {
        return start(new HubSpotSimulator(clock));
    }

    /** Starts a fake serving the given simulator. */
    public static FakeHubSpot start(HubSpotSimulator sim) {
        try {
            HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            AtomicInteger n = new AtomicInteger();
            // Cached pool: an injected stall must not block other requests.
            ExecutorService executor = Executors.newCachedThreadPool(r -> {
                Thread t = new Thread(r, "fake-hubspot-" + n.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
            server.setExecutor(executor);
            server.createContext("/", exchange -> serve(sim, exchange));
            server.start();
            return new FakeHubSpot(server, executor, sim);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void serve(HubSpotSimulator sim, HttpExchange exchange) throws IOException {
        try {
            SimResponse response;
            try (InputStream in = exchange.getRequestBody()) {
                SimRequest request = new SimRequest(exchange.getRequestMethod(), exchange.getRequestURI().getRawPath(),
                        HubSpotSimulator.parseQuery(exchange.getRequestURI().getRawQuery()), exchange.getRequestHeaders(),
                        in.readAllBytes());
                response = sim.handle(request);
            } catch (RuntimeException e) {
                byte[] b = ("{\"status\":\"error\",\"message\":\"fake server error\"}").getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().set("Content-Type", "application/json");
                exchange.sendResponseHeaders(500, b.length);
                exchange.getResponseBody().write(b);
                return;
            }
            response.headers().forEach((k, v) -> exchange.getResponseHeaders().set(k, v));
            byte[] body = response.body();
            boolean noBody = body.length == 0 || response.status() == 204 || response.status() == 304
                    || exchange.getRequestMethod().equalsIgnoreCase("HEAD");
            exchange.sendResponseHeaders(response.status(), noBody ? -1 : body.length);
            if (!noBody) {
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        } finally {
            exchange.close();
        }
    }

    /** {@code http://127.0.0.1:<port>} - the simulated API root (no trailing slash). */
    public String baseUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public HubSpotSimulator sim() {
        return sim;
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
