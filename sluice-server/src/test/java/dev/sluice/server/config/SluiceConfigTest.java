package dev.sluice.server.config;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SluiceConfigTest {
    @Test
    void emptyFileIsEmbeddedDefaults() {
        SluiceConfig c = SluiceConfig.parse("", Map.of(), "t.yaml");
        assertThat(c.redis().enabled()).isFalse();
        assertThat(c.store().url()).startsWith("jdbc:h2:file:").contains("MODE=PostgreSQL");
    }

    @Test
    void sectionsParseWithEnvironmentSubstitution() {
        SluiceConfig c = SluiceConfig.parse("""
                store:
                  url: jdbc:postgresql://127.0.0.1:5432/test
                  password: ${PGPASS}
                redis:
                  uri: redis://127.0.0.1:6379
                  commandTimeout: PT0.5S
                """, Map.of("PGPASS", "s3cret"), "t.yaml");
        assertThat(c.store().postgres()).isTrue();
        assertThat(c.store().password()).isEqualTo("s3cret");
        assertThat(c.store().toString()).doesNotContain("s3cret");
        assertThat(c.redis().commandTimeout()).isEqualTo(Duration.ofMillis(500));
    }

    @Test
    void errorsNameTheKeyAndTheVariable() {
        assertThatThrownBy(() -> SluiceConfig.parse("redis:\n  uri: http://x\n", Map.of(), "t.yaml"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("redis").hasMessageContaining("http://x");
        assertThatThrownBy(() -> SluiceConfig.parse("redis:\n  urii: redis://x\n", Map.of(), "t.yaml"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("urii");
        assertThatThrownBy(() -> SluiceConfig.parse("store:\n  password: ${NOPE}\n", Map.of(), "t.yaml"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("NOPE");
        assertThatThrownBy(() -> SluiceConfig.parse("store: [\n", Map.of(), "t.yaml")).isInstanceOf(ConfigException.class);
    }
}
