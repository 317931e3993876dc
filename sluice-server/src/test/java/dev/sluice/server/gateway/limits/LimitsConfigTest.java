package dev.sluice.server.gateway.limits;

import dev.sluice.server.config.ConfigException;
import dev.sluice.server.config.SluiceConfig;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LimitsConfigTest {
    @Test
    void defaultsAreDocumentedAndSafe() {
        LimitsConfig c = LimitsConfig.defaults();
        assertThat(c.enabled()).isTrue();
        assertThat(c.rules()).isEmpty();
        assertThat(c.fallback()).isEqualTo("local");
        assertThat(c.replicas()).isEqualTo(LimitsConfig.DEFAULT_REPLICAS);
        assertThat(c.regionHeader()).isEqualTo(LimitsConfig.DEFAULT_REGION_HEADER);
        assertThat(c.defaultMaxTokens()).isEqualTo(LimitsConfig.DEFAULT_MAX_TOKENS);
        assertThat(c.redisMode(false)).isFalse();
        assertThat(c.redisMode(true)).isTrue();
        assertThat(c.redisQuota(false)).isFalse();
        assertThat(SluiceConfig.defaults().limits()).isEqualTo(c);
    }

    @Test
    void aFullSectionParses() {
        SluiceConfig c = SluiceConfig.parse("""
                limits:
                  mode: redis
                  fallback: closed
                  replicas: 3
                  regionHeader: X-Region
                  rules:
                    - name: per-key
                      dimensions: [key, model]
                      requestsPerMinute: 60
                      tokensPerMinute: 100000
                      maxConcurrent: 4
                      tiers:
                        gold: {requestsPerMinute: 600}
                    - name: eu-chat
                      dimensions: [region]
                      routes: [chat]
                      models: [qwen]
                      requestsPerMinute: 1000
                  prices:
                    qwen: {input: 0.15, output: 0.60}
                  budgets:
                    - {scope: tenant, period: month, money: 100}
                    - {scope: key, subject: k1, period: day, tokens: 1000000}
                """, Map.of(), "t.yaml");
        LimitsConfig l = c.limits();
        assertThat(l.failClosed()).isTrue();
        assertThat(l.regionHeader()).isEqualTo("x-region");
        assertThat(l.rules()).hasSize(2);
        assertThat(l.rules().get(0).limitsFor("gold").requestsPerMinute()).isEqualTo(600L);
        assertThat(l.rules().get(0).limitsFor("gold").tokensPerMinute()).isNull();
        assertThat(l.rules().get(0).limitsFor("default").maxConcurrent()).isEqualTo(4);
        assertThat(l.rules().get(1).matches("qwen", "chat")).isTrue();
        assertThat(l.rules().get(1).matches("qwen", "completions")).isFalse();
        assertThat(l.prices().get("qwen").output()).isEqualByComparingTo(new BigDecimal("0.60"));
        assertThat(l.budgets().get(1).subject()).isEqualTo("k1");
        assertThat(l.redisQuota(true)).isTrue();
    }

    @Test
    void validationNamesTheKey() {
        assertThatThrownBy(() -> SluiceConfig.parse("limits:\n  mode: cluster\n", Map.of(), "t.yaml"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("limits.mode").hasMessageContaining("cluster");
        assertThatThrownBy(() -> SluiceConfig.parse("limits:\n  fallback: open\n", Map.of(), "t.yaml")).hasMessageContaining("limits.fallback");
        assertThatThrownBy(() -> SluiceConfig.parse("limits:\n  replicas: 0\n", Map.of(), "t.yaml")).hasMessageContaining("limits.replicas");
        assertThatThrownBy(() -> SluiceConfig.parse("limits:\n  rules:\n    - {name: a, dimensions: [ip], requestsPerMinute: 1}\n", Map.of(), "t.yaml"))
                .hasMessageContaining("limits.rules[a].dimensions").hasMessageContaining("ip");
        assertThatThrownBy(() -> SluiceConfig.parse("limits:\n  rules:\n    - {name: a, requestsPerMinute: 0}\n", Map.of(), "t.yaml"))
                .hasMessageContaining("limits.rules[a].requestsPerMinute");
        assertThatThrownBy(() -> SluiceConfig.parse("limits:\n  rules:\n    - {name: a}\n", Map.of(), "t.yaml")).hasMessageContaining("at least one");
        assertThatThrownBy(() -> SluiceConfig.parse("limits:\n  rules:\n    - {name: a, tokensPerMinute: 1000000000000}\n", Map.of(), "t.yaml"))
                .hasMessageContaining("limits.rules[a].tokensPerMinute must be in [1, 10000000000]");
        assertThatThrownBy(() -> SluiceConfig.parse("limits:\n  rules:\n    - {name: a, maxConcurrent: 1}\n    - {name: a, maxConcurrent: 2}\n", Map.of(), "t.yaml"))
                .hasMessageContaining("used twice");
        assertThatThrownBy(() -> SluiceConfig.parse("limits:\n  budgets:\n    - {scope: project, tokens: 1}\n", Map.of(), "t.yaml"))
                .hasMessageContaining("limits.budgets[].scope");
        assertThatThrownBy(() -> SluiceConfig.parse("limits:\n  budgets:\n    - {scope: key, period: week, tokens: 1}\n", Map.of(), "t.yaml"))
                .hasMessageContaining("limits.budgets[].period");
        assertThatThrownBy(() -> SluiceConfig.parse("limits:\n  prices:\n    m: {input: -1}\n", Map.of(), "t.yaml")).hasMessageContaining("limits.prices");
        assertThatThrownBy(() -> SluiceConfig.parse("limits:\n  rulez: []\n", Map.of(), "t.yaml")).hasMessageContaining("rulez");
    }

    @Test
    void keyValuesAreEscapedAndLongOnesHashed() {
        assertThat(RateLimiter.keyValue(null)).isEqualTo("-");
        assertThat(RateLimiter.keyValue("a:b{c}")).isEqualTo("a%3Ab%7Bc%7D");
        assertThat(RateLimiter.keyValue("x".repeat(200))).startsWith("sha256.").hasSize(7 + 64);
        assertThat(RateLimiter.duration(20_000_000L)).isEqualTo("20ms");
        assertThat(RateLimiter.duration(1_500_000_000L)).isEqualTo("1.5s");
        assertThat(RateLimiter.duration(360_000_000_000L)).isEqualTo("6m0s");
    }
}
