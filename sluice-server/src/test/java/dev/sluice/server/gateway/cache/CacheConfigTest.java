package dev.sluice.server.gateway.cache;

import dev.sluice.server.config.ConfigException;
import dev.sluice.server.config.SluiceConfig;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CacheConfigTest {
    @Test
    void defaultsAreDocumentedConstants() {
        CacheConfig c = SluiceConfig.parse("", Map.of(), "t.yaml").cache();
        assertThat(c.enabled()).isTrue();
        assertThat(c.maxBytes()).isEqualTo(CacheConfig.DEFAULT_MAX_BYTES);
        assertThat(c.ttl()).isEqualTo(CacheConfig.DEFAULT_TTL);
        assertThat(c.redisTtl()).isEqualTo(CacheConfig.DEFAULT_REDIS_TTL);
        assertThat(c.coalesce()).isTrue();
        assertThat(c.storedCompletions().enabled()).isTrue();
        CacheConfig.Model m = c.model("any");
        assertThat(m.enabled()).isTrue();
        assertThat(m.shared()).isFalse();
    }

    @Test
    void perModelOverridesInheritWhatTheyDoNotSet() {
        CacheConfig c = SluiceConfig.parse("""
                cache:
                  ttl: PT10M
                  redisTtl: PT1H
                  models:
                    faq: {shared: true, ttl: PT30S}
                    private: {enabled: false}
                """, Map.of(), "t.yaml").cache();
        assertThat(c.model("faq").shared()).isTrue();
        assertThat(c.model("faq").ttl()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.model("faq").redisTtl()).isEqualTo(Duration.ofHours(1));
        assertThat(c.model("private").enabled()).isFalse();
        assertThat(c.model("other").ttl()).isEqualTo(Duration.ofMinutes(10));
        CacheConfig off = SluiceConfig.parse("cache:\n  enabled: false\n  models:\n    faq: {enabled: true}\n", Map.of(), "t.yaml").cache();
        assertThat(off.model("faq").enabled()).as("the section switch wins").isFalse();
    }

    @Test
    void badValuesNameTheKey() {
        assertThatThrownBy(() -> SluiceConfig.parse("cache:\n  maxBytes: -1\n", Map.of(), "t.yaml"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("cache.maxBytes");
        assertThatThrownBy(() -> SluiceConfig.parse("cache:\n  ttl: PT0S\n", Map.of(), "t.yaml")).hasMessageContaining("cache.ttl");
        assertThatThrownBy(() -> SluiceConfig.parse("cache:\n  models:\n    m: {redisTtl: -PT1S}\n", Map.of(), "t.yaml"))
                .hasMessageContaining("cache.models.m.redisTtl");
        assertThatThrownBy(() -> SluiceConfig.parse("cache:\n  models:\n    m: {sharde: true}\n", Map.of(), "t.yaml")).hasMessageContaining("sharde");
        assertThatThrownBy(() -> SluiceConfig.parse("cache:\n  storedCompletions: {maxRecords: 0}\n", Map.of(), "t.yaml"))
                .hasMessageContaining("cache.storedCompletions.maxRecords");
    }
}
