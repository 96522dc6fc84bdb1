package dev.tokenvault.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.UnknownHostException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small TCP proxy for tests that simulates outages of whatever sits behind it (typically the real PostgreSQL): the
 * service under test is pointed at {@code 127.0.0.1:}{@link #port()} instead of the database, and the test switches
 * the proxy between modes to make the database disappear, hang or drop connections.
 * <p>
 * Modes (switchable at any time, from any thread; the switch has taken effect when the method returns):
 * <ul>
 * <li>{@link #forward()} (the initial mode): every accepted connection is piped both ways to the target. End of stream
 * is passed on as a half-close, a reset or error on one side resets the other side.</li>
 * <li>{@link #refuse()}: the listening socket is closed, so new connection attempts fail at once with "connection
 * refused" ({@link java.net.ConnectException}). Connections that are already open keep forwarding (combine with
 * {@link #reset()} to simulate a crashed server). When the proxy leaves this mode it listens again on the <em>same</em>
 * port (SO_REUSEADDR, retried for up to 2 s).</li>
 * <li>{@link #silent()}: a network partition or a stuck failover. New connections are accepted but never forwarded or
 * answered: what the client sends is read and discarded, the socket stays open. Connections that are already open stop
 * forwarding in both directions (bytes are read and dropped on both sides) without being closed, so an in-flight query
 * never gets an answer and the client only notices through its own timeouts. Bytes that were being written at the very
 * moment of the switch may still get through.</li>
 * </ul>
 * <b>Leaving silent mode</b> (for any other mode) resets (TCP RST) every connection that was silenced, because bytes
 * have been dropped and its stream cannot be resumed: the client sees the connection die ("Connection reset") and
 * reconnects, as after a real partition. Connections opened after the switch behave according to the new mode.
 * <p>
 * {@link #reset()} is a one-shot action that aborts every open connection with a TCP RST on both sides (client and
 * target) without changing the mode. {@link #close()} stops the proxy: it stops listening, aborts all connections and
 * ends its threads (daemon threads named {@code tcp-fault-proxy-<port>-<n>}).
 * <p>
 * The proxy only listens on 127.0.0.1 and only connects to loopback targets. At most 1000 connections are open at a
 * time; beyond that, newly accepted connections are reset immediately. Each forwarded connection uses two threads.
 *
 * <pre>{@code
 * try (TcpFaultProxy proxy = TcpFaultProxy.start("127.0.0.1", postgresPort)) {
 *     String url = "jdbc:postgresql://127.0.0.1:" + proxy.port() + "/tokenvault";
 *     ...
 *     proxy.silent(); // queries hang
 *     proxy.forward(); // silenced connections are reset, new ones work again
 * }
 * }</pre>
 */
public final class TcpFaultProxy implements AutoCloseable {

    static final int DEFAULT_MAX_CONNECTIONS = 1000;

    private static final InetAddress LISTEN_ADDRESS = ipv4Loopback();
    private static final int BACKLOG = 128;
    private static final int BUFFER_SIZE = 16 * 1024;
    private static final int CONNECT_TIMEOUT_MS = 2000;
    private static final long REBIND_TIMEOUT_MS = 2000;
    private static final long REBIND_PAUSE_MS = 20;
    private static final long SHUTDOWN_TIMEOUT_MS = 2000;
    private static final long UNBLOCK_TIMEOUT_MS = 2000;

    private enum Mode {
        FORWARD,
        REFUSE,
        SILENT
    }

    private final Object lock = new Object();
    private final InetSocketAddress target;
    private final int maxConnections;
    private final int port;
    private final ExecutorService executor;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicLong acceptedTotal = new AtomicLong();

    // guarded by lock
    private Mode mode = Mode.FORWARD;
    private ServerSocket listener; // null while refusing and after close()
    private ServerSocket accepting; // the listener the accept thread is blocked on, if any
    private boolean closed;

    private TcpFaultProxy(InetSocketAddress target, int maxConnections) throws IOException {
        this.target = target;
        this.maxConnections = maxConnections;
        this.listener = bind(0);
        this.port = listener.getLocalPort();
        String prefix = "tcp-fault-proxy-" + port + "-";
        AtomicInteger n = new AtomicInteger();
        this.executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        executor.execute(this::acceptLoop);
    }

    /**
     * Starts a proxy in forward mode that listens on 127.0.0.1 (an ephemeral port, see {@link #port()}) and forwards to
     * {@code targetHost:targetPort}, which must be a loopback address.
     *
     * @throws IllegalArgumentException if the target is not a loopback address or the port is out of range
     * @throws UncheckedIOException if the proxy cannot listen
     */
    public static TcpFaultProxy start(String targetHost, int targetPort) {
        return start(targetHost, targetPort, DEFAULT_MAX_CONNECTIONS);
    }

    /** Like {@link #start(String, int)}, with a different limit of concurrently open connections. */
    static TcpFaultProxy start(String targetHost, int targetPort, int maxConnections) {
        if (targetHost == null || targetHost.isBlank()) {
            throw new IllegalArgumentException("targetHost is required");
        }
        if (targetPort < 1 || targetPort > 65535) {
            throw new IllegalArgumentException("targetPort out of range: " + targetPort);
        }
        if (maxConnections < 1) {
            throw new IllegalArgumentException("maxConnections must be positive: " + maxConnections);
        }
        InetAddress address;
        try {
            address = InetAddress.getByName(targetHost);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("unknown target host: " + targetHost, e);
        }
        if (!address.isLoopbackAddress()) {
            throw new IllegalArgumentException(
                    "only loopback targets are allowed: " + targetHost + " is " + address.getHostAddress());
        }
        try {
            return new TcpFaultProxy(new InetSocketAddress(address, targetPort), maxConnections);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the TCP fault proxy", e);
        }
    }

    /** The port the proxy listens on (on 127.0.0.1); it stays the same for the proxy's whole life. */
    public int port() {
        return port;
    }

    /**
     * Forward mode: new connections are piped to the target. Coming from silent mode, the silenced connections are
     * reset; coming from refuse mode, the proxy listens again on the same port.
     *
     * @throws IllegalStateException if the proxy is closed
     * @throws UncheckedIOException if the port cannot be reopened within 2 s (the proxy then stays in refuse mode)
     */
    public void forward() {
        switchTo(Mode.FORWARD);
    }

    /**
     * Refuse mode: the listening socket is closed, new connection attempts are refused. Open connections are left
     * alone (silenced ones are reset, as whenever silent mode ends).
     *
     * @throws IllegalStateException if the proxy is closed
     */
    public void refuse() {
        switchTo(Mode.REFUSE);
    }

    /**
     * Silent mode: new connections are accepted and never answered, open connections stop forwarding in both
     * directions without being closed.
     *
     * @throws IllegalStateException if the proxy is closed
     * @throws UncheckedIOException if coming from refuse mode and the port cannot be reopened within 2 s
     */
    public void silent() {
        switchTo(Mode.SILENT);
    }

    /**
     * Aborts every open connection with a TCP RST, on the client side and on the target side; the mode stays as it is.
     *
     * @throws IllegalStateException if the proxy is closed
     */
    public void reset() {
        synchronized (lock) {
            checkOpen();
            for (Connection c : connections) {
                c.abort();
            }
        }
    }

    /** The number of connections currently open through the proxy (forwarded or silenced). */
    public int openConnections() {
        return connections.size();
    }

    /** The number of connections accepted since the start, including those reset at once because of the limit. */
    public long acceptedTotal() {
        return acceptedTotal.get();
    }

    /** Stops listening, resets all connections and waits (at most 2 s) for the proxy's threads to end. Idempotent. */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            closeQuietly(listener);
            listener = null;
            lock.notifyAll();
        }
        for (Connection c : connections) {
            c.abort();
        }
        executor.shutdownNow();
        try {
            executor.awaitTermination(SHUTDOWN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void switchTo(Mode next) {
        synchronized (lock) {
            checkOpen();
            Mode previous = mode;
            if (previous == next) {
                return;
            }
            if (previous == Mode.REFUSE) {
                listener = rebind(); // first, so that a failure leaves the proxy consistently in refuse mode
                lock.notifyAll();
            }
            if (previous == Mode.SILENT) {
                for (Connection c : connections) {
                    if (c.silenced) {
                        c.abort();
                    }
                }
            }
            if (next == Mode.SILENT) {
                for (Connection c : connections) {
                    c.silenced = true;
                }
            }
            mode = next;
            if (next == Mode.REFUSE) {
                ServerSocket old = listener;
                listener = null;
                closeQuietly(old);
                awaitAcceptReturned(old); // last: it releases the lock while waiting
            }
        }
    }

    /**
     * Waits until the accept thread is no longer blocked on {@code old}. Closing a server socket that another thread
     * is blocked on only takes full effect (the port stops listening) when that thread has left accept(); until then
     * the kernel would still complete new connections.
     */
    private void awaitAcceptReturned(ServerSocket old) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(UNBLOCK_TIMEOUT_MS);
        while (old != null && accepting == old) {
            long remainingMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (remainingMs <= 0) {
                return;
            }
            try {
                lock.wait(remainingMs);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the TCP fault proxy on port " + port + " is closed");
        }
    }

    private ServerSocket rebind() {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(REBIND_TIMEOUT_MS);
        while (true) {
            try {
                return bind(port);
            } catch (IOException e) {
                if (System.nanoTime() - deadline >= 0) {
                    throw new UncheckedIOException("cannot listen on 127.0.0.1:" + port + " again", e);
                }
            }
            try {
                Thread.sleep(REBIND_PAUSE_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while reopening 127.0.0.1:" + port, e);
            }
        }
    }

    private static ServerSocket bind(int port) throws IOException {
        ServerSocket server = new ServerSocket();
        try {
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress(LISTEN_ADDRESS, port), BACKLOG);
            return server;
        } catch (IOException e) {
            closeQuietly(server);
            throw e;
        }
    }

    private void acceptLoop() {
        while (true) {
            ServerSocket server;
            synchronized (lock) {
                while (!closed && listener == null) {
                    try {
                        lock.wait();
                    } catch (InterruptedException e) {
                        return; // only close() interrupts (shutdownNow)
                    }
                }
                if (closed) {
                    return;
                }
                server = listener;
                accepting = server;
            }
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                client = null;
            } finally {
                synchronized (lock) {
                    accepting = null;
                    lock.notifyAll();
                }
            }
            if (client == null) {
                if (!server.isClosed() && !pause()) { // e.g. too many open files: do not spin
                    return;
                }
                continue; // closed by refuse() or close()
            }
            acceptedTotal.incrementAndGet();
            admit(client);
        }
    }

    private static boolean pause() {
        try {
            Thread.sleep(10);
            return true;
        } catch (InterruptedException e) {
            return false;
        }
    }

    private void admit(Socket client) {
        Connection connection;
        synchronized (lock) {
            if (closed || connections.size() >= maxConnections) {
                closeSocket(client, true);
                return;
            }
            connection = new Connection(client, mode == Mode.SILENT);
            connections.add(connection);
        }
        try {
            executor.execute(connection::run);
        } catch (RejectedExecutionException e) {
            connection.abort();
        }
    }

    private static void closeSocket(Socket socket, boolean reset) {
        if (socket == null) {
            return;
        }
        if (reset) {
            try {
                socket.setSoLinger(true, 0);
            } catch (IOException e) {
                // already closed or never connected: nothing to reset
            }
        }
        closeQuietly(socket);
    }

    private static void closeQuietly(AutoCloseable closeable) {
        if (closeable == null) {
            return;
        }
        try {
            closeable.close();
        } catch (Exception e) {
            // nothing sensible to do while tearing down
        }
    }

    private static InetAddress ipv4Loopback() {
        try {
            return InetAddress.getByAddress("localhost", new byte[] { 127, 0, 0, 1 });
        } catch (UnknownHostException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** One client connection and, unless it was silenced from the start, its connection to the target. */
    private final class Connection {

        private final Socket client;
        volatile boolean silenced;

        // guarded by this
        private Socket upstream;
        private boolean done;
        private int endedDirections;

        Connection(Socket client, boolean silenced) {
            this.client = client;
            this.silenced = silenced;
        }

        void run() {
            try {
                client.setTcpNoDelay(true);
                if (silenced) {
                    pump(client, null, true); // accepted during silent mode: never connected anywhere
                    return;
                }
                Socket up = new Socket();
                if (!attach(up)) {
                    closeQuietly(up);
                    return;
                }
                up.setTcpNoDelay(true);
                up.connect(target, CONNECT_TIMEOUT_MS);
                executor.execute(() -> pump(up, client, false));
                pump(client, up, true);
            } catch (IOException | RuntimeException e) {
                abort(); // target unreachable, or closed meanwhile
            }
        }

        private void pump(Socket from, Socket to, boolean fromClient) {
            byte[] buffer = new byte[BUFFER_SIZE];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to == null ? null : to.getOutputStream();
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    if (out != null && !silenced) {
                        out.write(buffer, 0, n);
                        out.flush();
                    }
                }
                endOfStream(to, fromClient);
            } catch (IOException e) {
                abort();
            }
        }

        private void endOfStream(Socket to, boolean fromClient) throws IOException {
            if (silenced || to == null) {
                if (fromClient) {
                    close(); // the client gave up: nothing is left to hold open
                }
                return; // the target went away: a partitioned client never learns of it
            }
            to.shutdownOutput();
            boolean bothEnded;
            synchronized (this) {
                bothEnded = ++endedDirections == 2;
            }
            if (bothEnded) {
                close();
            }
        }

        synchronized boolean attach(Socket up) {
            if (done) {
                return false;
            }
            upstream = up;
            return true;
        }

        void abort() {
            finish(true);
        }

        void close() {
            finish(false);
        }

        private void finish(boolean reset) {
            Socket up;
            synchronized (this) {
                if (done) {
                    return;
                }
                done = true;
                up = upstream;
            }
            connections.remove(this);
            closeSocket(client, reset);
            closeSocket(up, reset);
        }
    }
}
