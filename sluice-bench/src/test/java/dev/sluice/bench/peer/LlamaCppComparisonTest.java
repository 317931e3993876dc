package dev.sluice.bench.peer;

import dev.sluice.bench.peer.LlamaCppComparison.Comparison;
import dev.sluice.bench.peer.LlamaCppComparison.Figures;
import dev.sluice.bench.peer.LlamaCppComparison.Timings;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The parts of the llama.cpp comparison that need no model: reading llama.cpp's timing lines, the rates, the table. */
class LlamaCppComparisonTest {
    /** As llama.cpp b4916's server (java-llama.cpp 4.2.0) writes them to its log file, with the lines around them. */
    private static final String LOG = """
            slot update_slots: id  0 | task 11 | prompt done, n_past = 128, n_tokens = 128
            slot      release: id  0 | task 11 | stop processing: n_past = 192, truncated = 0
            slot print_timing: id  0 | task 11 |\s
            prompt eval time =    1079.01 ms /   128 tokens (    8.43 ms per token,   118.63 tokens per second)
                   eval time =    2016.25 ms /    65 tokens (   31.02 ms per token,    32.24 tokens per second)
                  total time =    3095.26 ms /   193 tokens
            srv  update_slots: all slots are idle
            """;

    @Test
    void parsesThePromptAndTheGenerationLineNotThePromptLineTwice() {
        Timings t = LlamaCppComparison.parseTimings(LOG);
        assertThat(t).isEqualTo(new Timings(1079.01, 128, 2016.25, 65));
    }

    @Test
    void incompleteChunkHasNoTimingsYet() {
        String onlyPrompt = LOG.substring(0, LOG.indexOf("       eval time"));
        assertThat(LlamaCppComparison.parseTimings(onlyPrompt)).isNull();
        assertThat(LlamaCppComparison.parseTimings("srv  update_slots: all slots are idle\n")).isNull();
    }

    @Test
    void decodeRateCountsGenPassesForGenPlusOneTokens() {
        Timings t = LlamaCppComparison.parseTimings(LOG);
        // 65 tokens asked for (gen 64): the eval clock spans 64 decode passes
        assertThat(LlamaCppComparison.decodeTokS(t, 64)).isCloseTo(64 / 2.01625, within(1e-9));
        assertThat(LlamaCppComparison.prefillTokS(t)).isCloseTo(128 / 1.07901, within(1e-9));
        assertThatThrownBy(() -> LlamaCppComparison.decodeTokS(t, 65)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("generated 65 tokens, expected 66");
    }

    @Test
    void tableHasBothRatioRowsPerModel() {
        String table = LlamaCppComparison.table(List.of(new Comparison(
                new Figures("sluice", "bench-q8_0", "Q8_0", 60, 20),
                new Figures("llama.cpp", "bench-q8_0", "Q8_0", 120, 40), 0.55, 1.25)));
        List<String> lines = table.lines().toList();
        assertThat(lines).hasSize(5);
        assertThat(lines.get(1)).matches("Q8_0\\s+sluice\\s+60\\.0\\s+20\\.00");
        assertThat(lines.get(3)).matches("Q8_0\\s+sluice/llama.cpp\\s+0\\.50x\\s+0\\.50x");
        assertThat(lines.get(4)).matches("Q8_0\\s+sluice/llama.cpp, paired\\s+0\\.55x\\s+1\\.25x");
    }
}
