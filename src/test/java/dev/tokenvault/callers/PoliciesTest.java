package dev.tokenvault.callers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import org.jose4j.jwt.JwtClaims;
import org.junit.jupiter.api.Test;

import dev.tokenvault.config.TokenVaultConfig;
import io.smallrye.jwt.auth.principal.DefaultJWTCallerPrincipal;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.AlphaChars;
import net.jqwik.api.constraints.NumericChars;
import net.jqwik.api.constraints.StringLength;

/** The policy table: what start-up refuses (naming the key), and how subjects and claims match. */
class PoliciesTest {

    record P(String issuer, Optional<String> subject, Map<String, String> claims, List<String> actions,
            List<String> apps, List<String> portals) implements TokenVaultConfig.Callers.Policy {
    }

    static P policy(String subject) {
        return new P("cluster", Optional.ofNullable(subject), Map.of(), List.of("tokens.read"), List.of("default"),
                List.of("3001"));
    }

    static Policies compile(String name, TokenVaultConfig.Callers.Policy p) {
        return Policies.compile(Map.of(name, p), Set.of("default", "cluster"), Set.of("default", "ops"));
    }

    static String startFailure(TokenVaultConfig.Callers.Policy p) {
        try {
            compile("p", p);
        } catch (IllegalStateException e) {
            return e.getMessage();
        }
        throw new AssertionError("the policy was accepted");
    }

    @Test
    void anInvalidPolicyFailsTheStartNamingItsKey() {
        P ok = policy("system:serviceaccount:crm:*");
        assertThat(startFailure(new P("nope", ok.subject(), Map.of(), ok.actions(), ok.apps(), ok.portals())))
                .startsWith("tokenvault.callers.policies.p.issuer: unknown issuer 'nope'");
        assertThat(startFailure(new P("cluster", ok.subject(), Map.of(), List.of("tokens.write"), ok.apps(),
                ok.portals()))).startsWith("tokenvault.callers.policies.p.actions: unknown action 'tokens.write'");
        assertThat(startFailure(new P("cluster", ok.subject(), Map.of(), ok.actions(), List.of("billing"),
                ok.portals()))).startsWith("tokenvault.callers.policies.p.apps: unknown app 'billing'");
        for (String portal : List.of("04001", "+4001", "\u0663", "4.0", "-1", "0")) {
            assertThat(startFailure(new P("cluster", ok.subject(), Map.of(), ok.actions(), ok.apps(), List.of(portal))))
                    .startsWith("tokenvault.callers.policies.p.portals:");
        }
        for (String glob : List.of("system:serviceaccount:crm:**", "system:serviceaccount:crm:?", "a b", "[a]",
                "x{1}", "", "a\tb")) {
            assertThat(startFailure(policy(glob))).as(glob).startsWith("tokenvault.callers.policies.p.subject:");
        }
        assertThat(startFailure(policy(null))).startsWith("tokenvault.callers.policies.p: a policy must match");
        assertThat(startFailure(new P("cluster", ok.subject(), Map.of("a//b", "x"), ok.actions(), ok.apps(),
                ok.portals()))).startsWith("tokenvault.callers.policies.p.claims.a//b:");
        assertThat(startFailure(new P("cluster", ok.subject(), Map.of(), List.of(), ok.apps(), ok.portals())))
                .startsWith("tokenvault.callers.policies.p.actions:");
        assertThatThrownBy(() -> compile("Bad_Name", ok)).hasMessageStartingWith("tokenvault.callers.policies.Bad_Name:");
    }

    static boolean matches(String glob, String sub) {
        return Policies.glob("k", glob).matcher(sub).matches();
    }

    @Test
    void subjectGlobsMatchWholeSubjectsWithStarAsTheOnlyWildcard() {
        assertThat(matches("system:serviceaccount:crm:*", "system:serviceaccount:crm:api")).isTrue();
        assertThat(matches("system:serviceaccount:crm:*", "system:serviceaccount:crmx:api")).isFalse();
        assertThat(matches("system:serviceaccount:crm:*", "system:serviceaccount:crm")).isFalse();
        assertThat(matches("system:serviceaccount:crm:*", "xsystem:serviceaccount:crm:api")).isFalse();
        assertThat(matches("system:serviceaccount:*:api", "system:serviceaccount:crm:api")).isTrue();
        assertThat(matches("system:serviceaccount:*:api", "system:serviceaccount:crm:api2")).isFalse();
        assertThat(matches("*", "anything at all")).isTrue();
        // regex characters are literal
        assertThat(matches("svc.a+b", "svc.a+b")).isTrue();
        assertThat(matches("svc.a+b", "svcXaab")).isFalse();
        assertThat(matches("svc$(x)|y", "svc$(x)|y")).isTrue();
        // case matters
        assertThat(matches("system:serviceaccount:crm:*", "SYSTEM:serviceaccount:crm:api")).isFalse();
    }

    @Property
    void aGlobWithoutStarMatchesExactlyItself(@ForAll @AlphaChars @NumericChars @StringLength(min = 1, max = 30) String s,
            @ForAll @AlphaChars @StringLength(min = 1, max = 3) String extra) {
        assertThat(matches(s, s)).isTrue();
        assertThat(matches(s, s + extra)).isFalse();
        assertThat(matches(s, extra + s)).isFalse();
        assertThat(matches(s + "*", s + extra)).isTrue();
    }

    @Test
    void claimsMatchByValueOrMembershipAlongAPath() throws Exception {
        JwtClaims claims = JwtClaims.parse("""
                {"sub": "system:serviceaccount:crm:api", "department": "ops", "teams": ["a", "b"], "level": 3,
                 "kubernetes.io": {"namespace": "crm", "serviceaccount": {"name": "api"}}}""");
        var jwt = new DefaultJWTCallerPrincipal("raw", "JWT", claims);
        Policies table = Policies.compile(Map.of(
                "by-namespace", new P("cluster", Optional.empty(), Map.of("kubernetes.io/namespace", "crm"),
                        List.of("tokens.read"), List.of("*"), List.of("*")),
                "by-nested", new P("cluster", Optional.empty(), Map.of("kubernetes.io/serviceaccount/name", "api"),
                        List.of("hubspot.proxy"), List.of("default"), List.of("1")),
                "by-member", new P("cluster", Optional.of("*"), Map.of("teams", "b", "level", "3"),
                        List.of("tokens.refresh"), List.of("ops"), List.of("2")),
                "not-member", new P("cluster", Optional.empty(), Map.of("teams", "c"), List.of("tokens.admin"),
                        List.of("*"), List.of("*")),
                "other-issuer", new P("default", Optional.of("*"), Map.of(), List.of("tokens.admin"), List.of("*"),
                        List.of("*")),
                "wrong-path", new P("cluster", Optional.empty(), Map.of("kubernetes.io/namespace/x", "crm"),
                        List.of("tokens.admin"), List.of("*"), List.of("*"))),
                Set.of("default", "cluster"), Set.of("default", "ops"));
        List<Grant> grants = table.grantsFor("cluster", "system:serviceaccount:crm:api", jwt);
        assertThat(grants).extracting(Grant::source).containsExactly("policy:by-member", "policy:by-namespace",
                "policy:by-nested");
        Caller c = Caller.of("system:serviceaccount:crm:api", "cluster", false, Set.of(), null, grants);
        assertThat(c.may("tokens.read", "default", 99L)).isTrue();
        assertThat(c.may("hubspot.proxy", "default", 1L)).isTrue();
        assertThat(c.may("hubspot.proxy", "default", 2L)).isFalse();
        assertThat(c.may("hubspot.proxy", "ops", 1L)).isFalse();
        assertThat(c.may("tokens.refresh", "ops", 2L)).isTrue();
        assertThat(c.may("tokens.admin", null, null)).isFalse();
        assertThat(c.refusal("default", 5L, "tokens.admin")).contains("policy:by-member", "policy:by-namespace");
        assertThat(c.portalScope("hubspot.proxy", "default").ids()).containsExactly(1L);
        assertThat(c.portalScope("tokens.read", "ops").all()).isTrue();
        assertThat(c.portalScope("tokens.admin", "ops")).isNull();
    }
}
