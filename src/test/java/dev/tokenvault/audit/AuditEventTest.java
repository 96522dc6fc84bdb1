package dev.tokenvault.audit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;

import org.junit.jupiter.api.Test;

/** What a caller sends ends up in audit text fields: they must always be storable in PostgreSQL text. */
class AuditEventTest {

    @Test
    void nulIsReplacedAndLongTextIsCut() {
        AuditEvent e = new AuditEvent(Instant.EPOCH, "a\0b", "x".repeat(600), 1L, "act\0", null, "d");
        assertThat(e.sub()).isEqualTo("a\uFFFDb");
        assertThat(e.app()).hasSize(AuditEvent.MAX_TEXT).endsWith("…").startsWith("xxx");
        assertThat(e.action()).isEqualTo("act\uFFFD");
        assertThat(e.outcome()).isNull();
        assertThat(e.detail()).isEqualTo("d");
        assertThat(new AuditEvent(Instant.EPOCH, "x".repeat(512), null, null, "a", "o", null).sub())
                .hasSize(512).doesNotContain("…");
    }
}
