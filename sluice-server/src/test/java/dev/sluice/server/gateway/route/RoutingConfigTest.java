package dev.sluice.server.gateway.route;

import dev.sluice.server.config.ConfigException;
import dev.sluice.server.config.SluiceConfig;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RoutingConfigTest {
    static RoutingConfig parse(String yaml) {
        return SluiceConfig.parse(yaml, Map.of("VLLM_KEY", "sk-secret"), "t.yaml").routing();
    }

    @Test
    void theAgreedShapeParsesWithDefaults() {
        RoutingConfig r = parse("""
                routing:
                  backends:
                    vllm-a: {type: openai, endpoints: ["http://127.0.0.1:8000/v1"], apiKey: "${VLLM_KEY}", model: "Qwen/Qwen2.5-0.5B"}
                    local:  {type: local}
                  models:
                    chat:
                      versions:
                        stable: {backend: vllm-a, weight: 90}
                        canary: {backend: local, weight: 10}
                      fallbacks: [chat-small]
                      degradeTo: chat-small
                      canary: {version: canary, steps: [10, 25, 50, 100], interval: PT1M, window: PT1M, minRequests: 50,
                               maxErrorRateDelta: 0.05, maxP99Ratio: 1.5}
                    chat-small:
                      versions: {only: {backend: local}}
                  overload: {maxInFlight: 100, maxRequestsPerSecond: 50}
                """);
        assertThat(r.isEmpty()).isFalse();
        assertThat(r.backends().keySet()).containsExactly("vllm-a", "local");
        assertThat(r.backends().get("vllm-a").apiKey()).isEqualTo("sk-secret");
        assertThat(r.backends().get("vllm-a").toString()).doesNotContain("sk-secret");
        RoutingConfig.ModelConfig chat = r.models().get("chat");
        assertThat(chat.versions().keySet()).containsExactly("stable", "canary");
        assertThat(chat.baseline()).isEqualTo("stable");
        assertThat(chat.canary().interval()).isEqualTo(Duration.ofMinutes(1));
        assertThat(r.models().get("chat-small").versions().get("only").weight()).isEqualTo(RoutingConfig.Version.DEFAULT_WEIGHT);
        assertThat(r.overload().maxInFlight()).isEqualTo(100);
        assertThat(r.overload().retryAfter()).isEqualTo(RoutingConfig.Overload.DEFAULT_RETRY_AFTER);
        assertThat(r.overload().share(RoutingConfig.Priority.LOW)).isEqualTo(RoutingConfig.Overload.DEFAULT_LOW_AT);

        RoutingConfig.Canary c = parse("""
                routing:
                  backends: {x: {type: local}}
                  models: {m: {versions: {a: {backend: x}, b: {backend: x, weight: 0}}, canary: {version: b}}}
                """).models().get("m").canary();
        assertThat(c.steps()).isEqualTo(List.of(10, 25, 50, 100));
        assertThat(c.minRequests()).isEqualTo(RoutingConfig.Canary.DEFAULT_MIN_REQUESTS);
        assertThat(parse("").isEmpty()).isTrue();
        assertThat(parse("routing: {}").isEmpty()).isTrue();
        assertThat(parse("routing: {overload: {maxInFlight: 5}}").isEmpty()).isFalse();
    }

    @Test
    void errorsNameTheKeyAndTheBadValue() {
        String base = """
                routing:
                  backends: {x: {type: local}}
                  models:
                    m: {versions: {a: {backend: x}, b: {backend: x, weight: 0}}%s}
                    n: {versions: {a: {backend: x}}%s}
                %s""";
        Map<String, String> bad = Map.ofEntries(
                Map.entry("routing:\n  backends: {x: {type: local}}\n  models: {m: {versions: {a: {backend: y}}}}\n", "routing.models.m.versions.a.backend: unknown backend 'y'"),
                Map.entry(base.formatted(", fallbacks: [z]", "", ""), "routing.models.m.fallbacks: unknown model 'z'"),
                Map.entry(base.formatted(", degradeTo: n", ", degradeTo: m", ""), "degrade chain loops"),
                Map.entry(base.formatted(", canary: {version: c}", "", ""), "canary.version: unknown version 'c'"),
                Map.entry(base.formatted(", canary: {version: b, steps: [50, 25]}", "", ""), "canary.steps must rise"),
                Map.entry(base.formatted(", canary: {version: b, maxP99Ratio: 0.5}", "", ""), "maxP99Ratio"),
                Map.entry(base.formatted("", ", canary: {version: a}", ""), "needs a second version"),
                Map.entry(base.formatted("", "", "  overload: {maxInFlight: 0}\n"), "overload.maxInFlight must be >= 1, got 0"),
                Map.entry(base.formatted("", "", "  overload: {lowAt: 0.9, normalAt: 0.5}\n"), "lowAt <= normalAt"),
                Map.entry(base.formatted("", "", "  overload: {tierMaxPriority: {free: urgent}}\n"), "overload.tierMaxPriority.free"),
                Map.entry(base.formatted("", "", "  overlaod: {}\n"), "overlaod"),
                Map.entry("routing:\n  backends: {x: {type: local}}\n  models: {m: {versions: {a: {backend: x, weight: -1}}}}\n", "weight must be in"),
                Map.entry("routing:\n  backends: {x: {type: local}}\n  models: {m: {versions: {a: {backend: x, weight: 0}}}}\n", "must not all be 0"),
                Map.entry("routing:\n  backends: {x: {type: local}}\n  models: {m: {versions: {}}}\n", "at least one version"),
                Map.entry("routing:\n  backends: {x: {type: openai, endpoints: ['http://127.0.0.1:1/v1'], model: q}}\n"
                        + "  models: {m: {versions: {a: {backend: x, model: r}}}}\n", "routing.models.m.versions.a.model: backend 'x' sends its own model 'q'"));
        for (Map.Entry<String, String> b : bad.entrySet()) {
            assertThatThrownBy(() -> parse(b.getKey())).as(b.getKey()).isInstanceOf(ConfigException.class).hasMessageContaining(b.getValue());
        }
    }
}
