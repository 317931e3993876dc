package dev.sluice.server.gateway.upstream;

import com.fasterxml.jackson.databind.JsonMappingException;
import dev.sluice.server.config.ConfigException;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.Backend;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code routing.backends.<name>}: defaults, validation naming the key, the factory's types. */
class BackendConfigTest {
    static BackendConfig yaml(String text) throws Exception {
        return SluiceConfig.yaml().readValue(text, BackendConfig.class);
    }

    @Test
    void everyFieldHasADefault() throws Exception {
        BackendConfig c = yaml("endpoints: [\"http://127.0.0.1:8000/v1\"]");
        assertThat(c.type()).isEqualTo("openai");
        assertThat(c.apiKey()).isNull();
        assertThat(c.timeouts().connect()).isEqualTo(Duration.ofMillis(BackendConfig.Timeouts.DEFAULT_CONNECT_MS));
        assertThat(c.timeouts().firstToken()).isEqualTo(Duration.ofSeconds(60));
        assertThat(c.timeouts().idle()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.timeouts().total()).isEqualTo(Duration.ofSeconds(600));
        assertThat(c.retry().maxAttempts()).isEqualTo(3);
        assertThat(c.retry().budget()).isEqualTo(0.2);
        assertThat(c.circuitBreaker().failureRate()).isEqualTo(0.5);
        assertThat(c.ejection().consecutiveFailures()).isEqualTo(5);
        assertThat(c.healthCheck().enabled()).isFalse();
        assertThat(c.prefixAffinity().enabled()).isFalse();
        assertThat(c.tokenizer()).isNull();
    }

    @Test
    void aFullBackendParses() throws Exception {
        BackendConfig c = yaml("""
                type: openai
                endpoints: ["http://10.0.0.5:8000/v1", "h2c://10.0.0.6:8000/v1"]
                apiKey: sk-x
                model: Qwen/Qwen2.5-7B-Instruct
                timeouts: {connect: PT1S, firstToken: 20, idle: PT10S, total: PT5M}
                retry: {maxAttempts: 2, budget: 0.1, burst: 5, backoff: PT0.05S}
                circuitBreaker: {failureRate: 0.3, minimumRequests: 10, window: PT30S, openFor: PT5S}
                ejection: {consecutiveFailures: 3, baseTime: PT2S, maxTime: PT1M}
                healthCheck: {path: /health, interval: PT5S}
                prefixAffinity: {prefixChars: 2048}
                """);
        assertThat(c.endpoints()).hasSize(2);
        assertThat(c.timeouts().firstToken()).isEqualTo(Duration.ofSeconds(20));
        assertThat(c.retry().burst()).isEqualTo(5);
        assertThat(c.healthCheck().path()).isEqualTo("/health");
        assertThat(c.prefixAffinity().maxImbalance()).isEqualTo(BackendConfig.PrefixAffinity.DEFAULT_MAX_IMBALANCE);
        assertThat(c.toString()).doesNotContain("sk-x");
    }

    @Test
    void badValuesAreRejectedNamingTheKey() {
        record Case(String yaml, String message) {}
        for (Case k : List.of(
                new Case("endpoints: []", "'endpoints' must list at least one URL"),
                new Case("endpoints: [\"ftp://x/v1\"]", "'endpoints'"),
                new Case("endpoints: [\"http://u:p@x/v1\"]", "put the key in apiKey"),
                new Case("type: magic\nendpoints: [\"http://x/v1\"]", "'type' must be openai, local or grpc"),
                new Case("endpoints: [\"http://x/v1\"]\ntimeouts: {idle: PT0S}", "'idle' must be positive"),
                new Case("endpoints: [\"http://x/v1\"]\nretry: {maxAttempts: 0}", "'maxAttempts' must be 1..10"),
                new Case("endpoints: [\"http://x/v1\"]\nretry: {budget: 1.5}", "'budget' must be a ratio"),
                new Case("endpoints: [\"http://x/v1\"]\ncircuitBreaker: {failureRate: 0}", "'failureRate'"),
                new Case("endpoints: [\"http://x/v1\"]\nhealthCheck: {path: health}", "'path' must start with '/'"),
                new Case("endpoints: [\"http://x/v1\"]\nejection: {baseTime: PT10S, maxTime: PT1S}", "'maxTime'"),
                new Case("endpoints: [\"http://x/v1\"]\nretries: {maxAttempts: 2}", "retries"))) {
            assertThatThrownBy(() -> yaml(k.yaml)).as(k.yaml).isInstanceOf(JsonMappingException.class).hasMessageContaining(k.message);
        }
    }

    @Test
    void grpcEndpointsAreLeftToTheGrpcModule() throws Exception {
        assertThat(yaml("type: grpc\nendpoints: [\"localhost:50051\"]").endpoints()).containsExactly("localhost:50051");
    }

    @Test
    void theFactoryBuildsByTypeAndNamesWhatIsMissing() throws Exception {
        Backend b = Backends.create("vllm", BackendConfig.openai(List.of("http://127.0.0.1:9/v1"), null, null), Backends.Context.of(null));
        try {
            assertThat(b).isInstanceOf(OpenAiUpstreamBackend.class);
            assertThat(b.name()).isEqualTo("vllm");
        } finally {
            ((AutoCloseable) b).close();
        }
        BackendConfig grpc = yaml("type: grpc\nendpoints: [\"localhost:50051\"]");
        assertThatThrownBy(() -> Backends.create("w", grpc, Backends.Context.of(null)))
                .isInstanceOf(ConfigException.class).hasMessageContaining("type grpc needs the grpc module");
        assertThat(Backends.create("w", grpc, Backends.Context.of(null).withGrpc((n, c) -> new FallbackBackend(n, List.of(b)))).name()).isEqualTo("w");
        assertThatThrownBy(() -> Backends.create("l", new BackendConfig("local", null, null, null), Backends.Context.of(null)))
                .isInstanceOf(ConfigException.class).hasMessageContaining("routing.backends.l.type");
        assertThatThrownBy(() -> Backends.create("t", BackendConfig.openai(List.of("http://127.0.0.1:9/v1"), null, null).withTokenizer("/nope/tokenizer.gguf"),
                Backends.Context.of(null))).isInstanceOf(ConfigException.class).hasMessageContaining("routing.backends.t.tokenizer");
    }
}
