package dev.tokenvault.testing;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.net.httpserver.HttpServer;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

/** A receiver of the vault's outgoing notifications: records each delivery, can be told to fail. */
public class NotifyReceiver implements QuarkusTestResourceLifecycleManager {

    public static final String SECRET = "notify-test-secret";

    public record Delivery(String body, String signature, String eventId, int answered) {
    }

    private static HttpServer server;
    private static final List<Delivery> deliveries = new CopyOnWriteArrayList<>();
    private static final AtomicInteger failures = new AtomicInteger();

    public static List<Delivery> deliveries() {
        return deliveries;
    }

    /** The next {@code n} deliveries are answered 503. */
    public static void failNext(int n) {
        failures.set(n);
    }

    @Override
    public Map<String, String> start() {
        try {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/hooks", exchange -> {
            try (InputStream in = exchange.getRequestBody()) {
                String body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                int status = failures.getAndUpdate(n -> Math.max(0, n - 1)) > 0 ? 503 : 204;
                deliveries.add(new Delivery(body, exchange.getRequestHeaders().getFirst("X-Tokenvault-Signature"),
                        exchange.getRequestHeaders().getFirst("X-Tokenvault-Event-Id"), status));
                exchange.sendResponseHeaders(status, -1);
            } finally {
                exchange.close();
            }
        });
        server.start();
        return Map.of("tokenvault.notify.url", "http://127.0.0.1:" + server.getAddress().getPort() + "/hooks",
                "tokenvault.notify.secret", SECRET);
    }

    @Override
    public void stop() {
        if (server != null) {
            server.stop(0);
        }
    }
}
