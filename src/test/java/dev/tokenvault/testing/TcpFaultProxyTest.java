package dev.tokenvault.testing;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Checks {@link TcpFaultProxy} against a tiny line echo server on loopback: forwarding, refusing (and listening again
 * on the same port), silence (connected but never answered, also for connections that were already open), resets, the
 * connection limit and a clean shutdown without leftover threads. Every wait is bounded (at most 2 s).
 */
@Timeout(20)
class TcpFaultProxyTest {

    private static final String LOOPBACK = "127.0.0.1";
    private static final int NO_ANSWER_MS = 500;
    private static final int MAX_WAIT_MS = 2000;

    private final List<Client> clients = new ArrayList<>();
    private EchoServer echo;
    private TcpFaultProxy proxy;

    @BeforeEach
    void start() throws IOException {
        echo = new EchoServer();
        proxy = TcpFaultProxy.start(LOOPBACK, echo.port());
    }

    @AfterEach
    void stop() {
        clients.forEach(Client::close);
        proxy.close();
        echo.close();
    }

    @Test
    void forwardPipesBothWays() throws Exception {
        Client client = connect(proxy);
        assertThat(client.roundTrip("hello")).isEqualTo("hello");
        assertThat(client.roundTrip("second line")).isEqualTo("second line");
        assertThat(proxy.openConnections()).isEqualTo(1);
        assertThat(proxy.acceptedTotal()).isEqualTo(1);

        client.close();
        await(() -> proxy.openConnections() == 0, "the proxy notices the closed connection");
        await(() -> echo.openConnections() == 0, "the close reaches the target");
    }

    @Test
    void refuseRefusesNewConnectionsAndForwardListensAgainOnTheSamePort() throws Exception {
        int port = proxy.port();
        Client open = connect(proxy);
        assertThat(open.roundTrip("before")).isEqualTo("before");

        proxy.refuse();
        assertRefused(port);
        assertThat(open.roundTrip("still there")).as("open connections are left alone").isEqualTo("still there");

        proxy.forward();
        assertThat(proxy.port()).isEqualTo(port);
        assertThat(connect(proxy).roundTrip("after")).isEqualTo("after");

        proxy.refuse(); // and once more: reopening the port is repeatable
        assertRefused(port);
        proxy.forward();
        assertThat(connect(proxy).roundTrip("again")).isEqualTo("again");
        assertThat(proxy.acceptedTotal()).isEqualTo(3);
    }

    @Test
    void silentAcceptsButNeverAnswersAndStallsOpenConnections() throws Exception {
        Client open = connect(proxy);
        assertThat(open.roundTrip("before")).isEqualTo("before");

        proxy.silent();
        Client fresh = connect(proxy); // the connection itself succeeds
        fresh.send("anyone there?");
        open.send("in-flight query");
        fresh.assertNoAnswer();
        open.assertNoAnswer();
        assertThat(proxy.openConnections()).as("silenced connections stay open").isEqualTo(2);
        assertThat(echo.openConnections()).as("a silent accept never reaches the target").isEqualTo(1);

        proxy.forward();
        open.assertDies();
        fresh.assertDies();
        assertThat(connect(proxy).roundTrip("after")).isEqualTo("after");
    }

    @Test
    void silentAfterRefuseListensAgain() throws Exception {
        proxy.refuse();
        proxy.silent();
        Client client = connect(proxy);
        client.send("hello?");
        client.assertNoAnswer();
    }

    @Test
    void resetAbortsEveryOpenConnectionOnBothSidesAndKeepsTheMode() throws Exception {
        Client a = connect(proxy);
        Client b = connect(proxy);
        assertThat(a.roundTrip("a")).isEqualTo("a");
        assertThat(b.roundTrip("b")).isEqualTo("b");
        assertThat(echo.openConnections()).isEqualTo(2);

        proxy.reset();
        assertThat(proxy.openConnections()).isZero();
        a.assertReset();
        b.assertReset();
        await(() -> echo.openConnections() == 0, "the target side is reset too");

        Client c = connect(proxy);
        assertThat(c.roundTrip("still forwarding")).isEqualTo("still forwarding");

        proxy.silent();
        Client s = connect(proxy);
        await(() -> proxy.openConnections() == 2, "the silent connection is accepted");
        proxy.reset();
        c.assertReset();
        s.assertReset();
        Client t = connect(proxy);
        t.send("still silent?");
        t.assertNoAnswer();
    }

    @Test
    void connectionsBeyondTheLimitAreResetAtOnce() throws Exception {
        try (TcpFaultProxy small = TcpFaultProxy.start(LOOPBACK, echo.port(), 2)) {
            Client a = connect(small);
            Client b = connect(small);
            assertThat(a.roundTrip("a")).isEqualTo("a");
            assertThat(b.roundTrip("b")).isEqualTo("b");

            Client c = connect(small);
            c.assertDies();
            assertThat(small.openConnections()).isEqualTo(2);
            assertThat(small.acceptedTotal()).isEqualTo(3);

            a.close();
            await(() -> small.openConnections() == 1, "a closed connection frees its slot");
            assertThat(connect(small).roundTrip("d")).isEqualTo("d");
        }
    }

    @Test
    void aConnectionIsDroppedWhenTheTargetIsDown() throws Exception {
        int deadPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(LOOPBACK))) {
            deadPort = s.getLocalPort();
        }
        try (TcpFaultProxy toNowhere = TcpFaultProxy.start(LOOPBACK, deadPort)) {
            connect(toNowhere).assertDies();
            await(() -> toNowhere.openConnections() == 0, "the failed connection is released");
        }
    }

    @Test
    void closeStopsAcceptingAndLeavesNoThreads() throws Exception {
        int port = proxy.port();
        Client open = connect(proxy);
        assertThat(open.roundTrip("hello")).isEqualTo("hello");

        proxy.close();
        open.assertDies();
        assertRefused(port);
        await(() -> proxyThreads(port).isEmpty(), "no proxy thread survives close(): " + proxyThreads(port));
        assertThat(proxy.openConnections()).isZero();
        assertThatThrownBy(proxy::forward).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(proxy::reset).isInstanceOf(IllegalStateException.class);
        proxy.close(); // idempotent
    }

    @Test
    void closeInSilentOrRefuseModeLeavesNoThreads() throws Exception {
        TcpFaultProxy silent = TcpFaultProxy.start(LOOPBACK, echo.port());
        Client stuck = connect(silent);
        assertThat(stuck.roundTrip("hello")).isEqualTo("hello");
        silent.silent();
        connect(silent);
        await(() -> silent.openConnections() == 2, "both connections are open");
        silent.close();
        stuck.assertDies();

        TcpFaultProxy refusing = TcpFaultProxy.start(LOOPBACK, echo.port());
        refusing.refuse();
        refusing.close();

        await(() -> proxyThreads(silent.port()).isEmpty(), "no thread of the silent proxy survives close()");
        await(() -> proxyThreads(refusing.port()).isEmpty(), "no thread of the refusing proxy survives close()");
    }

    @Test
    void onlyLoopbackTargetsAreAllowed() {
        assertThatThrownBy(() -> TcpFaultProxy.start("192.0.2.1", 5432))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("loopback");
        assertThatThrownBy(() -> TcpFaultProxy.start(LOOPBACK, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    // ------------------------------------------------------------------------------------------ helpers

    private Client connect(TcpFaultProxy target) throws IOException {
        Client client = new Client(new Socket(LOOPBACK, target.port()));
        clients.add(client);
        return client;
    }

    private static void assertRefused(int port) {
        assertThatThrownBy(() -> new Socket(LOOPBACK, port).close()).isInstanceOf(ConnectException.class);
    }

    private static List<String> proxyThreads(int port) {
        String prefix = "tcp-fault-proxy-" + port + "-";
        return Thread.getAllStackTraces().keySet().stream()
                .filter(Thread::isAlive)
                .map(Thread::getName)
                .filter(name -> name.startsWith(prefix))
                .toList();
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(MAX_WAIT_MS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail("not within " + MAX_WAIT_MS + " ms: " + what);
            }
            Thread.sleep(10);
        }
    }

    /** A line-oriented client connection; reads time out after 2 s unless a test says otherwise. */
    private static final class Client implements AutoCloseable {

        private final Socket socket;
        private final BufferedReader in;
        private final Writer out;

        Client(Socket socket) throws IOException {
            this.socket = socket;
            socket.setSoTimeout(MAX_WAIT_MS);
            this.in = new BufferedReader(new InputStreamReader(socket.getInputStream(), UTF_8));
            this.out = new OutputStreamWriter(socket.getOutputStream(), UTF_8);
        }

        void send(String line) throws IOException {
            out.write(line + "\n");
            out.flush();
        }

        String roundTrip(String line) throws IOException {
            send(line);
            return in.readLine();
        }

        void assertNoAnswer() throws IOException {
            socket.setSoTimeout(NO_ANSWER_MS);
            try {
                assertThatThrownBy(in::readLine).isInstanceOf(SocketTimeoutException.class);
            } finally {
                socket.setSoTimeout(MAX_WAIT_MS);
            }
        }

        /** The connection ends within 2 s, by a reset or by an end of stream. */
        void assertDies() {
            try {
                assertThat(in.readLine()).as("end of stream").isNull();
            } catch (SocketTimeoutException e) {
                fail("the connection is still open after " + MAX_WAIT_MS + " ms");
            } catch (IOException e) {
                assertThat(e).isInstanceOf(SocketException.class);
            }
        }

        /** The connection is aborted with a TCP RST within 2 s. */
        void assertReset() {
            assertThatThrownBy(in::readLine).isInstanceOf(SocketException.class).hasMessageContaining("reset");
        }

        @Override
        public void close() {
            try {
                socket.close();
            } catch (IOException e) {
                // already gone
            }
        }
    }

    /** Echoes every line back, one thread per connection; counts its open connections. */
    private static final class EchoServer implements AutoCloseable {

        private final ServerSocket server;
        private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
        private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "echo-server");
            t.setDaemon(true);
            return t;
        });

        EchoServer() throws IOException {
            server = new ServerSocket(0, 50, InetAddress.getByName(LOOPBACK));
            executor.execute(this::acceptLoop);
        }

        int port() {
            return server.getLocalPort();
        }

        int openConnections() {
            return sockets.size();
        }

        private void acceptLoop() {
            while (!server.isClosed()) {
                try {
                    Socket socket = server.accept();
                    sockets.add(socket);
                    executor.execute(() -> echo(socket));
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void echo(Socket socket) {
            try (socket;
                    BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), UTF_8));
                    Writer out = new OutputStreamWriter(socket.getOutputStream(), UTF_8)) {
                String line;
                while ((line = in.readLine()) != null) {
                    out.write(line + "\n");
                    out.flush();
                }
            } catch (IOException e) {
                // reset by the proxy: expected in several tests
            } finally {
                sockets.remove(socket);
            }
        }

        @Override
        public void close() {
            try {
                server.close();
            } catch (IOException e) {
                // nothing to do
            }
            sockets.forEach(s -> {
                try {
                    s.close();
                } catch (IOException e) {
                    // nothing to do
                }
            });
            executor.shutdownNow();
        }
    }
}
