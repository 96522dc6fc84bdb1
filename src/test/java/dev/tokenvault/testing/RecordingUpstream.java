package dev.tokenvault.testing;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * An HTTP server that records exactly what reached it (method, raw path and query, every header, the body) and
 * answers like a HubSpot API would, for tests of the proxy's forwarding hygiene:
 * <ul>
 * <li>{@code /status/{code}}: that status with a HubSpot-shaped error body;</li>
 * <li>{@code /stall/{ms}}: answers after that many milliseconds;</li>
 * <li>{@code /bytes/{n}}: n bytes of body, streamed (no Content-Length);</li>
 * <li>{@code /hangup}: closes the connection without an answer;</li>
 * <li>anything else: 200 with a JSON echo of the method, path and body length.</li>
 * </ul>
 * Every answer carries HubSpot's rate-limit headers, a {@code Set-Cookie} and hop-by-hop headers (which the proxy must
 * not pass on), and {@code X-Upstream: yes}.
 * <p>
 * Tests and the application may run in different class loaders, so what was recorded is also readable over HTTP:
 * {@code GET /__recorded} (JSON: method, path, headers, body length, complete) and {@code POST /__clear}.
 */
public final class RecordingUpstream implements AutoCloseable {

    /** One request as it arrived. Header names are lower case. */
    public record Received(String method, String rawPathAndQuery, Map<String, List<String>> headers, byte[] body,
            boolean complete) {
        public String header(String name) {
            List<String> v = headers.get(name.toLowerCase(java.util.Locale.ROOT));
            return v == null || v.isEmpty() ? null : v.get(0);
        }
    }

    private final HttpServer server;
    private final ExecutorService executor;
    private final List<Received> received = new CopyOnWriteArrayList<>();

    private RecordingUpstream(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    public static RecordingUpstream start() {
        try {
            HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            ExecutorService executor = Executors.newCachedThreadPool(r -> {
                Thread t = new Thread(r, "recording-upstream");
                t.setDaemon(true);
                return t;
            });
            RecordingUpstream upstream = new RecordingUpstream(server, executor);
            server.setExecutor(executor);
            server.createContext("/", upstream::handle);
            server.start();
            return upstream;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    public List<Received> received() {
        return List.copyOf(received);
    }

    public void clear() {
        received.clear();
    }

    private void handle(HttpExchange ex) throws IOException {
        if (ex.getRequestURI().getPath().equals("/__recorded")) {
            byte[] json = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsBytes(received.stream()
                    .map(r -> Map.of("method", r.method(), "path", r.rawPathAndQuery(), "headers", r.headers(),
                            "bodyLength", r.body().length, "complete", r.complete()))
                    .toList());
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(200, json.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(json);
            }
            return;
        }
        if (ex.getRequestURI().getPath().equals("/__clear")) {
            received.clear();
            ex.sendResponseHeaders(204, -1);
            ex.close();
            return;
        }
        Map<String, List<String>> headers = new TreeMap<>();
        ex.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(java.util.Locale.ROOT), List.copyOf(v)));
        byte[] body;
        boolean complete = true;
        try {
            body = ex.getRequestBody().readAllBytes();
        } catch (IOException e) {
            body = new byte[0];
            complete = false;
        }
        String raw = ex.getRequestURI().getRawPath()
                + (ex.getRequestURI().getRawQuery() == null ? "" : "?" + ex.getRequestURI().getRawQuery());
        received.add(new Received(ex.getRequestMethod(), raw, headers, body, complete));
        var h = ex.getResponseHeaders();
        h.add("X-HubSpot-RateLimit-Max", "190");
        h.add("X-HubSpot-RateLimit-Remaining", "180");
        h.add("X-HubSpot-RateLimit-Interval-Milliseconds", "10000");
        h.add("Set-Cookie", "__cf_bm=upstream-cookie; path=/");
        h.add("Connection", "X-Hop");
        h.add("X-Hop", "must-not-pass");
        h.add("Keep-Alive", "timeout=5");
        h.add("X-Upstream", "yes");
        String path = ex.getRequestURI().getRawPath();
        if (path.startsWith("/hangup")) {
            ex.close(); // no status line at all: the connection just ends
            return;
        }
        try (OutputStream out = ex.getResponseBody()) {
            if (path.startsWith("/status/")) {
                int status = Integer.parseInt(path.substring("/status/".length()));
                byte[] err = ("{\"status\":\"error\",\"message\":\"upstream said " + status
                        + "\",\"correlationId\":\"c0ffee00-0000-0000-0000-000000000000\",\"category\":\"TEST\"}")
                        .getBytes(StandardCharsets.UTF_8);
                h.add("Content-Type", "application/json;charset=utf-8");
                if (status == 429) {
                    h.add("Retry-After", "3");
                }
                ex.sendResponseHeaders(status, err.length);
                out.write(err);
            } else if (path.startsWith("/stall/")) {
                try {
                    Thread.sleep(Long.parseLong(path.substring("/stall/".length())));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                ex.sendResponseHeaders(200, -1);
            } else if (path.startsWith("/bytes/")) {
                int n = Integer.parseInt(path.substring("/bytes/".length()));
                h.add("Content-Type", "application/octet-stream");
                ex.sendResponseHeaders(200, 0);
                byte[] chunk = new byte[8192];
                for (int i = 0; i < chunk.length; i++) {
                    chunk[i] = (byte) ('a' + i % 26);
                }
                for (int left = n; left > 0; left -= chunk.length) {
                    out.write(chunk, 0, Math.min(left, chunk.length));
                }
            } else {
                byte[] echo = ("{\"method\":\"" + ex.getRequestMethod() + "\",\"path\":\"" + raw.replace("\"", "")
                        + "\",\"bodyLength\":" + body.length + "}").getBytes(StandardCharsets.UTF_8);
                h.add("Content-Type", "application/json;charset=utf-8");
                ex.sendResponseHeaders(ex.getRequestMethod().equals("POST") ? 201 : 200, echo.length);
                out.write(echo);
            }
        } catch (IOException e) {
            // the proxy hung up (a timeout test): nothing to do
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
