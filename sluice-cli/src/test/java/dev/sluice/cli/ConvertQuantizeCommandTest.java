package dev.sluice.cli;

import dev.sluice.engine.model.ModelLoader;
import dev.sluice.engine.model.ModelWeights;
import dev.sluice.engine.tensor.GGMLType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class ConvertQuantizeCommandTest {
    @TempDir Path tmp;

    @Test
    void convertThenQuantizeGivesLoadableModels() {
        Path hf = Fixtures.reference("qwen2");
        Path f16 = tmp.resolve("m-f16.gguf");
        Cli.Result c = Cli.run("convert", "--input", hf.toString(), "--output", f16.toString(), "--type", "f16");
        assertThat(c.exit()).as(c.err()).isZero();
        assertThat(c.err()).contains("wrote " + f16);
        Path q8 = tmp.resolve("m-q8_0.gguf");
        Cli.Result q = Cli.run("quantize", "--input", f16.toString(), "--output", q8.toString(), "--type", "Q8_0");
        assertThat(q.exit()).as(q.err()).isZero();
        try (ModelWeights w = ModelLoader.load(f16)) {
            assertThat(w.config().architecture()).isEqualTo("qwen2");
            assertThat(w.tensor("blk.0.ffn_up.weight").type()).isEqualTo(GGMLType.F16);
        }
        try (ModelWeights w = ModelLoader.load(q8)) {
            assertThat(w.tensor("blk.0.ffn_up.weight").type()).isEqualTo(GGMLType.Q8_0);
        }
    }

    @Test
    void badConvertTypeIsUsageError() {
        Cli.Result r = Cli.run("convert", "-i", "x", "-o", "y.gguf", "-t", "q2_k");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("q2_k").contains("f32, f16, bf16, q8_0, q4_0");
    }

    @Test
    void missingOutputFolderIsNamed() {
        Path hf = Fixtures.reference("qwen2");
        Path out = tmp.resolve("no/such/dir/m.gguf");
        Cli.Result r = Cli.run("convert", "-i", hf.toString(), "-o", out.toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("output folder does not exist").contains(tmp.resolve("no/such/dir").toString());
    }
}
