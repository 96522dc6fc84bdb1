package dev.tokenvault.testing;

import java.lang.management.ManagementFactory;
import java.util.Map;

import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.StandardMBean;

import io.quarkus.test.junit.QuarkusTestProfile;

/**
 * The service whose reactive pool (everything but Flyway) reaches PostgreSQL through a {@link TcpFaultProxy} the test
 * controls: refused, reset or silent connections, a database restart. Short deadlines so outages show within a second.
 * <p>
 * Quarkus reads a profile's overrides and runs the test in different class loaders, so the one proxy of the JVM is
 * registered as a platform MBean, and {@link #proxy()} gives a handle on it from either side.
 */
public class DatabaseProxyProfile implements QuarkusTestProfile {

    /** What a test does with the proxy (see {@link TcpFaultProxy} for what each mode means). */
    public interface ControlMBean {
        int getPort();

        long getAcceptedTotal();

        void forward();

        void refuse();

        void silent();

        void reset();
    }

    private static ObjectName name() {
        try {
            return new ObjectName("dev.tokenvault.test:type=DatabaseProxy");
        } catch (JMException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The proxy in front of the test PostgreSQL (one per test JVM, started on first use). */
    public static Proxy proxy() {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        synchronized (System.class) {
            if (!server.isRegistered(name())) {
                TcpFaultProxy p = TcpFaultProxy.start("127.0.0.1", PostgresResource.port());
                ControlMBean control = new ControlMBean() {
                    public int getPort() {
                        return p.port();
                    }

                    public long getAcceptedTotal() {
                        return p.acceptedTotal();
                    }

                    public void forward() {
                        p.forward();
                    }

                    public void refuse() {
                        p.refuse();
                    }

                    public void silent() {
                        p.silent();
                    }

                    public void reset() {
                        p.reset();
                    }
                };
                try {
                    server.registerMBean(new StandardMBean(control, ControlMBean.class), name());
                } catch (JMException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return new Proxy(server);
    }

    /** A handle on the JVM's proxy, usable from any class loader. */
    public record Proxy(MBeanServer server) {
        private Object call(String operation) {
            try {
                return operation.startsWith("get") ? server.getAttribute(name(), operation.substring(3))
                        : server.invoke(name(), operation, null, null);
            } catch (JMException e) {
                throw new IllegalStateException(operation + " on the database proxy failed", e);
            }
        }

        public int port() {
            return (Integer) call("getPort");
        }

        public long acceptedTotal() {
            return (Long) call("getAcceptedTotal");
        }

        public void forward() {
            call("forward");
        }

        public void refuse() {
            call("refuse");
        }

        public void silent() {
            call("silent");
        }

        public void reset() {
            call("reset");
        }
    }

    @Override
    public Map<String, String> getConfigOverrides() {
        // the JDBC URL (Flyway) names the server the proxy forwards to, which this class loader started: each
        // class loader has its own test PostgreSQL (see PostgresResource)
        return Map.of(
                "quarkus.datasource.reactive.url", "postgresql://127.0.0.1:" + proxy().port() + "/postgres",
                "quarkus.datasource.jdbc.url", "jdbc:postgresql://127.0.0.1:" + PostgresResource.port() + "/postgres",
                "tokenvault.database.timeout", "1S",
                "tokenvault.database.health-timeout", "1S",
                "tokenvault.database.idle-timeout", "5S",
                "tokenvault.database.connect-timeout", "1S");
    }
}
