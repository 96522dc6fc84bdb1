package dev.tokenvault.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.deser.BeanDeserializerBuilder;
import com.fasterxml.jackson.databind.deser.BeanDeserializerModifier;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyEgressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.openshift.api.model.monitoring.v1.PrometheusRule;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;

/**
 * Renders the Helm chart in {@code deploy/helm/tokenvault} offline (helm-java embeds Helm: no binary, no cluster) and
 * reads every rendered document STRICTLY into the fabric8 Kubernetes model of its apiVersion/kind: an unknown field, a
 * field of the wrong type, a duplicate key or an unexpected kind is an error, as it would be for the API server. Then
 * checks what the deployment promises: non-root, read-only root file system, no capabilities, health probes,
 * secrets only by reference, and the companion objects.
 */
class HelmChartTest {

    static final Path CHART = Path.of("deploy", "helm", "tokenvault");
    static final String RELEASE = "tokenvault";
    static final String NAMESPACE = "tokenvault";

    /** Environment variable names that carry a secret value: only a secretKeyRef may provide them. */
    static final Pattern SECRET_NAME = Pattern.compile("(?i).*(password|secret|token|credentials?|private[-_.]?key)$");
    static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");

    /** The kinds the chart may render, by "apiVersion/kind", with the model class each must parse into. */
    static final Map<String, Class<? extends HasMetadata>> KINDS = Map.ofEntries(
            Map.entry("v1/ConfigMap", ConfigMap.class),
            Map.entry("v1/Service", Service.class),
            Map.entry("v1/ServiceAccount", ServiceAccount.class),
            Map.entry("apps/v1/Deployment", Deployment.class),
            Map.entry("policy/v1/PodDisruptionBudget", PodDisruptionBudget.class),
            Map.entry("autoscaling/v2/HorizontalPodAutoscaler", HorizontalPodAutoscaler.class),
            Map.entry("networking.k8s.io/v1/NetworkPolicy", NetworkPolicy.class),
            Map.entry("networking.k8s.io/v1/Ingress", Ingress.class),
            // the Prometheus Operator's CRDs (metrics.*; see MonitoringChartTest)
            Map.entry("monitoring.coreos.com/v1/ServiceMonitor", ServiceMonitor.class),
            Map.entry("monitoring.coreos.com/v1/PrometheusRule", PrometheusRule.class));

    /** Splits helm's multi-document output; duplicate keys are errors (the API server would see only one). */
    static final ObjectMapper YAML = YAMLMapper.builder(YAMLFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build())
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            .build();

    /**
     * Reads a document into the typed model strictly. fabric8's model classes collect unknown fields in an
     * {@code additionalProperties} map through {@code @JsonAnySetter}, so FAIL_ON_UNKNOWN_PROPERTIES alone would never
     * fire: the modifier removes that any-setter, and unknown fields fail. Scalar coercions are refused too (a string
     * where Kubernetes wants an integer, a number or a boolean where it wants a string), as the API server does.
     */
    static final ObjectMapper STRICT = strictMapper();

    static ObjectMapper strictMapper() {
        SimpleModule noAnySetter = new SimpleModule("no-additional-properties");
        noAnySetter.setDeserializerModifier(new BeanDeserializerModifier() {
            @Override
            public BeanDeserializerBuilder updateBuilder(DeserializationConfig config, BeanDescription description,
                    BeanDeserializerBuilder builder) {
                builder.setAnySetter(null);
                return builder;
            }
        });
        JsonMapper mapper = JsonMapper.builder()
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
                .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                .addModule(noAnySetter)
                .build();
        for (CoercionInputShape shape : List.of(CoercionInputShape.Integer, CoercionInputShape.Float,
                CoercionInputShape.Boolean)) {
            mapper.coercionConfigFor(LogicalType.Textual).setCoercion(shape, CoercionAction.Fail);
        }
        for (LogicalType type : List.of(LogicalType.Integer, LogicalType.Float, LogicalType.Boolean)) {
            mapper.coercionConfigFor(type).setCoercion(CoercionInputShape.String, CoercionAction.Fail);
        }
        return mapper;
    }

    /** A rendered manifest that the Kubernetes model (or a rule of this test) rejects. */
    static final class InvalidManifestException extends RuntimeException {
        InvalidManifestException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The objects of one rendering, strictly parsed. */
    record Rendered(String yaml, List<HasMetadata> objects) {

        <T extends HasMetadata> List<T> all(Class<T> type) {
            return objects.stream().filter(type::isInstance).map(type::cast).toList();
        }

        <T extends HasMetadata> T one(Class<T> type) {
            List<T> found = all(type);
            assertThat(found).as("rendered %s objects", type.getSimpleName()).hasSize(1);
            return found.get(0);
        }

        Set<String> kinds() {
            return objects.stream().map(HasMetadata::getKind).collect(Collectors.toCollection(TreeSet::new));
        }

        Deployment deployment() {
            return one(Deployment.class);
        }

        PodSpec pod() {
            return deployment().getSpec().getTemplate().getSpec();
        }

        Container container() {
            List<Container> containers = pod().getContainers();
            assertThat(containers).extracting(Container::getName).containsExactly("tokenvault");
            return containers.get(0);
        }

        /** The main ConfigMap (environment variables). */
        Map<String, String> config() {
            return all(ConfigMap.class).stream().filter(c -> c.getMetadata().getName().equals(RELEASE)).findFirst()
                    .orElseThrow().getData();
        }

        /** The callers' properties file (templates/callers-configmap.yaml), parsed as Quarkus will read it. */
        java.util.Properties callers() throws IOException {
            ConfigMap cm = all(ConfigMap.class).stream()
                    .filter(c -> c.getMetadata().getName().equals(RELEASE + "-callers")).findFirst().orElseThrow();
            java.util.Properties props = new java.util.Properties();
            props.load(new java.io.StringReader(cm.getData().get("callers.properties")));
            return props;
        }
    }

    // ---- rendering ---------------------------------------------------------------------------------------------

    static String template(Map<String, String> sets, Path valuesFile) {
        TemplateCommand command = new Helm(CHART).template().withName(RELEASE).withNamespace(NAMESPACE);
        if (valuesFile != null) {
            command = command.withValuesFile(valuesFile);
        }
        for (Map.Entry<String, String> set : sets.entrySet()) {
            command = command.set(set.getKey(), set.getValue());
        }
        return command.call();
    }

    static Rendered render(Map<String, String> sets) {
        return parseStrictly(template(sets, null));
    }

    static Rendered render(Path valuesFile) {
        return parseStrictly(template(Map.of(), valuesFile));
    }

    static Rendered parseStrictly(String yaml) {
        List<HasMetadata> objects = new ArrayList<>();
        try (MappingIterator<JsonNode> documents = YAML.readerFor(JsonNode.class).readValues(yaml)) {
            while (documents.hasNext()) {
                JsonNode document = documents.next();
                if (document == null || document.isNull() || document.isMissingNode() || document.isEmpty()) {
                    continue;
                }
                String key = document.path("apiVersion").asText() + "/" + document.path("kind").asText();
                String name = document.path("metadata").path("name").asText();
                Class<? extends HasMetadata> type = KINDS.get(key);
                if (type == null) {
                    throw new InvalidManifestException("unexpected apiVersion/kind " + key + " (" + name + ")", null);
                }
                try {
                    objects.add(STRICT.treeToValue(document, type));
                } catch (JsonProcessingException e) {
                    throw new InvalidManifestException(key + " " + name + ": " + e.getOriginalMessage(), e);
                }
            }
        } catch (IOException e) {
            throw new InvalidManifestException("rendered YAML does not parse: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            if (e instanceof InvalidManifestException) {
                throw e;
            }
            // MappingIterator wraps parse errors (a duplicate key, broken YAML) in a RuntimeException
            throw new InvalidManifestException("rendered YAML does not parse: " + e.getMessage(), e);
        }
        Rendered rendered = new Rendered(yaml, objects);
        checkConsistency(rendered);
        return rendered;
    }

    /** What the schema alone does not say but the API server or the cluster would trip over. */
    static void checkConsistency(Rendered rendered) {
        for (HasMetadata object : rendered.objects()) {
            String name = object.getMetadata().getName();
            require(name != null && name.length() <= 63 && DNS_LABEL.matcher(name).matches(),
                    object.getKind() + " name is not a DNS label: " + name);
            require(NAMESPACE.equals(object.getMetadata().getNamespace()),
                    object.getKind() + " " + name + " is not in the release namespace");
        }
        Deployment deployment = rendered.deployment();
        Map<String, String> selector = deployment.getSpec().getSelector().getMatchLabels();
        Map<String, String> podLabels = deployment.getSpec().getTemplate().getMetadata().getLabels();
        require(podLabels.entrySet().containsAll(selector.entrySet()), "Deployment selector does not match its pods");
        PodSpec pod = deployment.getSpec().getTemplate().getSpec();
        Set<String> volumes = pod.getVolumes().stream().map(Volume::getName).collect(Collectors.toSet());
        for (Container container : pod.getContainers()) {
            container.getVolumeMounts().forEach(mount -> require(volumes.contains(mount.getName()),
                    "volume mount " + mount.getName() + " has no volume"));
            Set<String> portNames = container.getPorts().stream().map(p -> p.getName()).collect(Collectors.toSet());
            for (Probe probe : new Probe[] { container.getStartupProbe(), container.getLivenessProbe(),
                    container.getReadinessProbe() }) {
                if (probe != null && probe.getHttpGet() != null) {
                    String path = probe.getHttpGet().getPath();
                    require(path != null && path.startsWith("/"), "probe path must be absolute: " + path);
                    String port = probe.getHttpGet().getPort().getStrVal();
                    require(port == null || portNames.contains(port), "probe port " + port + " is not a container port");
                }
            }
            if (container.getResources() != null && container.getResources().getLimits() != null
                    && container.getResources().getRequests() != null) {
                Quantity request = container.getResources().getRequests().get("memory");
                Quantity limit = container.getResources().getLimits().get("memory");
                if (request != null && limit != null) {
                    require(Quantity.getAmountInBytes(request).compareTo(Quantity.getAmountInBytes(limit)) <= 0,
                            "memory request above its limit");
                }
            }
            for (EnvVar env : container.getEnv()) {
                require(!SECRET_NAME.matcher(env.getName()).matches()
                        || (env.getValue() == null && env.getValueFrom() != null
                                && env.getValueFrom().getSecretKeyRef() != null),
                        "secret-like variable " + env.getName() + " must come from a secretKeyRef");
            }
        }
        for (ConfigMap configMap : rendered.all(ConfigMap.class)) {
            configMap.getData().keySet().forEach(key -> require(!SECRET_NAME.matcher(key).matches(),
                    "ConfigMap " + configMap.getMetadata().getName() + " holds a secret-like key " + key));
        }
        for (Service service : rendered.all(Service.class)) {
            require(podLabels.entrySet().containsAll(service.getSpec().getSelector().entrySet()),
                    "Service selector does not match the pods");
            Set<String> containerPorts = pod.getContainers().stream().flatMap(c -> c.getPorts().stream())
                    .map(p -> p.getName()).collect(Collectors.toSet());
            service.getSpec().getPorts().forEach(port -> require(port.getTargetPort().getStrVal() == null
                    || containerPorts.contains(port.getTargetPort().getStrVal()),
                    "Service targetPort " + port.getTargetPort() + " names no container port"));
        }
        for (PodDisruptionBudget pdb : rendered.all(PodDisruptionBudget.class)) {
            require(podLabels.entrySet().containsAll(pdb.getSpec().getSelector().getMatchLabels().entrySet()),
                    "PodDisruptionBudget selector does not match the pods");
        }
        for (NetworkPolicy policy : rendered.all(NetworkPolicy.class)) {
            require(podLabels.entrySet().containsAll(policy.getSpec().getPodSelector().getMatchLabels().entrySet()),
                    "NetworkPolicy does not select the pods");
        }
        for (HorizontalPodAutoscaler hpa : rendered.all(HorizontalPodAutoscaler.class)) {
            require(deployment.getMetadata().getName().equals(hpa.getSpec().getScaleTargetRef().getName()),
                    "HorizontalPodAutoscaler does not target the Deployment");
        }
        String serviceAccount = pod.getServiceAccountName();
        rendered.all(ServiceAccount.class).forEach(sa -> require(sa.getMetadata().getName().equals(serviceAccount),
                "the Deployment does not run as the rendered ServiceAccount"));
    }

    static void require(boolean condition, String message) {
        if (!condition) {
            throw new InvalidManifestException(message, null);
        }
    }

    // ---- the strict reader itself -------------------------------------------------------------------------

    @Test
    void strictReaderRejectsUnknownFieldsAndWrongTypes() {
        assertThatThrownBy(() -> parseStrictly("""
                apiVersion: v1
                kind: Service
                metadata: {name: x, namespace: tokenvault}
                spec: {portz: [{port: 8080}]}
                """)).isInstanceOf(InvalidManifestException.class).hasMessageContaining("portz");
        assertThatThrownBy(() -> parseStrictly("""
                apiVersion: v1
                kind: Service
                metadata: {name: x, namespace: tokenvault}
                spec: {ports: [{port: "8080"}]}
                """)).isInstanceOf(InvalidManifestException.class);
        assertThatThrownBy(() -> parseStrictly("""
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: x, namespace: tokenvault}
                data: {ENABLED: true}
                """)).isInstanceOf(InvalidManifestException.class);
        assertThatThrownBy(() -> parseStrictly("""
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: x, namespace: tokenvault}
                data: {A: "1", A: "2"}
                """)).isInstanceOf(InvalidManifestException.class);
        assertThatThrownBy(() -> parseStrictly("""
                apiVersion: apps/v1beta1
                kind: Deployment
                metadata: {name: x, namespace: tokenvault}
                """)).isInstanceOf(InvalidManifestException.class).hasMessageContaining("apps/v1beta1/Deployment");
    }

    // ---- defaults ---------------------------------------------------------------------------------------

    @Test
    void defaultsRenderTheExpectedObjects() {
        Rendered rendered = render(Map.of());

        assertThat(rendered.kinds()).containsExactly("ConfigMap", "Deployment", "NetworkPolicy", "PodDisruptionBudget",
                "Service", "ServiceAccount");
        assertThat(rendered.deployment().getSpec().getReplicas()).isEqualTo(2);
        assertThat(rendered.one(PodDisruptionBudget.class).getSpec().getMaxUnavailable().getIntVal()).isEqualTo(1);
        ServiceAccount serviceAccount = rendered.one(ServiceAccount.class);
        assertThat(serviceAccount.getMetadata().getName()).isEqualTo("tokenvault");
        assertThat(serviceAccount.getAutomountServiceAccountToken()).isFalse();
        assertThat(rendered.pod().getServiceAccountName()).isEqualTo("tokenvault");
    }

    @Test
    void deploymentRunsHardenedByDefault() {
        Rendered rendered = render(Map.of());
        PodSpec pod = rendered.pod();
        Container container = rendered.container();

        assertThat(container.getImage()).isEqualTo("tokenvault/tokenvault-native:0.1.0");
        assertThat(rendered.config()).doesNotContainKeys("JAVA_MAX_MEM_RATIO", "GC_CONTAINER_OPTIONS", "MALLOC_ARENA_MAX",
                "MP_JWT_VERIFY_AUDIENCES");
        assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
        assertThat(pod.getSecurityContext().getRunAsUser()).isEqualTo(1001L);
        assertThat(pod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
        assertThat(pod.getAutomountServiceAccountToken()).isFalse();

        var securityContext = container.getSecurityContext();
        assertThat(securityContext.getRunAsNonRoot()).isTrue();
        assertThat(securityContext.getRunAsUser()).isEqualTo(1001L);
        assertThat(securityContext.getReadOnlyRootFilesystem()).isTrue();
        assertThat(securityContext.getAllowPrivilegeEscalation()).isFalse();
        assertThat(securityContext.getPrivileged()).isFalse();
        assertThat(securityContext.getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(securityContext.getCapabilities().getAdd()).isNullOrEmpty();
        assertThat(securityContext.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");

        // the only writable path is an emptyDir on /tmp
        assertThat(container.getVolumeMounts()).filteredOn(m -> !Boolean.TRUE.equals(m.getReadOnly()))
                .singleElement().satisfies(m -> assertThat(m.getMountPath()).isEqualTo("/tmp"));
        assertThat(pod.getVolumes()).filteredOn(v -> v.getName().equals("tmp")).singleElement()
                .satisfies(v -> assertThat(v.getEmptyDir()).isNotNull());

        // Vault gets a short-lived token for its own audience, no Kubernetes API token
        Volume vaultToken = pod.getVolumes().stream().filter(v -> v.getName().equals("vault-token")).findFirst()
                .orElseThrow();
        var projected = vaultToken.getProjected().getSources().get(0).getServiceAccountToken();
        assertThat(projected.getAudience()).isEqualTo("vault");
        assertThat(projected.getExpirationSeconds()).isEqualTo(3600L);
        assertThat(rendered.config()).containsEntry("QUARKUS_VAULT_AUTHENTICATION_KUBERNETES_JWT_TOKEN_PATH",
                "/var/run/secrets/tokenvault/vault/token");

        // replicas spread over nodes and zones
        assertThat(pod.getTopologySpreadConstraints()).extracting(c -> c.getTopologyKey())
                .containsExactly("topology.kubernetes.io/zone", "kubernetes.io/hostname");
        assertThat(pod.getAffinity().getPodAntiAffinity().getPreferredDuringSchedulingIgnoredDuringExecution())
                .isNotEmpty();

        assertThat(container.getResources().getRequests()).containsKeys("cpu", "memory");
        assertThat(container.getResources().getLimits()).containsKey("memory");
    }

    @Test
    void probesUseTheQuarkusHealthEndpoints() {
        Container container = render(Map.of()).container();

        assertThat(container.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/q/health/live");
        assertThat(container.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/q/health/ready");
        assertThat(container.getStartupProbe().getHttpGet().getPath()).isEqualTo("/q/health/live");
        for (Probe probe : List.of(container.getLivenessProbe(), container.getReadinessProbe(),
                container.getStartupProbe())) {
            assertThat(probe.getHttpGet().getPort().getStrVal()).isEqualTo("management");
        }
    }

    @Test
    void theApiAndTheManagementInterfaceHaveTheirOwnPorts() {
        Rendered rendered = render(Map.of());

        assertThat(rendered.container().getPorts()).extracting(p -> p.getName() + ":" + p.getContainerPort())
                .containsExactly("http:8080", "management:9000");
        assertThat(rendered.one(Service.class).getSpec().getPorts())
                .extracting(p -> p.getName() + ":" + p.getPort() + "->" + p.getTargetPort().getStrVal())
                .containsExactly("http:8080->http", "management:9000->management");
        // 8080 from callers and the ingress controller; 9000 (health, metrics) from the monitoring namespace only
        List<io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule> ingress = rendered
                .one(NetworkPolicy.class).getSpec().getIngress();
        assertThat(ingress).extracting(rule -> rule.getPorts().get(0).getPort().getIntVal()).containsExactly(8080, 9000);
        assertThat(ingress.get(1).getFrom()).singleElement().satisfies(peer -> assertThat(
                peer.getNamespaceSelector().getMatchLabels()).containsEntry("kubernetes.io/metadata.name", "monitoring"));
        assertThat(ingress.get(0).getFrom()).noneMatch(peer -> peer.getNamespaceSelector() != null
                && "monitoring".equals(peer.getNamespaceSelector().getMatchLabels().get("kubernetes.io/metadata.name")));
    }

    // ---- the public surface ------------------------------------------------------------------------------------

    @Test
    void theIngressRoutesOnlyOAuthAndWebhooks() {
        assertThat(render(Map.of()).all(Ingress.class)).as("no Ingress unless asked for").isEmpty();
        Rendered rendered = render(Map.of("ingress.enabled", "true", "ingress.host", "vault.example.com",
                "ingress.className", "nginx", "ingress.tls.secretName", "vault-tls",
                "ingress.annotations.cert-manager\\.io/cluster-issuer", "letsencrypt"));
        Ingress ingress = rendered.one(Ingress.class);
        assertThat(ingress.getSpec().getIngressClassName()).isEqualTo("nginx");
        assertThat(ingress.getMetadata().getAnnotations()).containsEntry("cert-manager.io/cluster-issuer", "letsencrypt");
        assertThat(ingress.getSpec().getTls()).singleElement().satisfies(tls -> {
            assertThat(tls.getHosts()).containsExactly("vault.example.com");
            assertThat(tls.getSecretName()).isEqualTo("vault-tls");
        });
        assertThat(ingress.getSpec().getRules()).singleElement().satisfies(rule -> {
            assertThat(rule.getHost()).isEqualTo("vault.example.com");
            assertThat(rule.getHttp().getPaths()).extracting(p -> p.getPathType() + " " + p.getPath())
                    .containsExactly("Prefix /oauth/", "Prefix /webhooks/");
            assertThat(rule.getHttp().getPaths()).allSatisfy(p -> {
                assertThat(p.getBackend().getService().getName()).isEqualTo(RELEASE);
                assertThat(p.getBackend().getService().getPort().getName()).isEqualTo("http");
            });
        });
        assertThatThrownBy(() -> render(Map.of("ingress.enabled", "true"))).hasMessageContaining("ingress.host");
    }

    // ---- callers -----------------------------------------------------------------------------------------------

    @Test
    void serviceAccountCallersAndPoliciesBecomeOnePropertiesFile(@TempDir Path dir) throws IOException {
        assertThat(render(Map.of()).all(ConfigMap.class)).hasSize(1);
        assertThat(render(Map.of()).container().getEnv()).noneMatch(e -> e.getName().equals("QUARKUS_CONFIG_LOCATIONS"));
        Path values = dir.resolve("values.yaml");
        Files.writeString(values, """
                callers:
                  kubernetes:
                    enabled: true
                  issuers:
                    corp:
                      issuer: https://idp.example.com
                      jwksUrl: https://idp.example.com/jwks
                      audiences: [tokenvault, tokenvault-staging]
                      trustClaims: true
                  policies:
                    crm-sync:
                      issuer: kubernetes
                      subject: "system:serviceaccount:crm:*"
                      actions: [tokens.read, hubspot.proxy]
                      apps: [default]
                      portals: [62515, "62516"]
                    billing:
                      issuer: kubernetes
                      claims:
                        kubernetes.io/namespace: billing
                      actions: [tokens.admin]
                      apps: ["*"]
                      portals: ["*"]
                """);
        Rendered rendered = render(values);
        java.util.Properties p = rendered.callers();
        assertThat(p).containsEntry("tokenvault.callers.issuers.kubernetes.kind", "kubernetes")
                .containsEntry("tokenvault.callers.issuers.kubernetes.issuer", "https://kubernetes.default.svc.cluster.local")
                .containsEntry("tokenvault.callers.issuers.kubernetes.audiences", "tokenvault")
                .containsEntry("tokenvault.callers.issuers.kubernetes.jwks-url",
                        "https://kubernetes.default.svc/openid/v1/jwks")
                .containsEntry("tokenvault.callers.issuers.kubernetes.jwks-bearer-token-file",
                        "/var/run/secrets/tokenvault/kube-api/token")
                .containsEntry("tokenvault.callers.issuers.kubernetes.jwks-ca-file",
                        "/var/run/secrets/tokenvault/kube-api/ca.crt")
                .containsEntry("tokenvault.callers.issuers.corp.audiences", "tokenvault,tokenvault-staging")
                .containsEntry("tokenvault.callers.issuers.corp.trust-claims", "true")
                .containsEntry("tokenvault.callers.policies.crm-sync.subject", "system:serviceaccount:crm:*")
                .containsEntry("tokenvault.callers.policies.crm-sync.actions", "tokens.read,hubspot.proxy")
                .containsEntry("tokenvault.callers.policies.crm-sync.portals", "62515,62516")
                .containsEntry("tokenvault.callers.policies.billing.claims.\"kubernetes.io/namespace\"", "billing")
                .containsEntry("tokenvault.callers.policies.billing.apps", "*");
        // the file is read as a config source
        assertThat(rendered.container().getEnv()).anySatisfy(e -> {
            assertThat(e.getName()).isEqualTo("QUARKUS_CONFIG_LOCATIONS");
            assertThat(e.getValue()).isEqualTo("/etc/tokenvault/callers/callers.properties");
        });
        assertThat(rendered.container().getVolumeMounts()).extracting(m -> m.getName() + ":" + m.getMountPath())
                .contains("callers:/etc/tokenvault/callers", "kube-api:/var/run/secrets/tokenvault/kube-api");
        // the keys are read from the API server with a token of its audience and the cluster CA, nothing more
        Volume kubeApi = rendered.pod().getVolumes().stream().filter(v -> v.getName().equals("kube-api")).findFirst()
                .orElseThrow();
        assertThat(kubeApi.getProjected().getSources()).hasSize(2);
        assertThat(kubeApi.getProjected().getSources().get(0).getServiceAccountToken().getAudience()).isNull();
        assertThat(kubeApi.getProjected().getSources().get(1).getConfigMap().getName()).isEqualTo("kube-root-ca.crt");
        assertThat(rendered.pod().getAutomountServiceAccountToken()).isFalse();
        // and the NetworkPolicy lets the pod reach the API server
        assertThat(rendered.one(NetworkPolicy.class).getSpec().getEgress()).anySatisfy(rule -> assertThat(rule.getPorts())
                .extracting(port -> port.getPort().getIntVal()).containsExactly(443, 6443));

        // keys from a ConfigMap instead: no API token in the pod
        Rendered fromConfigMap = render(Map.of("callers.kubernetes.enabled", "true", "callers.kubernetes.jwksConfigMap",
                "cluster-jwks"));
        assertThat(fromConfigMap.callers()).containsEntry("tokenvault.callers.issuers.kubernetes.public-key-location",
                "/etc/tokenvault/kube-jwks/jwks.json").doesNotContainKey("tokenvault.callers.issuers.kubernetes.jwks-url");
        assertThat(fromConfigMap.pod().getVolumes()).extracting(Volume::getName).contains("kube-jwks")
                .doesNotContain("kube-api");
    }

    @Test
    void invalidCallerNamesAreRefusedByTheChart() {
        assertThatThrownBy(() -> render(Map.of("callers.policies.Bad_Name.issuer", "default"))).hasMessageContaining(
                "callers.policies");
        assertThatThrownBy(() -> render(Map.of("callers.issuers.default.issuer", "https://x"))).hasMessageContaining(
                "callers.issuers");
        assertThatThrownBy(() -> render(Map.of("callers.policies.p.issuer", "default", "callers.policies.p.subject", "x",
                "callers.policies.p.apps", "*", "callers.policies.p.portals", "*"))).hasMessageContaining(
                        "callers.policies.p.actions is required");
    }

    @Test
    void networkPolicyAllowsOnlyTheDeclaredTraffic() {
        NetworkPolicy policy = render(Map.of()).one(NetworkPolicy.class);

        assertThat(policy.getSpec().getPolicyTypes()).containsExactlyInAnyOrder("Ingress", "Egress");
        assertThat(policy.getSpec().getIngress().get(0).getFrom()).isNotEmpty();
        List<Integer> egressPorts = policy.getSpec().getEgress().stream()
                .map(NetworkPolicyEgressRule::getPorts).flatMap(List::stream)
                .map(NetworkPolicyPort::getPort).map(p -> p.getIntVal()).distinct().toList();
        assertThat(egressPorts).containsExactlyInAnyOrder(53, 5432, 8200, 443);
        // HTTPS goes to the internet, not to the cluster's private ranges
        NetworkPolicyEgressRule https = policy.getSpec().getEgress().stream()
                .filter(rule -> rule.getPorts().get(0).getPort().getIntVal() == 443).findFirst().orElseThrow();
        assertThat(https.getTo()).singleElement()
                .satisfies(peer -> assertThat(peer.getIpBlock().getExcept()).contains("10.0.0.0/8"));
    }

    // ---- secrets --------------------------------------------------------------------------------------------

    @Test
    void theHubSpotProxySettingsAndEachAppsBudgetAndPathsBecomeConfiguration(@TempDir Path dir) throws IOException {
        Path values = dir.resolve("values.yaml");
        Files.writeString(values, """
                proxy: {minValidity: "120", maxWait: 5S, maxBodySize: 2M, timeout: 20S}
                apps:
                  default:
                    clientId: client-id-1
                    proxyAllowedPaths: /crm/v3/objects/contacts,/crm/v3/objects/companies
                    rateLimit: {calls: 190, interval: 10S, searchCalls: 5, searchInterval: 1S}
                  ops-eu:
                    rateLimit: {calls: 150}
                """);
        Rendered rendered = render(values);
        assertThat(rendered.config()).containsEntry("TOKENVAULT_PROXY_MIN_VALIDITY", "120")
                .containsEntry("TOKENVAULT_PROXY_MAX_WAIT", "5S").containsEntry("TOKENVAULT_PROXY_MAX_BODY_SIZE", "2M")
                .containsEntry("TOKENVAULT_PROXY_TIMEOUT", "20S")
                .containsEntry("TOKENVAULT_APPS_DEFAULT_PROXY_ALLOWED_PATHS",
                        "/crm/v3/objects/contacts,/crm/v3/objects/companies")
                .containsEntry("TOKENVAULT_APPS_DEFAULT_RATE_LIMIT_CALLS", "190")
                .containsEntry("TOKENVAULT_APPS_DEFAULT_RATE_LIMIT_INTERVAL", "10S")
                .containsEntry("TOKENVAULT_APPS_DEFAULT_RATE_LIMIT_SEARCH_CALLS", "5")
                .containsEntry("TOKENVAULT_APPS_DEFAULT_RATE_LIMIT_SEARCH_INTERVAL", "1S")
                .containsEntry("tokenvault.apps.ops-eu.rate-limit.calls", "150");
        assertThat(render(Map.of()).config()).doesNotContainKeys("TOKENVAULT_PROXY_MAX_WAIT",
                "TOKENVAULT_APPS_DEFAULT_RATE_LIMIT_CALLS");
    }

    @Test
    void secretsAreOnlyReferencedNeverRendered(@TempDir Path dir) throws IOException {
        Path values = dir.resolve("values.yaml");
        Files.writeString(values, """
                notify:
                  url: https://hooks.example.com/tokenvault
                apps:
                  default:
                    clientId: client-id-1
                    clientSecretVaultPath: tokenvault/apps/default
                  ops-eu:
                    clientId: client-id-2
                    clientSecretSecret: {name: hubspot-ops-eu}
                """);
        Rendered rendered = render(values);
        Map<String, EnvVar> env = rendered.container().getEnv().stream()
                .collect(Collectors.toMap(EnvVar::getName, e -> e, (a, b) -> a, LinkedHashMap::new));

        assertThat(env.keySet()).contains("QUARKUS_DATASOURCE_USERNAME", "QUARKUS_DATASOURCE_PASSWORD",
                "TOKENVAULT_NOTIFY_SECRET", "tokenvault.apps.ops-eu.client-secret");
        for (EnvVar var : env.values()) {
            assertThat(var.getValue()).as("literal value of %s", var.getName()).isNull();
            assertThat(var.getValueFrom().getSecretKeyRef()).as("secretKeyRef of %s", var.getName()).isNotNull();
        }
        assertThat(env.get("QUARKUS_DATASOURCE_PASSWORD").getValueFrom().getSecretKeyRef().getName())
                .isEqualTo("tokenvault-db");
        assertThat(env.get("TOKENVAULT_NOTIFY_SECRET").getValueFrom().getSecretKeyRef().getName())
                .isEqualTo("tokenvault-notify");
        assertThat(env.get("tokenvault.apps.ops-eu.client-secret").getValueFrom().getSecretKeyRef().getKey())
                .isEqualTo("client-secret");
        assertThat(rendered.kinds()).doesNotContain("Secret");
        assertThat(rendered.config()).containsEntry("TOKENVAULT_APPS_DEFAULT_CLIENT_ID", "client-id-1")
                .containsEntry("TOKENVAULT_APPS_DEFAULT_CLIENT_SECRET_VAULT_PATH", "tokenvault/apps/default")
                .containsEntry("tokenvault.apps.ops-eu.client-id", "client-id-2")
                .containsEntry("TOKENVAULT_NOTIFY_URL", "https://hooks.example.com/tokenvault");
        assertThat(rendered.container().getEnvFrom()).singleElement()
                .satisfies(source -> assertThat(source.getConfigMapRef().getName()).isEqualTo("tokenvault"));
    }

    @Test
    void aSecretInThePlainConfigurationIsRefused() {
        assertThatThrownBy(() -> template(Map.of("extraConfig.QUARKUS_DATASOURCE_PASSWORD", "hunter2"), null))
                .hasMessageContaining("looks like a secret");
    }

    // ---- overrides ----------------------------------------------------------------------------------------

    @Test
    void jvmFlavourWithAutoscaling() {
        Rendered rendered = render(Map.of(
                "image.flavor", "jvm",
                "image.registry", "registry.example.com",
                "image.jvm.tag", "1.2.3",
                "autoscaling.enabled", "true",
                "autoscaling.targetMemoryUtilizationPercentage", "80"));

        assertThat(rendered.kinds()).contains("HorizontalPodAutoscaler");
        Container container = rendered.container();
        assertThat(container.getImage()).isEqualTo("registry.example.com/tokenvault/tokenvault-jvm:1.2.3");
        assertThat(container.getSecurityContext().getRunAsUser()).isEqualTo(185L);
        assertThat(rendered.pod().getSecurityContext().getRunAsUser()).isEqualTo(185L);
        assertThat(container.getResources().getLimits().get("memory")).isEqualTo(new Quantity("512Mi"));
        // the JVM settings bench/run.sh measures by default (docs/performance.md)
        assertThat(rendered.config()).containsEntry("JAVA_MAX_MEM_RATIO", "25")
                .containsEntry("GC_CONTAINER_OPTIONS", "-XX:+UseParallelGC").containsEntry("MALLOC_ARENA_MAX", "2");
        // the HPA owns the replica count
        assertThat(rendered.deployment().getSpec().getReplicas()).isNull();
        HorizontalPodAutoscaler hpa = rendered.one(HorizontalPodAutoscaler.class);
        assertThat(hpa.getSpec().getMinReplicas()).isEqualTo(2);
        assertThat(hpa.getSpec().getMaxReplicas()).isEqualTo(6);
        assertThat(hpa.getSpec().getMetrics()).extracting(m -> m.getResource().getName())
                .containsExactly("cpu", "memory");
    }

    @Test
    void extraEnvConfigAndVolumesAreAdded(@TempDir Path dir) throws IOException {
        Path values = dir.resolve("values.yaml");
        Files.writeString(values, """
                publicBaseUrl: https://tokenvault.example.com
                jwt:
                  publicKeyLocation: https://idp.example.com/.well-known/jwks.json
                  issuer: https://idp.example.com
                  audiences: tokenvault
                database:
                  host: pg.db.svc
                  port: 6432
                vault:
                  tls:
                    caConfigMap: vault-ca
                apps:
                  default:
                    hubspotAppId: 12345678
                extraConfig:
                  QUARKUS_LOG_LEVEL: DEBUG
                  TOKENVAULT_REFRESH_MAX_CONCURRENCY: 32
                extraEnv:
                  - name: POD_NAME
                    valueFrom:
                      fieldRef: {fieldPath: metadata.name}
                extraContainerFields:
                  lifecycle:
                    preStop:
                      sleep: {seconds: 5}
                podAntiAffinity: hard
                podDisruptionBudget:
                  minAvailable: 50%
                """);
        Rendered rendered = render(values);
        Map<String, String> config = rendered.config();

        assertThat(config).containsEntry("TOKENVAULT_PUBLIC_BASE_URL", "https://tokenvault.example.com")
                .containsEntry("MP_JWT_VERIFY_PUBLICKEY_LOCATION", "https://idp.example.com/.well-known/jwks.json")
                .containsEntry("MP_JWT_VERIFY_ISSUER", "https://idp.example.com")
                .containsEntry("MP_JWT_VERIFY_AUDIENCES", "tokenvault")
                .containsEntry("QUARKUS_DATASOURCE_REACTIVE_URL", "postgresql://pg.db.svc:6432/tokenvault")
                .containsEntry("QUARKUS_DATASOURCE_JDBC_URL", "jdbc:postgresql://pg.db.svc:6432/tokenvault")
                .containsEntry("QUARKUS_VAULT_TLS_CA_CERT", "/etc/tokenvault/vault-ca/ca.crt")
                .containsEntry("TOKENVAULT_APPS_DEFAULT_HUBSPOT_APP_ID", "12345678")
                .containsEntry("QUARKUS_LOG_LEVEL", "DEBUG")
                .containsEntry("TOKENVAULT_REFRESH_MAX_CONCURRENCY", "32");
        Container container = rendered.container();
        assertThat(container.getEnv()).extracting(EnvVar::getName).contains("POD_NAME");
        assertThat(container.getLifecycle().getPreStop().getSleep().getSeconds()).isEqualTo(5L);
        assertThat(container.getVolumeMounts()).extracting(m -> m.getMountPath()).contains("/etc/tokenvault/vault-ca");
        assertThat(rendered.pod().getAffinity().getPodAntiAffinity().getRequiredDuringSchedulingIgnoredDuringExecution())
                .isNotEmpty();
        assertThat(rendered.one(PodDisruptionBudget.class).getSpec().getMinAvailable().getStrVal()).isEqualTo("50%");
        assertThat(rendered.one(NetworkPolicy.class).getSpec().getEgress()).anySatisfy(rule -> assertThat(rule.getPorts())
                .extracting(p -> p.getPort().getIntVal()).containsExactly(6432));
    }

    @Test
    void optionalObjectsCanBeTurnedOff() {
        Rendered rendered = render(Map.of(
                "networkPolicy.enabled", "false",
                "podDisruptionBudget.enabled", "false",
                "serviceAccount.create", "false",
                "serviceAccount.name", "existing-sa"));

        assertThat(rendered.kinds()).containsExactly("ConfigMap", "Deployment", "Service");
        assertThat(rendered.pod().getServiceAccountName()).isEqualTo("existing-sa");
    }

    // ---- broken values are caught ------------------------------------------------------------------------

    @Test
    void aMisspelledFieldInThePassThroughIsCaught() {
        assertThatThrownBy(() -> render(Map.of("extraContainerFields.imagePullPolicyy", "Always")))
                .isInstanceOf(InvalidManifestException.class).hasMessageContaining("imagePullPolicyy");
    }

    @Test
    void aMisspelledResourcesKeyIsCaught() {
        // "limit" instead of "limits": Helm renders it happily, the API server would reject the Deployment
        assertThatThrownBy(() -> render(Map.of("resources.native.limit.memory", "1Gi")))
                .isInstanceOf(InvalidManifestException.class).hasMessageContaining("limit");
    }

    @Test
    void aValueOfTheWrongTypeIsCaught() {
        assertThatThrownBy(() -> render(Map.of("service.port", "http")))
                .isInstanceOf(InvalidManifestException.class).hasMessageContaining("Service");
        assertThatThrownBy(() -> render(Map.of("probes.liveness.periodSeconds", "ten")))
                .isInstanceOf(InvalidManifestException.class).hasMessageContaining("Deployment");
    }

    @Test
    void aPassThroughFieldThatTheChartAlreadySetsIsCaught() {
        // a second readinessProbe key in the container: the API server would silently keep only one of them
        assertThatThrownBy(() -> render(Map.of("extraContainerFields.readinessProbe.httpGet.path", "/elsewhere")))
                .hasMessageContaining("readinessProbe");
    }

    @Test
    void theChartRefusesInvalidChoices() {
        assertThatThrownBy(() -> template(Map.of("image.flavor", "graal"), null))
                .hasMessageContaining("image.flavor");
        assertThatThrownBy(() -> template(Map.of("apps.Bad_App.clientId", "x"), null))
                .hasMessageContaining("not a valid app name");
        assertThatThrownBy(() -> template(Map.of("database.existingSecret", ""), null))
                .hasMessageContaining("database.existingSecret");
    }

    @Test
    void helmLintPassesStrictly() {
        LintResult result = new Helm(CHART).lint().strict().call();

        assertThat(result.getMessages()).noneMatch(m -> m.startsWith("[ERROR]") || m.startsWith("[WARNING]"));
        assertThat(result.isFailed()).as("helm lint --strict: %s", result.getMessages()).isFalse();
    }
}
