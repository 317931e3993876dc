package dev.sluice.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code sluice bench engine} on the built-in demo model at tiny sizes: the table and the JSON lines. */
class BenchEngineCommandTest {
    @Test
    void jsonHasOneLinePerBatchSizeWithTheIssueKeys(@TempDir Path cache) throws Exception {
        Map<String, String> env = Map.of("SLUICE_CACHE", cache.toString());
        Cli.Result r = Cli.run("", env, "bench", "engine", "--prompt", "8", "--gen", "4", "--batch", "1,2",
                "--repeats", "1", "--warmup", "0", "--bandwidth-mib", "8", "--fma-peak-ms", "30", "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        String[] lines = r.out().strip().split("\n");
        assertThat(lines).hasSize(2);
        ObjectMapper json = new ObjectMapper();
        for (int i = 0; i < 2; i++) {
            JsonNode n = json.readTree(lines[i]);
            assertThat(n.get("batch").asInt()).isEqualTo(i + 1);
            for (String k : new String[] {"model", "threads", "batch", "prompt_tokens", "gen_tokens",
                    "prefill_tok_s", "decode_tok_s", "decode_aggregate_tok_s"}) {
                assertThat(n.has(k)).as(k).isTrue();
            }
            assertThat(n.get("decode_tok_s").asDouble()).isPositive();
            assertThat(n.get("mem_bandwidth_gb_s").asDouble()).isPositive();
            assertThat(n.get("batch_mode").asText()).isEqualTo("batched");
            assertThat(n.get("fma_peak_gflops").asDouble()).isPositive();
            assertThat(n.get("peak_fraction").asDouble()).isPositive();
            assertThat(n.get("decode_gflops").asDouble()).isCloseTo(
                    2 * n.get("macs_per_token").asLong() * n.get("decode_aggregate_tok_s").asDouble() / 1e9, org.assertj.core.data.Offset.offset(0.02));
        }
        assertThat(r.err()).contains("memory read bandwidth", "float FMA peak");
    }

    @Test
    void tableSaysWhenBatchIsEmulated(@TempDir Path cache) {
        Map<String, String> env = Map.of("SLUICE_CACHE", cache.toString());
        Cli.Result r = Cli.run("", env, "bench", "engine", "--prompt", "4", "--gen", "2", "--batch", "2",
                "--repeats", "1", "--warmup", "0", "--bandwidth-mib", "0", "--fma-peak-ms", "0", "--emulate-batch");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("prefill t/s", "decode t/s/seq", "decode GFLOP/s", "peak frac", "batch emulated");
        assertThat(r.err()).doesNotContain("float FMA peak");
    }
}
