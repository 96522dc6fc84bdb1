package dev.tokenvault.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithConverter;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;

/**
 * The one configuration root of the service ({@code tokenvault.*}). Every key can be set by an
 * environment variable, Quarkus style ({@code TOKENVAULT_CRYPTO_PROVIDER}).
 */
@ConfigMapping(prefix = "tokenvault")
public interface TokenVaultConfig {

    /** HubSpot endpoints. */
    HubSpot hubspot();

    /** This service's public URL, used to build OAuth redirect URIs and to verify webhook signatures. */
    @WithDefault("http://localhost:8080")
    URI publicBaseUrl();

    /** HubSpot apps by short name ({@code [a-z0-9-]{1,40}}). */
    Map<String, App> apps();

    /** Envelope encryption. */
    Crypto crypto();

    /** Proactive refresh. */
    Refresh refresh();

    /** Static credentials (service keys, private-app tokens): rotation grace and age. */
    StaticTokens staticTokens();

    interface StaticTokens {
        /**
         * How long the static token replaced by a new one is kept sealed, so that {@code POST .../static-token/rollback}
         * can restore it; then it is destroyed.
         */
        @WithDefault("7D")
        Duration grace();

        /** A static token stored longer ago than this counts as due for rotation (metric and alert). */
        @WithDefault("180D")
        Duration rotateAfter();

        /** How often replaced tokens whose grace has ended are looked for and destroyed. */
        @WithDefault("1M")
        Duration sweepInterval();
    }

    /** Outgoing connection-event notifications. */
    @WithName("notify")
    Notify notifications();

    /**
     * The built-in HubSpot simulator and dev conveniences ({@code /sandbox}, {@code /dev/caller-token}, home page). On
     * in dev mode only; a production start with it on is refused.
     */
    Sandbox sandbox();

    interface Sandbox {
        /** Serve the HubSpot simulator and dev-only pages (build-time: the routes do not exist otherwise). */
        @WithDefault("false")
        boolean enabled();

        /** Lifetime of sandbox access tokens (short, so a proactive refresh is visible within minutes). */
        @WithDefault("5M")
        Duration accessTokenLifetime();

        /** Portal id prefilled on the sandbox consent screen. */
        @WithDefault("62515")
        long defaultPortalId();
    }

    /** Opened access tokens kept in memory for hand-outs (each until its token expires). */
    TokenCache tokenCache();

    interface TokenCache {
        /**
         * Most tokens kept (count). A hand-out of a portal not in the cache reads and opens its row (with Vault, one
         * Transit decrypt unless the data key is cached), so size it to the connections handed out within a token's
         * life. 0 keeps none (every hand-out reads the store).
         */
        @WithDefault("100000")
        int size();
    }

    /** Caller JWTs remembered once verified, so a reused token is checked once, not on every request. */
    JwtCache jwtCache();

    interface JwtCache {
        /** Verified tokens kept (count); 0 verifies every request. */
        @WithDefault("1000")
        int size();

        /**
         * Longest time a verified token is remembered (never past its {@code exp}); also how long a token stays
         * accepted after its signing key was withdrawn. 0 verifies every request.
         */
        @WithDefault("60S")
        Duration ttl();
    }

    /**
     * Who may call the internal API besides the {@code default} issuer of {@code mp.jwt.verify.*}: more trusted
     * issuers (a corporate IdP, the Kubernetes cluster) and the policies that grant actions to their callers.
     */
    Callers callers();

    interface Callers {
        /** Trusted issuers by name ({@code [a-z0-9-]{1,40}}; {@code default} is {@code mp.jwt.verify.*}). */
        Map<String, Issuer> issuers();

        /** Access policies by name: deny by default, a caller's grants are the union of the policies it matches. */
        Map<String, Policy> policies();

        /** How often a scheduled job fetches issuers' keys that are due (each issuer's own interval decides). */
        @WithDefault("30S")
        Duration keysCheckInterval();

        interface Issuer {
            /** {@code jwt} (any OIDC/JWT issuer) or {@code kubernetes} (the cluster's service-account tokens). */
            @WithDefault("jwt")
            String kind();

            /**
             * The {@code iss} its tokens carry; for {@code kubernetes} the cluster's service-account issuer
             * (default {@code https://kubernetes.default.svc.cluster.local}).
             */
            Optional<String> issuer();

            /**
             * Where its keys are fetched (a JWKS over http(s)); for {@code kubernetes} the default is
             * {@code https://kubernetes.default.svc/openid/v1/jwks} unless {@code public-key-location} is set.
             */
            Optional<URI> jwksUrl();

            /** A file with its keys instead (a PEM public key or a JWKS), re-read like a JWKS URL. */
            Optional<Path> publicKeyLocation();

            /**
             * Audiences a token must carry one of (comma-separated); required for a {@code kubernetes} issuer,
             * where the default is {@code tokenvault}.
             */
            Optional<List<String>> audiences();

            /** Honour the token's {@code groups}/{@code portals} claims as grants (default false). */
            @WithDefault("false")
            boolean trustClaims();

            /** Clock skew allowed on {@code exp}/{@code iat}/{@code nbf}. */
            @WithDefault("30S")
            Duration leeway();

            /** Signature algorithms accepted (comma-separated). */
            @WithDefault("RS256,ES256")
            List<String> algorithms();

            /**
             * A bearer token sent with the JWKS request, read from this file on every fetch (for {@code kubernetes}
             * the pod's own projected token, {@code /var/run/secrets/kubernetes.io/serviceaccount/token}, when it
             * exists and the JWKS URL is the default one).
             */
            Optional<Path> jwksBearerTokenFile();

            /**
             * PEM certificate(s) to trust for the JWKS URL instead of the JVM's (for {@code kubernetes} the cluster CA,
             * {@code /var/run/secrets/kubernetes.io/serviceaccount/ca.crt}, when it exists and the URL is the
             * default one).
             */
            Optional<Path> jwksCaFile();

            /** How often the keys are fetched again; an unreachable source keeps the last good keys. */
            @WithDefault("10M")
            Duration jwksRefreshInterval();

            /** Least time between two fetches caused by a token whose {@code kid} is not (yet) known. */
            @WithDefault("30S")
            Duration jwksMinRefreshInterval();
        }

        interface Policy {
            /** The issuer whose callers it matches (a name under {@code tokenvault.callers.issuers}, or {@code default}). */
            String issuer();

            /** The {@code sub} it matches: exact, or a glob where {@code *} stands for any run of characters. */
            Optional<String> subject();

            /**
             * Claims the token must carry, by name (a path into nested objects with {@code /}, e.g.
             * {@code kubernetes.io/namespace}): the claim must equal the value, or be a list containing it.
             */
            Map<String, String> claims();

            /** Actions granted: {@code tokens.read}, {@code tokens.refresh}, {@code hubspot.proxy}, {@code tokens.admin}. */
            List<String> actions();

            /** Apps (configured names, or {@code *}). */
            List<String> apps();

            /** Portals (ids, or {@code *}). */
            List<String> portals();
        }
    }

    /** The audit trail. */
    Audit audit();

    /** Incoming HubSpot webhooks. */
    Webhooks webhooks();

    interface Webhooks {
        /**
         * How far ahead of this replica's clock an {@code X-HubSpot-Request-Timestamp} may be (clock skew allowance;
         * at most 5M). Timestamps older than 5 minutes are always refused.
         */
        @WithDefault("30S")
        Duration maxFutureSkew();
    }

    interface Audit {
        /** How often queued audit records are written (in batches). */
        @WithDefault("1S")
        Duration flushInterval();

        /**
         * Events queued in memory, at most, before requests that must be audited are refused with 503 (fail closed;
         * about 150 bytes each).
         */
        @WithDefault("100000")
        int maxBacklog();

        /**
         * Audit records older than this are deleted (hourly, in chunks); unset keeps them for ever. Records of
         * coalesced hand-outs count from their last event.
         */
        Optional<Duration> retention();

        /**
         * Records of unauthenticated events (refused webhooks, failed installs) written per app and second by one
         * replica, at most. Identical events of one second are already one record with a count; events that would
         * need a record beyond this bound are counted in {@code tokenvault_audit_anonymous_limited_total} instead.
         */
        @WithDefault("20")
        int anonymousRecordsPerSecond();
    }

    /** The install flow. */
    OAuth oauth();

    interface OAuth {
        /**
         * OAuth states one replica marks used per second, at most (each callback with a valid signed state writes
         * one small row, kept until the state would have expired). A callback beyond it is answered 503 without
         * using its state, so reloading the page a moment later completes the install.
         */
        @WithDefault("20")
        int callbacksPerSecond();
    }

    /** Gauges. */
    MetricsConfig metrics();

    interface MetricsConfig {
        /** How often the connection and data-key gauges are recomputed. */
        @WithDefault("30S")
        Duration gaugeInterval();
    }

    /** Dev mode conveniences (ignored outside the dev profile). */
    Dev dev();

    /** The HubSpot API proxy ({@code /v1/apps/{app}/portals/{portalId}/hubspot/...}). */
    Proxy proxy();

    interface Proxy {
        /** Seconds the portal's access token must still live when a proxied call is sent. */
        @WithDefault("60")
        Duration minValidity();

        /** How long a proxied call may wait for a permit of the portal's rate budget; then 429. */
        @WithDefault("10S")
        Duration maxWait();

        /** Request body cap; a larger body is answered 413 and nothing is sent. */
        @WithDefault("10M")
        io.quarkus.runtime.configuration.MemorySize maxBodySize();

        /** Time HubSpot has to answer a proxied call (to start its response); then 504. */
        @WithDefault("30S")
        Duration timeout();

        /** Connections to HubSpot kept by each replica for proxied calls. */
        @WithDefault("64")
        int maxConnections();
    }

    /** Deadlines and bounds of every call to PostgreSQL. */
    Database database();

    interface Database {
        /**
         * Deadline of each database step: acquiring a connection, one statement, begin, commit. A database that does
         * not answer within it fails the request with 503 instead of holding it.
         */
        @WithDefault("5S")
        Duration timeout();

        /** Deadline of the readiness check's {@code select 1}: a silent database takes the pod out of rotation. */
        @WithDefault("2S")
        Duration healthTimeout();

        /** TCP connect timeout of new database connections. */
        @WithDefault("5S")
        Duration connectTimeout();

        /**
         * A database connection with no traffic at all for this long is closed: frees a connection whose statement
         * never got an answer (a silent database), after its caller was already answered 503.
         */
        @WithDefault("60S")
        Duration idleTimeout();

        /** Requests waiting for a database connection beyond which new ones fail at once (503). */
        @WithDefault("1000")
        int maxWaitQueue();
    }

    /**
     * The replica's stable name (the pod name; {@code HOSTNAME} when unset). A replica restarted under the same name
     * takes back the refresh leases its previous process held (a StatefulSet, a crash loop).
     */
    @WithDefault("${HOSTNAME:}")
    Optional<String> replicaName();

    interface Dev {
        /** Start an embedded PostgreSQL in dev mode when no datasource URL is configured. */
        @WithDefault("true")
        boolean embeddedPostgres();

        /** Where the embedded PostgreSQL keeps its data between dev-mode runs. */
        @WithDefault("data/postgres")
        String postgresDataDir();
    }

    interface HubSpot {
        /** HubSpot API base (token, introspection, revoke). */
        @WithDefault("https://api.hubapi.com")
        URI apiBaseUrl();

        /** HubSpot consent screen. */
        @WithDefault("https://app.hubspot.com/oauth/authorize")
        URI authorizeUrl();

        /** Which HubSpot OAuth endpoints to call: {@code v1} or {@code 2026-03}. */
        @WithDefault("v1")
        @WithConverter(OAuthApiVersion.Converter.class)
        OAuthApiVersion oauthApi();

        /** Connect timeout and read timeout of every HubSpot call. */
        @WithDefault("10S")
        Duration timeout();

        /** Bulkheads: bounds on concurrent OAuth calls to HubSpot, per call class. */
        Bulkheads bulkhead();
    }

    /**
     * Concurrent HubSpot OAuth calls per replica, in three classes that never wait for each other: installs (code
     * exchange and introspection), refreshes, and revocations. Each class has its own HTTP connection pool, a bound
     * for all apps together and one per app, so one app's stalled portals cannot starve other apps, and refreshes
     * cannot starve installs.
     */
    interface Bulkheads {
        /** Installs: code exchanges and token introspection. */
        @WithDefault("32")
        int installs();

        /** Installs of one app. */
        @WithDefault("16")
        int installsPerApp();

        /** Refreshes (scheduled and on demand). */
        @WithDefault("256")
        int refreshes();

        /** Refreshes of one app. */
        @WithDefault("128")
        int refreshesPerApp();

        /** Revocations (uninstall, erase, failed installs). */
        @WithDefault("16")
        int revocations();

        /** Revocations of one app. */
        @WithDefault("8")
        int revocationsPerApp();

        /**
         * How long a call may wait for a free slot; then it fails at once with 503 ("too many HubSpot calls in
         * flight"), not with a misleading timeout.
         */
        @WithDefault("1S")
        Duration maxWait();
    }

    interface App {
        /** Public app client id (needed to run OAuth). */
        Optional<String> clientId();

        /** Public app client secret. Never logged. */
        Optional<String> clientSecret();

        /**
         * Alternatively, a Vault KV v2 path (in the mount {@code quarkus.vault.kv-secret-engine-mount-path}) holding
         * the client secret under the key {@code client-secret}, re-read every {@code client-secret-vault-ttl} and at
         * once when HubSpot answers {@code BAD_CLIENT_ID}.
         */
        Optional<String> clientSecretVaultPath();

        /** How long a client secret read from Vault is used before it is read again. */
        @WithDefault("5M")
        Duration clientSecretVaultTtl();

        /**
         * The client secret before a rotation, still accepted for webhook signatures until
         * {@code previous-client-secret-valid-until} (ISO-8601 instant; indefinitely when absent). Never logged.
         */
        Optional<String> previousClientSecret();

        /** End of the previous client secret's grace period, e.g. {@code 2026-12-01T00:00:00Z}. */
        Optional<String> previousClientSecretValidUntil();

        /** When the secret read from Vault changes, the old one stays valid for webhook signatures this long. */
        @WithDefault("1H")
        Duration secretRotationGrace();

        /** Required scopes requested at install. */
        @WithDefault("oauth")
        List<String> scopes();

        /** Optional scopes requested at install. */
        Optional<List<String>> optionalScopes();

        /** Where the browser goes after a successful install; a built-in page when absent. */
        Optional<URI> successUrl();

        /** HubSpot app id; when set, tokens introspected for another app id are refused. */
        OptionalLong hubspotAppId();

        /** Accept v1/v2 webhook signatures (HubSpot's legacy schemes) besides v3. */
        @WithDefault("false")
        boolean allowLegacySignatures();

        /** The HubSpot rate budget of each portal of this app, shared by every replica. */
        RateLimit rateLimit();

        /**
         * The budget per portal, for all replicas together: at most {@code calls} HubSpot calls in any rolling
         * {@code interval} (HubSpot's own window is rolling). HubSpot's {@code X-HubSpot-RateLimit-*} headers
         * correct it at run time (accounts with higher limits).
         */
        interface RateLimit {
            /** Calls per portal in any rolling {@code interval} (at least 1, at most 10000). */
            @WithDefault("100")
            int calls();

            /** The rolling window of {@code calls} (positive). */
            @WithDefault("10S")
            Duration interval();

            /** Calls of {@code POST /crm/v3/objects/{type}/search} per portal in any rolling {@code search-interval}. */
            @WithDefault("5")
            int searchCalls();

            /** The rolling window of {@code search-calls} (positive). */
            @WithDefault("1S")
            Duration searchInterval();
        }

        /** What the HubSpot API proxy may call for this app. */
        @WithName("proxy")
        AppProxy appProxy();

        interface AppProxy {
            /**
             * Comma-separated path prefixes the proxy may call for this app (e.g. {@code /crm/v3/objects/contacts});
             * all paths when absent. {@code /oauth/} is never allowed.
             */
            Optional<List<String>> allowedPaths();
        }
    }

    interface Crypto {
        /** Key-encryption provider: {@code local} (key file) or {@code vault} (Vault Transit). */
        @WithDefault("local")
        Provider provider();

        /** The local key file provider. */
        Local local();

        /** The Vault Transit provider. */
        Vault vault();

        /** Opened data keys kept in memory (count); 0 disables the cache. */
        @WithDefault("10000")
        int dataKeyCacheSize();

        /**
         * How often each replica checks for data keys wrapped under an older key version and rewraps them (the
         * background side of {@code POST /v1/admin/rewrap}).
         */
        @WithDefault("6H")
        Duration rewrapInterval();

        /** How long an opened data key stays in memory. */
        @WithDefault("10M")
        Duration dataKeyCacheTtl();

        /**
         * Attempts per data key during a rewrap run (a timed-out or unavailable key service is retried with backoff
         * from 1 s, doubling); the run fails only when a key still cannot be rewrapped after them.
         */
        @WithDefault("6")
        int rewrapAttempts();

        enum Provider {
            LOCAL,
            VAULT
        }

        interface Local {
            /**
             * The key file: one line, base64 of 32 random bytes. Generated on first start in dev and test only;
             * in prod it must exist and be readable by its owner only.
             */
            @WithDefault("data/tokenvault.key")
            Path keyFile();

            /** The previous key file, still used to open data keys wrapped before a rotation. */
            Optional<Path> previousKeyFile();
        }

        interface Vault {
            /** Transit mount. */
            @WithDefault("transit")
            String mount();

            /** Transit key name. */
            @WithName("key-name")
            @WithDefault("tokenvault")
            String keyName();
        }
    }

    interface Refresh {
        /** Run the scheduled proactive refresher in this replica. */
        @WithDefault("true")
        boolean enabled();

        /** Refresh an access token when less than this remains. */
        @WithDefault("10M")
        Duration leadTime();

        /** How often the refresher looks for due connections. */
        @WithDefault("15S")
        Duration pollInterval();

        /** Parallel refresh calls per replica. */
        @WithDefault("16")
        int maxConcurrency();

        /** How long a replica holds a connection's refresh lease. */
        @WithDefault("60S")
        Duration lease();

        /**
         * How long an on-demand refresh waits for another replica's lease (polling with backoff) before answering 503
         * with {@code Retry-After}.
         */
        @WithDefault("10S")
        Duration leaseWait();

        /**
         * A grant carrying a new refresh token whose write failed (database away) is kept in memory and written
         * again, with backoff, for this long.
         */
        @WithDefault("1H")
        Duration pendingWriteRetention();

        /** At most this many such grants are kept (beyond, the oldest are dropped with an ERROR). */
        @WithDefault("10000")
        int pendingWriteLimit();
    }

    interface Notify {
        /** Where connection events are POSTed; none when absent. */
        Optional<URI> url();

        /** HMAC-SHA256 key of the {@code X-Tokenvault-Signature} header. Never logged. */
        Optional<String> secret();

        /** How often pending notifications are delivered. */
        @WithDefault("5S")
        Duration pollInterval();

        /**
         * Delivered notifications are deleted from the outbox this long after delivery (hourly); the audit log keeps
         * the history of connections.
         */
        @WithDefault("7D")
        Duration deliveredRetention();
    }
}
