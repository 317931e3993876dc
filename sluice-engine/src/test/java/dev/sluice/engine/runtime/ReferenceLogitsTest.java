package dev.sluice.engine.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.engine.kernels.Kernels;
import dev.sluice.engine.model.ModelLoader;
import dev.sluice.engine.model.ModelWeights;
import dev.sluice.engine.sampling.SamplingParams;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The forward pass against Hugging Face transformers (float32, CPU reference written by
 * {@code tools/}) on tiny models of every supported architecture: logits of the whole prompt
 * within max-abs 1e-4, and the 32-token greedy continuation identical, with both backends.
 * The fixtures sit in {@code src/test/resources/reference/<model>/}.
 */
class ReferenceLogitsTest {
    private static final float MAX_ABS = 1e-4f;

    @ParameterizedTest(name = "{0} on {1}")
    @CsvSource({
            "llama, cpu-vector", "llama, cpu-scalar",
            "llama-bf16, cpu-vector", "llama-bf16, cpu-scalar",
            "mistral, cpu-vector", "mistral, cpu-scalar",
            "qwen2, cpu-vector", "qwen2, cpu-scalar",
            "qwen2-sharded, cpu-vector",
            "qwen3, cpu-vector", "qwen3, cpu-scalar",
    })
    void logitsAndGreedyMatchTransformers(String model, String backend) throws Exception {
        Path dir = referenceDir(model);
        JsonNode expected = new ObjectMapper().readTree(dir.resolve("expected.json").toFile());
        int[] input = ints(expected.get("input_ids"));
        int[] greedy = ints(expected.get("greedy_ids"));
        int vocab = expected.get("logits_shape").get(1).asInt();
        float[] want = floats(dir.resolve(expected.path("logits_file").asText("logits.f32")));
        assertThat(want).hasSize(input.length * vocab);

        try (ModelWeights weights = ModelLoader.load(dir)) {
            Transformer t = new Transformer(weights, Kernels.create(backend), 512);
            assertThat(t.config().vocabSize()).isEqualTo(vocab);
            float[] got = t.forward(input, 0, t.newCache());
            float maxAbs = 0;
            int worst = 0;
            for (int i = 0; i < want.length; i++) {
                float d = Math.abs(got[i] - want[i]);
                if (d > maxAbs) {
                    maxAbs = d;
                    worst = i;
                }
            }
            assertThat(maxAbs).as("%s/%s max |logit - HF| at position %d token %d", model, backend, worst / vocab, worst % vocab)
                    .isLessThanOrEqualTo(MAX_ABS);

            Generator.Result r = new Generator(t, null).generate(input, SamplingParams.greedy(greedy.length), null, null);
            assertThat(r.tokens()).as("%s/%s greedy continuation", model, backend).containsExactly(greedy);
            assertThat(r.finishReason()).isEqualTo(Generator.FinishReason.LENGTH);
        }
    }

    static Path referenceDir(String model) throws URISyntaxException {
        var url = ReferenceLogitsTest.class.getResource("/reference/" + model + "/expected.json");
        assertThat(url).as("reference fixture for %s", model).isNotNull();
        return Path.of(url.toURI()).getParent();
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    private static float[] floats(Path p) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }
}
