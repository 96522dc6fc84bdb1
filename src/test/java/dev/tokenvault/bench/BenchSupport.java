package dev.tokenvault.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import com.sun.net.httpserver.HttpServer;

import dev.tokenvault.sandbox.HubSpotSimulator;
import dev.tokenvault.testing.FakeHubSpot;
import dev.tokenvault.testing.FakeVault;
import io.smallrye.jwt.build.Jwt;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

/**
 * The Java side of {@code bench/run.sh} (not a test). Sub-commands, each a separate JVM run on the test class path:
 *
 * <ul>
 * <li>{@code infra DIR PARENT_PID}: starts an embedded PostgreSQL (zonky; skipped when {@code BENCH_DB_URL} is set)
 * and the HubSpot simulator over HTTP ({@link FakeHubSpot}, no added latency), picks a free port for the service,
 * writes the caller key pair, the key-encryption key file (0600) and a caller JWT into {@code DIR}, then
 * {@code DIR/infra.env} (with a second JWT, group {@code hubspot.proxy} only, free ports for the storm's
 * replicas ({@code BENCH_STORM_REPLICAS}, 3), and {@code CONTROL_URL}: a loopback control server for the simulator, see
 * {@link #control}), and a fake Vault with a Transit key ({@code VAULT_URL}, {@code VAULT_TOKEN}; every call delayed by
 * {@code BENCH_VAULT_LATENCY_MS}, default 1) for the scale run; stays up
 * until killed or until {@code PARENT_PID} exits.</li>
 * <li>{@code seed BASE_URL HUBSPOT_URL FIRST_PORTAL COUNT THREADS}: runs the real OAuth install flow over HTTP once per
 * portal (install redirect, consent form on the simulator, callback with the state cookie).</li>
 * <li>{@code latency BASE_URL JWT_FILE FIRST_PORTAL COUNT same|distinct}: sequential hand-outs, one connection, timed
 * in the client: {@code distinct} asks portals FIRST..FIRST+COUNT-1 once each (every call a cache miss on a fresh
 * service), {@code same} asks FIRST COUNT times (cache hits: the client's own overhead).</li>
 * <li>{@code spread BASE_URL JWT_FILE FIRST_PORTAL COUNT THREADS [PREFIX]}: hands out portals FIRST..FIRST+COUNT-1
 * once each from THREADS concurrent clients (one kept-alive connection each): {@code PREFIX_per_second}.</li>
 * <li>{@code sweep JDBC_URL USER PASSWORD TIMEOUT_SECONDS [MIN_PORTAL MAX_PORTAL]}: makes every active OAuth
 * connection (of that portal range) due now and waits until each has been refreshed after that moment.</li>
 * <li>{@code drain-audit JDBC_URL USER PASSWORD TIMEOUT_SECONDS}: waits until the audit trail stops growing.</li>
 * <li>{@code count JDBC_URL USER PASSWORD}: connections stored (0 when the schema does not exist yet).</li>
 * <li>{@code sizes JDBC_URL USER PASSWORD}: on-disk size of the database and of its largest tables, and the bytes
 * of connection, data_key and secret (indexes and TOAST included) per stored connection.</li>
 * </ul>
 *
 * Figures go to stdout as {@code name=value} lines; progress goes to stderr.
 */
public final class BenchSupport {

    static final String APP = "default";
    static final String CLIENT_ID = "bench-client-id";
    static final long HUBSPOT_APP_ID = 4242L;
    static final String ISSUER = "https://bench.local";
    static final String COOKIE = "tokenvault_oauth";
    static final String VAULT_TOKEN = "bench-vault-root-token";
    static final String VAULT_MOUNT = "transit";
    static final String VAULT_KEY = "tokenvault";

    private BenchSupport() {
    }

    public static void main(String[] args) throws Exception {
        // The JDK HttpServer behind FakeHubSpot writes headers and body separately; without TCP_NODELAY every request
        // after the first on a kept-alive connection waits ~40 ms for a delayed ACK (Nagle). Read once, at class
        // initialisation of the server, so it must be set before FakeHubSpot starts.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        if (args.length == 0) {
            usage();
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        switch (args[0]) {
            case "infra" -> infra(rest);
            case "seed" -> seed(rest);
            case "latency" -> latency(rest);
            case "spread" -> spread(rest);
            case "sweep" -> sweep(rest);
            case "drain-audit" -> drainAudit(rest);
            case "count" -> count(rest);
            case "sizes" -> sizes(rest);
            default -> usage();
        }
    }

    private static void usage() {
        System.err.println(
                "usage: BenchSupport infra|seed|latency|spread|sweep|drain-audit|count|sizes ... (see the class comment)");
        System.exit(2);
    }

    private static void need(String[] args, int n) {
        if (args.length < n) {
            usage();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // infra: PostgreSQL + HubSpot simulator + keys
    // ---------------------------------------------------------------------------------------------------------

    private static void infra(String[] args) throws Exception {
        need(args, 2);
        Path dir = Path.of(args[0]).toAbsolutePath();
        long parentPid = Long.parseLong(args[1]);
        Files.createDirectories(dir);

        Map<String, String> env = new LinkedHashMap<>();
        String givenUrl = System.getenv("BENCH_DB_URL");
        EmbeddedPostgres postgres = null;
        if (givenUrl != null && !givenUrl.isBlank()) {
            String url = givenUrl.startsWith("jdbc:") ? givenUrl.substring("jdbc:".length()) : givenUrl;
            env.put("DB_REACTIVE_URL", url);
            env.put("DB_JDBC_URL", "jdbc:" + url);
            env.put("DB_USER", System.getenv().getOrDefault("BENCH_DB_USER", "postgres"));
            env.put("DB_PASSWORD", System.getenv().getOrDefault("BENCH_DB_PASSWORD", "postgres"));
            env.put("DB_KIND", "given");
        } else {
            long t = System.nanoTime();
            postgres = EmbeddedPostgres.builder().start();
            int port = postgres.getPort();
            System.err.printf("embedded PostgreSQL on port %d (%d ms)%n", port, (System.nanoTime() - t) / 1_000_000);
            env.put("DB_REACTIVE_URL", "postgresql://127.0.0.1:" + port + "/postgres");
            env.put("DB_JDBC_URL", "jdbc:postgresql://127.0.0.1:" + port + "/postgres");
            env.put("DB_USER", "postgres");
            env.put("DB_PASSWORD", "postgres");
            env.put("DB_KIND", "embedded");
        }
        String dbVersion;
        String postmasterPid;
        try (Connection c = DriverManager.getConnection(env.get("DB_JDBC_URL"), env.get("DB_USER"), env.get("DB_PASSWORD"));
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("select current_setting('server_version'), pg_backend_pid()")) {
            rs.next();
            dbVersion = rs.getString(1);
            // the postmaster (parent of our backend, while it lives): the script accounts the database's CPU time
            postmasterPid = postgres == null ? "" : parentOf(rs.getLong(2));
        }
        env.put("DB_VERSION", dbVersion);
        env.put("DB_PID", postmasterPid);

        int servicePort = freePort();
        String publicBase = "http://127.0.0.1:" + servicePort;
        String clientSecret = "bench-secret-" + randomBase64(12);
        // Zero-latency fake: no recorded request list (it is a synchronised deque), counters only.
        HubSpotSimulator sim = new HubSpotSimulator().recordLimit(0);
        sim.registerApp(new HubSpotSimulator.App(CLIENT_ID, clientSecret, HUBSPOT_APP_ID,
                List.of(publicBase + "/oauth/"), Set.of(), Set.of()));
        FakeHubSpot hubspot = FakeHubSpot.start(sim);

        KeyPairGenerator gen = KeyPairGenerator.getInstance("RSA");
        gen.initialize(2048);
        KeyPair pair = gen.generateKeyPair();
        Path publicPem = dir.resolve("jwt-public.pem");
        Files.writeString(publicPem, pem("PUBLIC KEY", pair.getPublic().getEncoded()));
        String jwt = Jwt.issuer(ISSUER).subject("bench-caller")
                .groups(Set.of("tokens.read", "tokens.admin"))
                .claim("portals", List.of("*"))
                .issuedAt(Instant.now())
                .expiresAt(Instant.now().plus(Duration.ofHours(12)))
                .sign(pair.getPrivate());
        Files.writeString(dir.resolve("jwt.txt"), jwt);
        // the proxy's caller: hubspot.proxy only (least privilege: it cannot read tokens, the hand-out JWT cannot proxy)
        String proxyJwt = Jwt.issuer(ISSUER).subject("bench-proxy-caller")
                .groups(Set.of("hubspot.proxy"))
                .claim("portals", List.of("*"))
                .issuedAt(Instant.now())
                .expiresAt(Instant.now().plus(Duration.ofHours(12)))
                .sign(pair.getPrivate());
        Files.writeString(dir.resolve("jwt-proxy.txt"), proxyJwt);

        Path kek = dir.resolve("kek.key");
        Files.deleteIfExists(kek);
        Files.createFile(kek, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(kek, randomBase64(32) + "\n");

        // Vault Transit for the scale run (bench/run.sh scale): the fake, with added latency per call and counters only
        FakeVault vault = FakeVault.start(VAULT_TOKEN).recordLimit(0);
        vault.enableTransit(VAULT_MOUNT).createKey(VAULT_MOUNT, VAULT_KEY);
        long vaultLatencyMicros = Math.round(1000 * Double.parseDouble(
                System.getenv().getOrDefault("BENCH_VAULT_LATENCY_MS", "1").trim()));
        vault.latency(Duration.ofNanos(vaultLatencyMicros * 1000));
        env.put("VAULT_URL", vault.url());
        env.put("VAULT_TOKEN", VAULT_TOKEN);
        env.put("VAULT_LATENCY_MS", String.format(Locale.ROOT, "%.3f", vaultLatencyMicros / 1000.0));

        Seeding seeding = new Seeding(sim, vault, env.get("DB_JDBC_URL"), env.get("DB_USER"), env.get("DB_PASSWORD"), kek);
        HttpServer control = control(sim, vault, seeding);
        env.put("HUBSPOT_URL", hubspot.baseUrl());
        env.put("CONTROL_URL", "http://127.0.0.1:" + control.getAddress().getPort());
        env.put("SERVICE_PORT", Integer.toString(servicePort));
        int replicas = Integer.parseInt(System.getenv().getOrDefault("BENCH_STORM_REPLICAS", "3").trim());
        StringBuilder ports = new StringBuilder();
        for (int i = 0; i < replicas; i++) {
            ports.append(i == 0 ? "" : " ").append(freePort());
        }
        env.put("REPLICA_PORTS", ports.toString());
        env.put("PUBLIC_BASE_URL", publicBase);
        env.put("CLIENT_ID", CLIENT_ID);
        env.put("CLIENT_SECRET", clientSecret);
        env.put("JWT_PUBLIC_KEY", publicPem.toString());
        env.put("JWT_ISSUER", ISSUER);
        env.put("JWT_FILE", dir.resolve("jwt.txt").toString());
        env.put("PROXY_JWT_FILE", dir.resolve("jwt-proxy.txt").toString());
        env.put("KEK_FILE", kek.toString());
        env.put("INFRA_PID", Long.toString(ProcessHandle.current().pid()));

        StringBuilder sb = new StringBuilder();
        env.forEach((k, v) -> sb.append(k).append('=').append(shellQuote(v)).append('\n'));
        Path tmp = dir.resolve("infra.env.tmp");
        Files.writeString(tmp, sb.toString());
        Files.move(tmp, dir.resolve("infra.env"), StandardCopyOption.ATOMIC_MOVE);

        EmbeddedPostgres pg = postgres;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            control.stop(0);
            hubspot.close();
            vault.close();
            if (pg != null) {
                try {
                    pg.close();
                } catch (IOException e) {
                    System.err.println("embedded PostgreSQL did not stop cleanly: " + e);
                }
            }
        }));
        System.err.printf("fake HubSpot on %s; service port %d%n", hubspot.baseUrl(), servicePort);
        // Stay up until killed, or until the script that started us is gone (so nothing outlives it).
        ProcessHandle.of(parentPid).ifPresentOrElse(p -> p.onExit().join(), () -> {
        });
        System.exit(0);
    }

    // ---------------------------------------------------------------------------------------------------------
    // control: the script's handle on the simulator, which lives in this JVM (loopback only)
    // ---------------------------------------------------------------------------------------------------------

    /**
     * A second JDK HTTP server on 127.0.0.1 for the script (never the service): {@code GET /rate-limit?max=&intervalMs=}
     * sets the simulator's rolling window of OAuth apps ({@link HubSpotSimulator#rateLimit}); {@code GET
     * /crm-seed?portal=&count=} creates contacts directly; {@code GET /seed-direct?first=&count=&provider=local|vault}
     * writes connections straight into the database ({@link Seeding}); {@code GET /reset-connections} removes them all;
     * {@code GET /vault-stats} answers the fake Vault's counts by operation ({@code vault_transit_decrypt=...});
     * {@code GET /crm-stats?portal=&budget=&intervalMs=&fromMs=&toMs=}
     * answers {@code name=value} lines about the CRM calls that reached the simulator for a portal (see
     * {@link #crmStats}). Errors: 400 with the message.
     */
    private static HttpServer control(HubSpotSimulator sim, FakeVault vault, Seeding seeding) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            int status = 200;
            String body;
            try {
                Map<String, List<String>> q = HubSpotSimulator.parseQuery(exchange.getRequestURI().getRawQuery());
                switch (exchange.getRequestURI().getPath()) {
                    case "/rate-limit" -> {
                        int max = Integer.parseInt(q.get("max").get(0));
                        Duration interval = Duration.ofMillis(Long.parseLong(q.get("intervalMs").get(0)));
                        sim.rateLimit(max, interval);
                        body = "rate_limit=" + max + "/" + interval.toMillis() + "ms\n";
                    }
                    case "/crm-seed" -> {
                        long portal = Long.parseLong(q.get("portal").get(0));
                        int count = Integer.parseInt(q.get("count").get(0));
                        for (int i = 0; i < count; i++) {
                            sim.createCrmObject(portal, "contacts", Map.of("email", "bench" + i + "@example.com",
                                    "firstname", "Bench", "lastname", "Contact " + i));
                        }
                        body = "crm_seeded=" + count + "\n";
                    }
                    case "/seed-direct" -> body = seeding.seed(Long.parseLong(q.get("first").get(0)),
                            Integer.parseInt(q.get("count").get(0)), q.get("provider").get(0));
                    case "/reset-connections" -> body = seeding.reset();
                    case "/vault-stats" -> {
                        StringBuilder sb = new StringBuilder();
                        vault.operationCounts().forEach((op, n) -> sb.append("vault_")
                                .append(op.replaceAll("[^A-Za-z0-9]", "_")).append('=').append(n).append('\n'));
                        body = sb.toString();
                    }
                    case "/crm-stats" -> body = crmStats(sim, Long.parseLong(q.get("portal").get(0)),
                            Integer.parseInt(q.get("budget").get(0)), Long.parseLong(q.get("intervalMs").get(0)),
                            Long.parseLong(q.get("fromMs").get(0)), Long.parseLong(q.get("toMs").get(0)));
                    default -> {
                        status = 404;
                        body = "unknown control path\n";
                    }
                }
            } catch (RuntimeException | SQLException e) {
                status = 400;
                body = "error=" + e + "\n";
            }
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
            exchange.sendResponseHeaders(status, b.length);
            try (var out = exchange.getResponseBody()) {
                out.write(b);
            }
        });
        server.start();
        return server;
    }

    /**
     * What reached the simulator for one portal between {@code fromMs} and {@code toMs} (epoch ms, this machine's clock,
     * which is also the simulator's): {@code calls} (CRM calls, HubSpot's 429s included), {@code rate_limited} (429s
     * the simulator's rolling window answered, all time), {@code max_per_interval} (most calls in any rolling
     * {@code intervalMs}, the figure HubSpot enforces), and {@code budget_use}: while the demand lasts, each of the
     * {@code budget} places of the window is reused as soon as it frees, so {@code t[i + budget] - t[i]} is how long a
     * place took to come round (the interval at best); use = interval ÷ its mean over every place reused before
     * {@code toMs} (the method of RateBudgetReplicasTest). {@code unmeasured} when no place came round.
     */
    static String crmStats(HubSpotSimulator sim, long portal, int budget, long intervalMs, long fromMs, long toMs) {
        long[] t = sim.crmRequestTimes(portal).stream().mapToLong(Instant::toEpochMilli)
                .filter(ms -> ms >= fromMs && ms <= toMs).sorted().toArray();
        int maxIn = 0;
        for (int i = 0, j = 0; i < t.length; i++) { // window (t[i] - interval, t[i]]
            while (t[j] <= t[i] - intervalMs) {
                j++;
            }
            maxIn = Math.max(maxIn, i - j + 1);
        }
        long cycles = 0;
        double sum = 0;
        for (int i = 0; i + budget < t.length; i++) {
            cycles++;
            sum += t[i + budget] - t[i];
        }
        StringBuilder sb = new StringBuilder();
        sb.append("calls=").append(t.length).append('\n');
        sb.append("rate_limited=").append(sim.crmRateLimited(portal)).append('\n');
        sb.append("max_per_interval=").append(maxIn).append('\n');
        sb.append("first_ms=").append(t.length == 0 ? 0 : t[0]).append('\n');
        sb.append("last_ms=").append(t.length == 0 ? 0 : t[t.length - 1]).append('\n');
        sb.append("place_cycles=").append(cycles).append('\n');
        sb.append("place_cycle_ms=").append(cycles == 0 ? "unmeasured" : String.format(Locale.ROOT, "%.1f", sum / cycles))
                .append('\n');
        sb.append("budget_use=").append(cycles == 0 ? "unmeasured"
                : String.format(Locale.ROOT, "%.3f", intervalMs / (sum / cycles))).append('\n');
        return sb.toString();
    }

    /** The parent of a process, from {@code /proc} (Linux); empty when unknown. */
    private static String parentOf(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.substring(stat.lastIndexOf(')') + 2).split(" ")[1];
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        }
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    private static String randomBase64(int bytes) {
        byte[] b = new byte[bytes];
        new SecureRandom().nextBytes(b);
        return Base64.getEncoder().encodeToString(b);
    }

    private static String shellQuote(String v) {
        return "'" + v.replace("'", "'\\''") + "'";
    }

    // ---------------------------------------------------------------------------------------------------------
    // seed: the real install flow, concurrently
    // ---------------------------------------------------------------------------------------------------------

    private static void seed(String[] args) throws Exception {
        need(args, 5);
        String base = args[0];
        String hubspot = args[1];
        long first = Long.parseLong(args[2]);
        int count = Integer.parseInt(args[3]);
        int threads = Integer.parseInt(args[4]);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(10)).build();
        AtomicInteger done = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        AtomicInteger retried = new AtomicInteger();
        AtomicLong lastReport = new AtomicLong(System.nanoTime());
        long start = System.nanoTime();
        List<Future<?>> futures = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            long portal = first + i;
            futures.add(pool.submit(() -> {
                String error = null;
                for (int attempt = 1; attempt <= 3; attempt++) {
                    try {
                        install(http, base, hubspot, portal);
                        error = null;
                        break;
                    } catch (Exception e) {
                        error = e.toString();
                        retried.incrementAndGet();
                    }
                }
                if (error != null) {
                    if (failed.incrementAndGet() <= 5) {
                        System.err.println("install of portal " + portal + " failed: " + error);
                    }
                }
                int d = done.incrementAndGet();
                long now = System.nanoTime();
                long last = lastReport.get();
                if (now - last > 5_000_000_000L && lastReport.compareAndSet(last, now)) {
                    System.err.printf("  seeded %d/%d (%.0f/s)%n", d, count, d / ((now - start) / 1e9));
                }
                return null;
            }));
        }
        for (Future<?> f : futures) {
            f.get();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        pool.shutdown();
        System.out.printf(Locale.ROOT, "seed_connections=%d%n", count - failed.get());
        System.out.printf(Locale.ROOT, "seed_failures=%d%n", failed.get());
        System.out.printf(Locale.ROOT, "seed_retries=%d%n", retried.get() - failed.get() * 3);
        System.out.printf(Locale.ROOT, "seed_seconds=%.2f%n", seconds);
        System.out.printf(Locale.ROOT, "seed_per_second=%.1f%n", count / seconds);
        String[] steps = { "install", "consent", "callback" };
        for (int i = 0; i < steps.length; i++) {
            System.out.printf(Locale.ROOT, "seed_%s_mean_ms=%.2f%n", steps[i], STEP_NANOS[i].get() / 1e6 / count);
        }
        System.exit(failed.get() == 0 ? 0 : 1);
    }

    /** Total nanoseconds spent in each install step: install redirect, consent, callback. */
    private static final AtomicLong[] STEP_NANOS = { new AtomicLong(), new AtomicLong(), new AtomicLong() };

    private static void install(HttpClient http, String base, String hubspot, long portal)
            throws IOException, InterruptedException {
        long t = System.nanoTime();
        HttpResponse<String> start = http.send(HttpRequest.newBuilder(URI.create(base + "/oauth/" + APP + "/install"))
                .timeout(Duration.ofSeconds(30)).GET().build(), HttpResponse.BodyHandlers.ofString());
        expect(start, 302, "install");
        t = step(0, t);
        URI consent = URI.create(start.headers().firstValue("Location").orElseThrow());
        String cookie = start.headers().allValues("Set-Cookie").stream()
                .filter(c -> c.startsWith(COOKIE + "="))
                .map(c -> c.substring(0, c.indexOf(';') < 0 ? c.length() : c.indexOf(';')))
                .findFirst().orElseThrow(() -> new IOException("no " + COOKIE + " cookie"));

        Map<String, String> form = new LinkedHashMap<>();
        HubSpotSimulator.parseQuery(consent.getRawQuery()).forEach((k, v) -> form.put(k, v.get(0)));
        form.put("portal_id", Long.toString(portal));
        form.put("action", "allow");
        HttpResponse<String> approved = http.send(HttpRequest.newBuilder(URI.create(hubspot + "/oauth/authorize"))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(HubSpotSimulator.formEncode(form))).build(),
                HttpResponse.BodyHandlers.ofString());
        expect(approved, 302, "consent");
        t = step(1, t);
        URI callback = URI.create(approved.headers().firstValue("Location").orElseThrow());

        HttpResponse<String> done = http.send(HttpRequest.newBuilder(URI.create(base + callback.getRawPath() + "?"
                + callback.getRawQuery())).timeout(Duration.ofSeconds(30)).header("Cookie", cookie).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        expect(done, 200, "callback");
        step(2, t);
    }

    private static long step(int i, long since) {
        long now = System.nanoTime();
        STEP_NANOS[i].addAndGet(now - since);
        return now;
    }

    private static void expect(HttpResponse<String> r, int status, String step) throws IOException {
        if (r.statusCode() != status) {
            String body = r.body() == null ? "" : r.body();
            throw new IOException(step + " answered " + r.statusCode() + ": "
                    + body.substring(0, Math.min(200, body.length())).replaceAll("\\s+", " "));
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // latency: sequential hand-outs timed in the client
    // ---------------------------------------------------------------------------------------------------------

    private static void latency(String[] args) throws Exception {
        need(args, 5);
        String base = args[0];
        String jwt = Files.readString(Path.of(args[1])).trim();
        long first = Long.parseLong(args[2]);
        int count = Integer.parseInt(args[3]);
        boolean distinct = args[4].equals("distinct");
        String prefix = args.length > 5 ? args[5] : "latency";
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        // warm up the client itself (JIT, connection) on whoami, which never touches the token cache
        HttpRequest whoami = HttpRequest.newBuilder(URI.create(base + "/v1/whoami"))
                .header("Authorization", "Bearer " + jwt).GET().build();
        for (int i = 0; i < 2000; i++) {
            http.send(whoami, HttpResponse.BodyHandlers.ofByteArray());
        }
        long[] nanos = new long[count];
        int errors = 0;
        String firstError = null;
        for (int i = 0; i < count; i++) {
            long portal = distinct ? first + i : first;
            HttpRequest req = HttpRequest.newBuilder(URI.create(base + "/v1/apps/" + APP + "/portals/" + portal
                    + "/token")).header("Authorization", "Bearer " + jwt).GET().build();
            long t = System.nanoTime();
            HttpResponse<byte[]> r = http.send(req, HttpResponse.BodyHandlers.ofByteArray());
            nanos[i] = System.nanoTime() - t;
            if (r.statusCode() != 200) {
                errors++;
                if (firstError == null) {
                    firstError = r.statusCode() + " " + new String(r.body(), StandardCharsets.UTF_8);
                }
            }
        }
        if (firstError != null) {
            System.err.println("first error: " + firstError);
        }
        Arrays.sort(nanos);
        double mean = Arrays.stream(nanos).average().orElse(0) / 1e6;
        System.out.printf(Locale.ROOT, "%s_requests=%d%n", prefix, count);
        System.out.printf(Locale.ROOT, "%s_errors=%d%n", prefix, errors);
        System.out.printf(Locale.ROOT, "%s_p50_ms=%.3f%n", prefix, pct(nanos, 50) / 1e6);
        System.out.printf(Locale.ROOT, "%s_p90_ms=%.3f%n", prefix, pct(nanos, 90) / 1e6);
        System.out.printf(Locale.ROOT, "%s_p99_ms=%.3f%n", prefix, pct(nanos, 99) / 1e6);
        System.out.printf(Locale.ROOT, "%s_mean_ms=%.3f%n", prefix, mean);
        System.exit(errors == 0 ? 0 : 1);
    }

    private static void spread(String[] args) throws Exception {
        need(args, 5);
        String base = args[0];
        String jwt = Files.readString(Path.of(args[1])).trim();
        long first = Long.parseLong(args[2]);
        int count = Integer.parseInt(args[3]);
        int threads = Integer.parseInt(args[4]);
        String prefix = args.length > 5 ? args[5] : "spread";
        AtomicInteger next = new AtomicInteger();
        AtomicInteger errors = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<?>> futures = new ArrayList<>();
        long start = System.nanoTime();
        for (int t = 0; t < threads; t++) {
            futures.add(pool.submit(() -> {
                // one client per thread: the JDK client keeps one connection per sequential user
                HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                        .connectTimeout(Duration.ofSeconds(10)).build();
                for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
                    HttpRequest req = HttpRequest.newBuilder(URI.create(base + "/v1/apps/" + APP + "/portals/"
                            + (first + i) + "/token")).header("Authorization", "Bearer " + jwt).GET().build();
                    HttpResponse<byte[]> r = http.send(req, HttpResponse.BodyHandlers.ofByteArray());
                    if (r.statusCode() != 200 && errors.incrementAndGet() <= 3) {
                        System.err.println("hand-out of portal " + (first + i) + ": " + r.statusCode() + " "
                                + new String(r.body(), StandardCharsets.UTF_8));
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : futures) {
            f.get();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        pool.shutdown();
        System.out.printf(Locale.ROOT, "%s_requests=%d%n", prefix, count);
        System.out.printf(Locale.ROOT, "%s_errors=%d%n", prefix, errors.get());
        System.out.printf(Locale.ROOT, "%s_seconds=%.2f%n", prefix, seconds);
        System.out.printf(Locale.ROOT, "%s_per_second=%.1f%n", prefix, count / seconds);
        System.exit(errors.get() == 0 ? 0 : 1);
    }

    private static long pct(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        int idx = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, idx))];
    }

    // ---------------------------------------------------------------------------------------------------------
    // sweep: everything due at once, wait until all are refreshed
    // ---------------------------------------------------------------------------------------------------------

    private static void sweep(String[] args) throws Exception {
        need(args, 4);
        int timeout = Integer.parseInt(args[3]);
        // optional portal range: only those connections are made due and waited for
        long minPortal = args.length > 5 ? Long.parseLong(args[4]) : 0;
        long maxPortal = args.length > 5 ? Long.parseLong(args[5]) : Long.MAX_VALUE;
        String range = " and portal_id between " + minPortal + " and " + maxPortal;
        try (Connection c = DriverManager.getConnection(args[0], args[1], args[2])) {
            Instant t0 = Instant.now();
            int due;
            try (Statement s = c.createStatement()) {
                due = s.executeUpdate("update connection set next_refresh_at = now() "
                        + "where status = 'active' and auth_type = 'oauth'" + range);
            }
            long start = System.nanoTime();
            System.err.printf("  %d connections made due at %s%n", due, t0);
            String remainingSql = "select count(*) from connection where status = 'active' and auth_type = 'oauth' "
                    + "and (last_refresh_at is null or last_refresh_at < ?)" + range;
            long remaining = due;
            long lastProgress = System.nanoTime();
            long lastRemaining = remaining;
            long lastPrint = 0;
            boolean timedOut = false;
            // every look counts the due rows (a scan of the table): at 100 000 rows, looking every 50 ms would cost
            // the database more than the sweep's own claims, so the poll slows down with the size
            long pollMillis = Math.max(50, Math.min(500, due / 200));
            while (remaining > 0) {
                Thread.sleep(pollMillis);
                try (PreparedStatement ps = c.prepareStatement(remainingSql)) {
                    ps.setObject(1, OffsetDateTime.ofInstant(t0, ZoneOffset.UTC));
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        remaining = rs.getLong(1);
                    }
                }
                long now = System.nanoTime();
                if (remaining != lastRemaining) {
                    lastRemaining = remaining;
                    lastProgress = now;
                }
                if (now - lastPrint > 2_000_000_000L) {
                    lastPrint = now;
                    System.err.printf("  %.1f s: %d still due%n", (now - start) / 1e9, remaining);
                }
                if ((now - start) / 1e9 > timeout || (now - lastProgress) / 1e9 > 120) {
                    timedOut = true;
                    break;
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            String statsSql = "select count(*) filter (where last_refresh_at >= ?), "
                    + "extract(epoch from (min(last_refresh_at) filter (where last_refresh_at >= ?)) - ?::timestamptz), "
                    + "extract(epoch from (max(last_refresh_at) filter (where last_refresh_at >= ?)) "
                    + "- (min(last_refresh_at) filter (where last_refresh_at >= ?))), "
                    + "count(*) filter (where status = 'needs_reauth'), count(*) filter (where refresh_failures > 0) "
                    + "from connection where true" + range;
            try (PreparedStatement ps = c.prepareStatement(statsSql)) {
                OffsetDateTime t = OffsetDateTime.ofInstant(t0, ZoneOffset.UTC);
                ps.setObject(1, t);
                ps.setObject(2, t);
                ps.setObject(3, t);
                ps.setObject(4, t);
                ps.setObject(5, t);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    System.out.printf(Locale.ROOT, "refresh_due=%d%n", due);
                    System.out.printf(Locale.ROOT, "refresh_done=%d%n", rs.getLong(1));
                    System.out.printf(Locale.ROOT, "refresh_sweep_seconds=%s%n",
                            timedOut ? "timeout" : String.format(Locale.ROOT, "%.2f", seconds));
                    System.out.printf(Locale.ROOT, "refresh_per_second=%.1f%n", rs.getLong(1) / seconds);
                    System.out.printf(Locale.ROOT, "refresh_first_after_seconds=%.2f%n", rs.getDouble(2));
                    System.out.printf(Locale.ROOT, "refresh_first_to_last_seconds=%.2f%n", rs.getDouble(3));
                    System.out.printf(Locale.ROOT, "refresh_needs_reauth=%d%n", rs.getLong(4));
                    System.out.printf(Locale.ROOT, "refresh_with_failures=%d%n", rs.getLong(5));
                }
            }
            System.exit(timedOut ? 1 : 0);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // drain-audit, count
    // ---------------------------------------------------------------------------------------------------------

    private static void drainAudit(String[] args) throws Exception {
        need(args, 4);
        int timeout = Integer.parseInt(args[3]);
        try (Connection c = DriverManager.getConnection(args[0], args[1], args[2])) {
            long start = System.nanoTime();
            long firstId = maxAuditId(c);
            long last = firstId;
            long stableSince = System.nanoTime();
            while ((System.nanoTime() - stableSince) / 1e9 < 2.5) {
                Thread.sleep(250);
                long id = maxAuditId(c);
                if (id != last) {
                    last = id;
                    stableSince = System.nanoTime();
                }
                if ((System.nanoTime() - start) / 1e9 > timeout) {
                    System.err.println("  audit trail still growing after " + timeout + " s");
                    break;
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9 - 2.5;
            System.out.printf(Locale.ROOT, "audit_rows=%d%n", last);
            System.out.printf(Locale.ROOT, "audit_drained_rows=%d%n", last - firstId);
            System.out.printf(Locale.ROOT, "audit_drain_seconds=%.2f%n", Math.max(0, seconds));
        }
    }

    private static long maxAuditId(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("select coalesce(max(id), 0) from audit_log")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static void sizes(String[] args) throws Exception {
        need(args, 3);
        try (Connection c = DriverManager.getConnection(args[0], args[1], args[2]);
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("select pg_database_size(current_database()), "
                        + "pg_total_relation_size('audit_log'), pg_total_relation_size('connection') "
                        + "+ pg_total_relation_size('secret') + pg_total_relation_size('data_key'), "
                        + "(select count(*) from audit_log), (select count(*) from connection)")) {
            rs.next();
            System.out.printf(Locale.ROOT, "db_size_mb=%.1f%n", rs.getLong(1) / 1048576.0);
            System.out.printf(Locale.ROOT, "db_audit_log_mb=%.1f%n", rs.getLong(2) / 1048576.0);
            System.out.printf(Locale.ROOT, "db_connections_mb=%.1f%n", rs.getLong(3) / 1048576.0);
            System.out.printf(Locale.ROOT, "db_audit_log_rows=%d%n", rs.getLong(4));
            // connection + data_key + secret, with their indexes and TOAST, per stored connection (audit trail apart)
            System.out.printf(Locale.ROOT, "db_connection_rows=%d%n", rs.getLong(5));
            System.out.printf(Locale.ROOT, "db_bytes_per_connection=%s%n", rs.getLong(5) == 0 ? "unmeasured"
                    : String.format(Locale.ROOT, "%.0f", rs.getLong(3) / (double) rs.getLong(5)));
        }
    }

    private static void count(String[] args) throws Exception {
        need(args, 3);
        try (Connection c = DriverManager.getConnection(args[0], args[1], args[2]); Statement s = c.createStatement()) {
            try (ResultSet rs = s.executeQuery("select to_regclass('connection') is not null")) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    System.out.println("connections=0");
                    return;
                }
            }
            try (ResultSet rs = s.executeQuery("select count(*) from connection")) {
                rs.next();
                System.out.println("connections=" + rs.getLong(1));
            }
        } catch (SQLException e) {
            throw new UncheckedIOException(new IOException("cannot reach the database: " + e.getMessage(), e));
        }
    }
}
