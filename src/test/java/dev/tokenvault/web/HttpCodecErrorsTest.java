package dev.tokenvault.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

import org.junit.jupiter.api.Test;

import dev.tokenvault.testing.Jwts;
import dev.tokenvault.testing.LogCapture;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.vertx.core.json.JsonObject;

/**
 * What the HTTP codec refuses before any route runs (a request line or headers over the limits, a request line that
 * is not HTTP, a chunked body over the limit) is answered with the same {@code application/problem+json} as every other
 * error, and logs no ERROR, no WARN and no stack trace. The requests go over a raw socket: HTTP clients refuse to
 * send most of them.
 */
@QuarkusTest
public class HttpCodecErrorsTest {

    @Test
    void aRequestLineOverTheLimitIs414ProblemJson() throws Exception {
        String request = "GET /v1/whoami?q=" + "a".repeat(8 * 1024) + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
        assertProblem(request.getBytes(StandardCharsets.US_ASCII), 414, "/uri-too-long");
    }

    @Test
    void headersOverTheLimitAre431ProblemJson() throws Exception {
        String request = "GET /v1/whoami HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + "b".repeat(40 * 1024)
                + "\r\n\r\n";
        assertProblem(request.getBytes(StandardCharsets.US_ASCII), 431, "/headers-too-large");
    }

    @Test
    void aMalformedRequestLineIs400ProblemJson() throws Exception {
        // not a version (Netty takes any NAME/digit.digit, e.g. HTTP/9.9, and ignores a line of fewer than three parts)
        assertProblem("GET /v1/whoami HTTP/1.x\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 400,
                "/invalid-request");
        // a header line without a colon
        assertProblem("GET /v1/whoami HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n"
                .getBytes(StandardCharsets.US_ASCII), 400, "/invalid-request");
    }

    @Test
    void aChunkedBodyOverTheLimitIsOne413ProblemJson() throws Exception {
        ByteArrayOutputStream request = new ByteArrayOutputStream();
        request.writeBytes(("PUT /v1/apps/ops/portals/4103/private-app-token HTTP/1.1\r\nHost: localhost\r\n"
                + "Authorization: Bearer " + Jwts.admin() + "\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        // one JSON string that never ends, so that nothing but the size refuses it
        request.writeBytes("a\r\n{\"token\":\"\r\n".getBytes(StandardCharsets.US_ASCII));
        byte[] chunk = "x".repeat(16 * 1024).getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < 8; i++) { // 128 KiB, twice the limit
            request.writeBytes((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            request.writeBytes(chunk);
            request.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        request.writeBytes("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        assertProblem(request.toByteArray(), 413, "/payload-too-large");
    }

    @Test
    void aChunkedBodyWithinTheLimitAndOtherRequestsAreServedAsBefore() throws Exception {
        String token = "pat-na1-" + java.util.UUID.randomUUID();
        dev.tokenvault.testing.FakeHubSpotResource.sim().registerPrivateAppToken(4104, token); // HubSpot knows it
        byte[] body = ("{\"token\":\"" + token + "\"}").getBytes(StandardCharsets.US_ASCII);
        ByteArrayOutputStream request = new ByteArrayOutputStream();
        request.writeBytes(("PUT /v1/apps/ops/portals/4104/private-app-token HTTP/1.1\r\nHost: localhost\r\n"
                + "Authorization: Bearer " + Jwts.admin() + "\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        for (int at = 0; at < body.length; at += 16) { // in several chunks
            int n = Math.min(16, body.length - at);
            request.writeBytes((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            request.write(body, at, n);
            request.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        request.writeBytes("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        Answer put = send(request.toByteArray());
        assertThat(put.status).as(put.raw).isEqualTo(200);
        assertThat(put.body).doesNotContain("pat-na1");

        Answer openapi = send("GET /q/openapi HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                .getBytes(StandardCharsets.US_ASCII));
        assertThat(openapi.status).isEqualTo(200);
    }

    private static void assertProblem(byte[] request, int status, String typeSuffix) throws Exception {
        try (LogCapture log = LogCapture.install()) {
            Answer answer = send(request);
            assertThat(answer.status).as(answer.raw).isEqualTo(status);
            assertThat(answer.header("content-type")).as(answer.raw).isEqualTo(Problem.MEDIA_TYPE);
            assertThat(answer.raw.split("HTTP/1\\.[01] \\d{3} ", -1)).as("exactly one response: %s", answer.raw)
                    .hasSize(2);
            JsonObject body = new JsonObject(answer.body);
            assertThat(body.getString("type")).endsWith(typeSuffix);
            assertThat(body.getString("title")).isNotBlank();
            assertThat(body.getInteger("status")).isEqualTo(status);
            assertThat(body.getString("detail")).isNotBlank();
            // the answer is given, the connection closed; what the server logged about it is in by now
            assertThat(log.all()).doesNotContain("\tat ");
            assertThat(log.lines()).as(log.all())
                    .noneMatch(l -> l.contains(" ERROR") || l.contains(" SEVERE") || l.contains(" WARN"));
            assertThat(log.lines().stream().filter(l -> l.contains(" -> " + status)).count())
                    .as(log.all()).isLessThanOrEqualTo(1);
        }
    }

    public record Answer(int status, String head, String body, String raw) {
        public String header(String name) {
            for (String line : head.split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).trim().toLowerCase(Locale.ROOT).equals(name)) {
                    return line.substring(colon + 1).trim();
                }
            }
            return null;
        }
    }

    /**
     * Writes the bytes as they are and reads one response (its head and Content-Length bytes); then whatever else
     * arrives until the server closes the connection or stays silent for a second.
     */
    public static Answer send(byte[] request) throws IOException {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), RestAssured.port)) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            try {
                out.write(request);
                out.flush();
            } catch (IOException closedEarly) {
                // the server may answer and close before it has read everything; the answer is what counts
            }
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream received = new ByteArrayOutputStream();
            int end = -1;
            int length = -1;
            byte[] buffer = new byte[8192];
            try {
                for (int n; (n = in.read(buffer)) >= 0;) {
                    received.write(buffer, 0, n);
                    String sofar = received.toString(StandardCharsets.ISO_8859_1);
                    if (end < 0 && (end = sofar.indexOf("\r\n\r\n")) > 0) {
                        String length_ = new Answer(0, sofar.substring(0, end), "", sofar).header("content-length");
                        length = length_ == null ? -1 : Integer.parseInt(length_);
                    }
                    if (end > 0 && length >= 0 && received.size() >= end + 4 + length) {
                        socket.setSoTimeout(1000);
                    }
                }
            } catch (java.net.SocketTimeoutException | java.net.SocketException quietOrReset) {
                // silent after the answer, or reset after it: keep what arrived
            }
            String raw = received.toString(StandardCharsets.UTF_8);
            assertThat(end).as("a complete response head in: %s", raw).isPositive();
            String head = raw.substring(0, end);
            int status = Integer.parseInt(head.substring(9, 12));
            return new Answer(status, head, raw.substring(end + 4), raw);
        }
    }
}
