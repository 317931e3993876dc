package dev.sluice.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.inference.GenerationListener;
import dev.sluice.server.inference.GenerationOptions;
import dev.sluice.server.inference.InferenceModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code sluice bench serve} against an in-process server with a scripted model. */
class BenchServeCommandTest {
    /** Characters are tokens; replies max_tokens "a"s. */
    static final class Echo implements InferenceModel {
        @Override public String id() { return "echo"; }
        @Override public long created() { return 0; }
        @Override public int contextLength() { return 4096; }
        @Override public ChatPrompt encodeChat(List<Map<String, Object>> m, List<Map<String, Object>> t, Map<String, Object> v) {
            String s = String.valueOf(m.getLast().get("content"));
            return new ChatPrompt(s, tokenize(s, false, false));
        }
        @Override public int[] tokenize(String text, boolean a, boolean p) { return text.codePoints().toArray(); }
        @Override public String detokenize(int[] ids) { return new String(ids, 0, ids.length); }
        @Override public Generation generate(int[] prompt, GenerationOptions o, GenerationListener l) {
            Thread.ofVirtual().start(() -> {
                for (int i = 0; i < o.maxTokens(); i++) {
                    l.onToken('a', "a", Float.NaN, List.of());
                    l.onText("a");
                }
                l.onComplete("length", prompt.length, o.maxTokens());
            });
            return () -> {};
        }
    }

    static SluiceServer server;

    @BeforeAll
    static void start() {
        server = new SluiceServer(ServerConfig.defaults().withPort(0), List.of(new Echo()), () -> true).start();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void jsonOneObjectPerLevel() throws Exception {
        Cli.Result r = Cli.run("bench", "serve", "--url", "http://127.0.0.1:" + server.port(), "--concurrency", "1,2", "--requests", "3",
                "--prompt-tokens", "40", "--max-tokens", "5", "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines).hasSize(2);
        JsonNode first = new ObjectMapper().readTree(lines.get(0));
        assertThat(first.get("model").asText()).isEqualTo("echo");
        assertThat(first.get("concurrency").asInt()).isEqualTo(1);
        assertThat(first.get("completed").asInt()).isEqualTo(3);
        assertThat(first.get("total_output_tokens").asInt()).isEqualTo(15);
        assertThat(first.has("p99_ttft_ms")).isTrue();
        assertThat(r.err()).contains("concurrency 2: 3/3 completed");
    }

    @Test
    void tableByDefaultAndBadArgumentsAreUsageErrors() {
        Cli.Result r = Cli.run("bench", "serve", "--url", "http://127.0.0.1:" + server.port() + "/v1", "--concurrency", "2", "--requests", "2",
                "--max-tokens", "3", "--endpoint", "completions");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("TTFT ms").contains("out_tok/s");
        assertThat(Cli.run("bench", "serve", "--url", "http://x", "--concurrency", "0").exit()).isEqualTo(2);
        assertThat(Cli.run("bench", "serve", "--url", "ftp://x").exit()).isEqualTo(2);
        assertThat(Cli.run("bench", "serve", "--url", "http://x", "--endpoint", "embeddings").exit()).isEqualTo(2);
    }
}
