package dev.tokenvault.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.OptionalLong;

import org.junit.jupiter.api.Test;

import dev.tokenvault.callers.Caller;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;

/** One spelling per id: what {@link Params#canonicalId} accepts prints back to itself, and nothing else passes. */
class CanonicalIdPropertiesTest {

    @Property(tries = 2000)
    void everyPositiveLongRoundTrips(@ForAll @LongRange(min = 1) long id) {
        assertThat(Params.canonicalId(Long.toString(id))).hasValue(id);
    }

    /** Whatever string is accepted is exactly the decimal form of the id it yields. */
    @Property(tries = 5000)
    void whatIsAcceptedIsItsOwnCanonicalForm(@ForAll String raw) {
        OptionalLong id = Params.canonicalId(raw);
        if (id.isPresent()) {
            assertThat(Long.toString(id.getAsLong())).isEqualTo(raw);
            assertThat(id.getAsLong()).isPositive();
        }
    }

    @Test
    void otherSpellingsOfAnIdAreRefused() {
        for (String raw : List.of("", "0", "04001", "+4001", "-4001", " 4001", "4001 ", "4 001", "4001.0", "3.9", "1e3",
                "\u0663\u0660\u0660\u0661", "\uff14\uff10\uff10\uff11", "9223372036854775808", "0x10", "*", " * ")) {
            assertThat(Params.canonicalId(raw)).as("'%s'", raw).isEmpty();
        }
        assertThat(Params.canonicalId("4001")).hasValue(4001);
        assertThat(Params.canonicalId("9223372036854775807")).hasValue(Long.MAX_VALUE);
    }

    @Test
    void thePortalsClaimGrantsOnlyExactSpellings() {
        Caller c = Caller.of("svc", java.util.Set.of("tokens.read"), List.of(" * ", "+4001", "04001", "\u0663", "4002"));
        assertThat(c.allPortals()).isFalse();
        assertThat(c.portals()).containsExactly(4002L);
        assertThat(Caller.of("svc", java.util.Set.of(), List.of("*")).allPortals()).isTrue();
        assertThat(Caller.of("svc", java.util.Set.of(), List.of(4003L)).portals()).containsExactly(4003L);
        assertThat(Caller.of("svc", java.util.Set.of(), List.of(3.9d)).portals()).isEmpty();
    }
}
