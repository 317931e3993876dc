package dev.sluice.engine.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.engine.LoadedModel;
import dev.sluice.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The bench logic on the built-in demo model, tiny sizes: figures present and sane; no timed assertions. */
class EngineBenchmarkTest {
    static Path demo() throws Exception {
        return Path.of(EngineBenchmarkTest.class.getResource("/models/demo.gguf").toURI());
    }

    @Test
    void runsEveryBatchSizeAndWritesTheJsonKeys() throws Exception {
        MemoryBandwidth.Result bw = MemoryBandwidth.measure(8L << 20, 2, 2);
        assertThat(bw.bytesPerSecond()).isPositive();
        assertThat(bw.bufferBytes()).isEqualTo(8L << 20);
        try (LoadedModel m = LoadedModel.load(demo(), 64)) {
            List<String> progress = new ArrayList<>();
            var o = new EngineBenchmark.Options(8, 4, List.of(1, 3), 2, 0.1, false, false);
            ComputePeak.Result peak = ComputePeak.measure(2, 0.03);
            List<EngineBenchmark.Result> rs = EngineBenchmark.run(m.transformer(), m.weights(), "demo", o, bw, peak, progress::add);
            assertThat(rs).extracting(EngineBenchmark.Result::batch).containsExactly(1, 3);
            assertThat(progress).contains("warm-up (JIT)", "batch 3: repeat 2/2");
            ObjectMapper json = new ObjectMapper();
            for (EngineBenchmark.Result r : rs) {
                assertThat(r.prefillTokS()).isPositive();
                assertThat(r.decodeTokS()).isPositive();
                // aggregate = batch x per-sequence, from the same median decode time
                assertThat(r.decodeAggregateTokS()).isCloseTo(r.batch() * r.decodeTokS(), org.assertj.core.data.Percentage.withPercentage(1e-6));
                assertThat(r.batchMode()).isEqualTo(EngineBenchmark.BATCH_BATCHED);
                String line = r.toJson();
                assertThat(line).doesNotContain("\n");
                JsonNode n = json.readTree(line);
                List<String> keys = new ArrayList<>();
                n.fieldNames().forEachRemaining(keys::add);
                assertThat(keys).containsExactlyElementsOf(EngineBenchmark.Result.JSON_KEYS)
                        .contains("model", "threads", "batch", "prompt_tokens", "gen_tokens",
                                "prefill_tok_s", "decode_tok_s", "decode_aggregate_tok_s");
                assertThat(n.get("model").asText()).isEqualTo("demo");
                assertThat(n.get("batch").asInt()).isEqualTo(r.batch());
                assertThat(n.get("prompt_tokens").asInt()).isEqualTo(8);
                assertThat(n.get("gen_tokens").asInt()).isEqualTo(4);
                assertThat(n.get("bandwidth_fraction").asDouble()).isPositive();
                assertThat(r.decodeLimitTokS()).isEqualTo(bw.bytesPerSecond() / r.weightBytesPerToken());
                assertThat(r.macsPerToken()).isEqualTo(EngineBenchmark.macsPerToken(m.config()));
                assertThat(r.decodeGflops()).isEqualTo(2.0 * r.macsPerToken() * r.decodeAggregateTokS() / 1e9);
                assertThat(r.peakFraction()).isEqualTo(r.decodeGflops() * 1e9 / peak.flopsPerSecond()).isPositive();
                assertThat(n.get("fma_peak_gflops").asDouble()).isEqualTo(Math.round(peak.gflops() * 100) / 100.0);
                assertThat(n.get("peak_fraction").asDouble()).isPositive();
            }
        }
    }

    @Test
    void emulatedAndInvariantModesRunAndSaySo() throws Exception {
        try (LoadedModel m = LoadedModel.load(demo(), 64)) {
            var emu = EngineBenchmark.run(m.transformer(), m.weights(), "demo", new EngineBenchmark.Options(4, 2, List.of(2), 1, 0, true, false), null, null, x -> {});
            assertThat(emu.getFirst().batchMode()).isEqualTo(EngineBenchmark.BATCH_EMULATED);
            assertThat(emu.getFirst().decodeAggregateTokS()).isPositive();
            assertThat(Double.isNaN(emu.getFirst().bandwidthBytesPerSecond())).isTrue();
            assertThat(emu.getFirst().toJson()).contains("\"mem_bandwidth_gb_s\":null", "\"fma_peak_gflops\":null", "\"peak_fraction\":null");
            var inv = EngineBenchmark.run(m.transformer(), m.weights(), "demo", new EngineBenchmark.Options(4, 2, List.of(1), 1, 0, false, true), null, null, x -> {});
            assertThat(inv.getFirst().batchMode()).isEqualTo(EngineBenchmark.BATCH_BATCHED_INVARIANT);
            assertThat(inv.getFirst().decodeTokS()).isPositive();
        }
    }

    @Test
    void macsPerTokenCountsEveryMatmulWeightOnceAndTheOutputHead() throws Exception {
        try (LoadedModel m = LoadedModel.load(demo(), 64)) {
            // every 2-D matrix a token is multiplied with: all of them but the embedding, which is
            // a row lookup unless it doubles as the (tied) output head
            long expected = 0;
            for (Tensor t : m.weights().tensors().values()) {
                if (t.shape().length == 2 && !t.name().equals("token_embd.weight")) expected += t.numElements();
            }
            if (m.config().tiedEmbeddings() || m.weights().find("output.weight").isEmpty()) {
                expected += m.weights().tensor("token_embd.weight").numElements();
            }
            assertThat(EngineBenchmark.macsPerToken(m.config())).isEqualTo(expected).isPositive();
        }
        // the benchmark model's shape (Qwen2.5-0.5B with a 102400 vocabulary): 24 x (896 x (896 + 2 x 128 + 896)
        // + 3 x 896 x 4864) + 896 x 102400 = 449,576,960 multiply-adds, about 0.9 GFLOP per token
        var c = new dev.sluice.engine.model.ModelConfig("qwen2", 896, 24, 14, 2, 64, 4864, 102400, 4096, 1e-6f, 1e6f, true, null, true, false, true, 0);
        assertThat(EngineBenchmark.macsPerToken(c)).isEqualTo(24L * (896L * (896 + 2 * 128 + 896) + 3L * 896 * 4864) + 896L * 102400);
    }

    @Test
    void computePeakIsPositiveAndRejectsBadArguments() {
        ComputePeak.Result p = ComputePeak.measure(1, 0.03);
        assertThat(p.flopsPerSecond()).isPositive();
        assertThat(p.threads()).isEqualTo(1);
        assertThat(p.lanes() * 32).isEqualTo(p.bits());
        assertThatThrownBy(() -> ComputePeak.measure(0, 0.1)).hasMessageContaining("threads");
        assertThatThrownBy(() -> ComputePeak.measure(1, 0)).hasMessageContaining("seconds");
    }

    @Test
    void weightBytesPerTokenCountsEveryTensorOnceForTiedEmbeddings() throws Exception {
        try (LoadedModel m = LoadedModel.load(demo(), 64)) {
            long sum = 0;
            for (Tensor t : m.weights().tensors().values()) sum += t.data().byteSize();
            long expected = m.config().tiedEmbeddings() ? sum
                    : sum - m.weights().tensor("token_embd.weight").data().byteSize() + m.weights().tensor("token_embd.weight").rowBytes();
            assertThat(EngineBenchmark.weightBytesPerToken(m.weights())).isEqualTo(expected).isLessThan(Files.size(demo()));
        }
    }

    @Test
    void bandwidthReadPassSumsEveryLong() {
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            var seg = arena.allocate(64 * 3);
            long expected = 0;
            for (int i = 0; i < 24; i++) {
                seg.setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, i, i * 7L + 1);
                if (i >= 8) expected += i * 7L + 1;
            }
            assertThat(MemoryBandwidth.readSum(seg, 64, 128)).isEqualTo(expected);
        }
    }

    @Test
    void optionsAreValidated() {
        assertThatThrownBy(() -> new EngineBenchmark.Options(0, 4, List.of(1), 1, 0, false, false)).hasMessageContaining("promptTokens");
        assertThatThrownBy(() -> new EngineBenchmark.Options(8, 4, List.of(0), 1, 0, false, false)).hasMessageContaining("batch size");
        assertThatThrownBy(() -> new EngineBenchmark.Options(8, 4, List.of(1), 0, 0, false, false)).hasMessageContaining("repeats");
        assertThatThrownBy(() -> MemoryBandwidth.measure(1024, 1, 1)).hasMessageContaining("bufferBytes");
        assertThat(EngineBenchmark.median(new double[] {3, 1, 2})).isEqualTo(2);
        assertThat(EngineBenchmark.median(new double[] {4, 1, 2, 3})).isEqualTo(2.5);
    }
}
