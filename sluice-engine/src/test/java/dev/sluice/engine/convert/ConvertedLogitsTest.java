package dev.sluice.engine.convert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.engine.kernels.Kernels;
import dev.sluice.engine.model.ModelLoader;
import dev.sluice.engine.model.ModelWeights;
import dev.sluice.engine.model.ReferenceModels;
import dev.sluice.engine.runtime.Transformer;
import dev.sluice.engine.tensor.GGMLType;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * End to end: a reference checkpoint converted to GGUF, loaded back and run through the forward
 * pass gives Hugging Face transformers' logits. For Llama and Mistral this exercises the Q/K row
 * permutation with interleaved RoPE, and for Llama 3.1 scaling the {@code rope_freqs.weight}
 * tensor; lossy types are held to their quantization error.
 */
class ConvertedLogitsTest {
    @TempDir Path tmp;

    @ParameterizedTest(name = "{0} as {1}")
    @CsvSource({
            "llama, F32, 1e-4", "llama-bf16, F32, 1e-4", "mistral, F32, 1e-4", "qwen2, F32, 1e-4", "qwen3, F32, 1e-4",
            // measured: F32 2e-6..8e-6; F16 0.003..0.007; Q8_0 0.08..0.24; Q4_0 0.83 (llama)
            "llama-bf16, BF16, 1e-4", "llama, F16, 0.02", "qwen2, F16, 0.02",
            "llama, Q8_0, 0.4", "qwen3, Q8_0, 0.4", "mistral, Q8_0, 0.4", "llama, Q4_0, 2.0",
    })
    void convertedGgufMatchesTransformersLogits(String model, GGMLType type, float maxAbs) throws IOException {
        var dir = ReferenceModels.dir(model);
        assumeTrue(dir.isPresent());
        JsonNode expected = new ObjectMapper().readTree(dir.get().resolve("expected.json").toFile());
        int[] input = new int[expected.get("input_ids").size()];
        for (int i = 0; i < input.length; i++) input[i] = expected.get("input_ids").get(i).asInt();
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(dir.get().resolve("logits.f32"))).order(ByteOrder.LITTLE_ENDIAN);
        float[] want = new float[b.remaining() / 4];
        b.asFloatBuffer().get(want);

        Path gguf = tmp.resolve(model + "." + type + ".gguf");
        SafetensorsToGGUF.convert(dir.get(), gguf, type);
        try (ModelWeights w = ModelLoader.load(gguf)) {
            Transformer t = new Transformer(w, Kernels.create("cpu-scalar"), 512);
            float[] got = t.forward(input, 0, t.newCache());
            assertThat(got).hasSize(want.length);
            float worst = 0;
            for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
            assertThat(worst).as("%s %s max |logit - HF|", model, type).isLessThanOrEqualTo(maxAbs);
        }
    }
}
