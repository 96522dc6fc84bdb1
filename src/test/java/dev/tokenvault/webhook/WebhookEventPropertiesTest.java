package dev.tokenvault.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.LongRange;

/**
 * The uninstall event parser takes only canonical JSON integers in range: what it acts on is exactly the number
 * HubSpot signed, never a rounding, truncation or string reading of something else.
 */
class WebhookEventPropertiesTest {

    static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    static String event(String portal, String app, String eventId, String occurredAt) {
        return "{\"eventId\":" + eventId + ",\"portalId\":" + portal + (app == null ? "" : ",\"appId\":" + app)
                + ",\"occurredAt\":" + occurredAt + ",\"subscriptionType\":\"app.uninstall\"}";
    }

    /** The event, or null when the text is not JSON (the whole batch is then a 400). */
    static WebhookEvent parse(String text) {
        try {
            JsonNode node = JSON.readTree(text);
            return WebhookEvent.parse(node);
        } catch (IOException e) {
            return null;
        }
    }

    /** JSON value spellings around integers: fractions, exponents, strings, signs, huge numbers, other types. */
    @Provide
    Arbitrary<String> values() {
        Arbitrary<Long> longs = Arbitraries.oneOf(Arbitraries.longs(), Arbitraries.longs().between(-5, 5),
                Arbitraries.of(Long.MAX_VALUE, Long.MIN_VALUE, 0L, 1L, 3L, 62515L));
        Arbitrary<String> integers = longs.map(Object::toString);
        Arbitrary<String> big = Arbitraries.bigIntegers().between(BigInteger.TWO.pow(63).negate().shiftLeft(8),
                BigInteger.TWO.pow(63).shiftLeft(8)).map(BigInteger::toString);
        Arbitrary<String> decimals = Arbitraries.bigDecimals().between(BigDecimal.valueOf(-1e6), BigDecimal.valueOf(1e12))
                .ofScale(3).map(BigDecimal::toPlainString);
        Arbitrary<String> fractions = longs.map(l -> l + ".0");
        Arbitrary<String> exponents = Arbitraries.longs().between(-999, 999)
                .flatMap(m -> Arbitraries.integers().between(-3, 20).map(e -> m + "e" + e));
        Arbitrary<String> strings = integers.map(s -> "\"" + s + "\"");
        Arbitrary<String> odd = Arbitraries.of("null", "true", "false", "[]", "[3]", "{}", "\"\"", "\" 3\"",
                "\"٣\"", "\"３\"", "-0", "0", "+3", "03", "0x3", "3.", ".3", "NaN", "Infinity", "1E3", "1e-0",
                "9223372036854775808", "-9223372036854775809", "18446744073709551616");
        return Arbitraries.oneOf(integers, big, decimals, fractions, exponents, strings, odd);
    }

    @Property(tries = 2000)
    void aPortalIdIsTakenOnlyWhenItIsTheCanonicalIntegerText(@ForAll("values") String portal) {
        WebhookEvent e = parse(event(portal, "424242", "1", "1764000000000"));
        if (e == null) {
            return; // not JSON at all: the batch is refused
        }
        assertThat(e.uninstall()).isTrue();
        if (e.invalid() == null) {
            assertThat(Long.toString(e.portalId())).isEqualTo(portal);
            assertThat(e.portalId()).isPositive();
        } else {
            assertThat(e.portalId()).isEqualTo(-1);
        }
    }

    @Property(tries = 2000)
    void everyIdFieldIsCanonicalOrTheEventIsInvalid(@ForAll("values") String app, @ForAll("values") String eventId,
            @ForAll("values") String occurredAt) {
        WebhookEvent e = parse(event("62515", app, eventId, occurredAt));
        if (e == null) {
            return;
        }
        if (e.invalid() == null) {
            assertThat(Long.toString(e.appId())).isEqualTo(app);
            assertThat(e.appId()).isPositive();
            assertThat(Long.toString(e.eventId())).isEqualTo(eventId);
            assertThat(Long.toString(e.occurredAt())).isEqualTo(occurredAt);
            assertThat(e.eventId()).isPositive();
            assertThat(e.occurredAt()).isPositive();
            assertThat(e.portalId()).isEqualTo(62515);
        } else {
            assertThat(e.portalId()).as("an invalid event names no portal").isEqualTo(-1);
        }
    }

    @Property
    void positiveLongsAreTakenAsGiven(@ForAll @LongRange(min = 1) long portal, @ForAll @LongRange(min = 1) long app,
            @ForAll @LongRange(min = 1) long eventId, @ForAll @LongRange(min = 1) long occurredAt) {
        WebhookEvent e = parse(event(Long.toString(portal), Long.toString(app), Long.toString(eventId),
                Long.toString(occurredAt)));
        assertThat(e).isEqualTo(new WebhookEvent(true, portal, app, eventId, occurredAt, null));
    }

    @Property
    void nonIntegralSpellingsOfAPortalAreRefused(@ForAll @LongRange(min = 1, max = 1_000_000_000L) long portal) {
        for (String spelling : new String[] { portal + ".9", portal + ".0", portal + "e0", "\"" + portal + "\"",
                "-" + portal, portal + "0000000000000000000000" }) {
            WebhookEvent e = parse(event(spelling, "424242", "1", "1764000000000"));
            assertThat(e).as(spelling).isNotNull();
            assertThat(e.invalid()).as(spelling).isNotNull();
            assertThat(e.portalId()).as(spelling).isEqualTo(-1);
        }
    }

    @Example
    void theIssuesExamplesAreRefused() {
        assertThat(parse(event("3.9", "424242", "1", "1")).invalid()).contains("portalId");
        assertThat(parse(event("\"3\"", "424242", "1", "1")).invalid()).contains("portalId");
        assertThat(parse(event("1e3", "424242", "1", "1")).invalid()).contains("portalId");
        assertThat(parse(event("3", "424242.0", "1", "1")).invalid()).contains("appId");
        assertThat(parse(event("3", "424242", "\"1\"", "1")).invalid()).contains("eventId");
        assertThat(parse(event("3", "424242", "1", "1.7e12")).invalid()).contains("occurredAt");
        assertThat(parse(event("3", null, "1", "1"))).isEqualTo(new WebhookEvent(true, 3, -1, 1, 1, null));
        // required fields
        assertThat(parse("{\"subscriptionType\":\"app.uninstall\",\"portalId\":3,\"occurredAt\":1}").invalid())
                .contains("eventId");
        assertThat(parse("{\"subscriptionType\":\"app.uninstall\",\"portalId\":3,\"eventId\":1}").invalid())
                .contains("occurredAt");
        assertThat(parse("{\"subscriptionType\":\"app.uninstall\",\"portal_id\":3,\"eventId\":1,\"occurredAt\":1}")
                .invalid()).contains("portalId");
        // duplicate keys: not JSON this service takes
        assertThat(parse("{\"subscriptionType\":\"app.uninstall\",\"portalId\":3,\"portalId\":4}")).isNull();
        // other events are not looked at
        assertThat(parse("{\"subscriptionType\":\"contact.creation\",\"portalId\":3.9}").uninstall()).isFalse();
        assertThat(parse("[1]").uninstall()).isFalse();
    }
}
