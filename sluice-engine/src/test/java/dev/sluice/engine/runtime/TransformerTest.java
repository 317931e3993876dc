package dev.sluice.engine.runtime;

import dev.sluice.engine.kernels.Kernels;
import dev.sluice.engine.kernels.ScalarKernels;
import dev.sluice.engine.kernels.VectorKernels;
import dev.sluice.engine.model.ModelConfig;
import dev.sluice.engine.tensor.GGMLType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Forward-pass invariants on random models of every weight type (the HF comparison is
 * {@link ReferenceLogitsTest}): a batched prefill equals token-by-token decoding through the KV
 * cache, {@code forwardLast} equals the last row of {@code forward}, and the vector backend matches
 * the scalar one.
 */
class TransformerTest {
    private static final long SEED = System.nanoTime();

    private static int[] tokens(int n, SplittableRandom rnd) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = rnd.nextInt(97);
        return t;
    }

    private static float maxAbsDiff(float[] a, int aOff, float[] b, int bOff, int n) {
        float m = 0;
        for (int i = 0; i < n; i++) m = Math.max(m, Math.abs(a[aOff + i] - b[bOff + i]));
        return m;
    }

    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void batchedPrefillEqualsIncrementalDecodeAndBackendsAgree(GGMLType type) {
        int width = type.blockSize == 256 ? 256 : 64;
        ModelConfig c = RandomModel.config("qwen3", width, true, true, true, 0);
        RandomModel w = new RandomModel(c, type, SEED);
        int[] toks = tokens(9, new SplittableRandom(SEED));
        Transformer vec = new Transformer(w, new VectorKernels(), 64);
        Transformer sca = new Transformer(w, new ScalarKernels(), 64);
        int V = c.vocabSize();

        float[] batched = vec.forward(toks, 0, vec.newCache());
        KVCache cache = vec.newCache();
        for (int i = 0; i < toks.length; i++) {
            float[] one = vec.forward(new int[] {toks[i]}, i, cache);
            assertThat(maxAbsDiff(one, 0, batched, i * V, V)).as("%s position %d, seed %dL", type, i, SEED).isLessThan(1e-4f);
        }
        assertThat(cache.length()).isEqualTo(toks.length);
        float[] last = vec.forwardLast(toks, 0, vec.newCache());
        assertThat(maxAbsDiff(last, 0, batched, (toks.length - 1) * V, V)).isLessThan(1e-5f);

        float[] scalar = sca.forward(toks, 0, sca.newCache());
        assertThat(maxAbsDiff(scalar, 0, batched, 0, batched.length)).as("%s vector vs scalar, seed %dL", type, SEED).isLessThan(1e-3f);
    }

    @Test
    void eachArchitectureFlagRunsAndChangesTheOutput() {
        int[] toks = tokens(6, new SplittableRandom(SEED));
        float[] base = null;
        for (ModelConfig c : new ModelConfig[] {
                RandomModel.config("llama", 64, false, false, false, 0),
                RandomModel.config("llama", 64, false, false, true, 0),
                RandomModel.config("mistral", 64, false, false, true, 2),
                RandomModel.config("qwen2", 64, true, false, true, 0)}) {
            Transformer t = new Transformer(new RandomModel(c, GGMLType.F32, SEED), new VectorKernels(), 64);
            float[] logits = t.forward(toks, 0, t.newCache());
            assertThat(logits).doesNotContain(Float.NaN);
            if (base != null) assertThat(Arrays.equals(base, logits)).as(c.toString()).isFalse();
            base = logits;
        }
    }

    @Test
    void longPromptIsChunkedTransparently() {
        ModelConfig c = RandomModel.config("llama", 64, false, false, true, 0);
        RandomModel w = new RandomModel(c, GGMLType.F32, SEED);
        Transformer t = new Transformer(w, new VectorKernels(), 512);
        int[] toks = tokens(Transformer.PREFILL_CHUNK + 20, new SplittableRandom(SEED));
        float[] all = t.forwardLast(toks, 0, t.newCache());
        KVCache cache = t.newCache();
        t.forward(Arrays.copyOf(toks, toks.length - 1), 0, cache);
        float[] step = t.forward(new int[] {toks[toks.length - 1]}, toks.length - 1, cache);
        assertThat(maxAbsDiff(all, 0, step, 0, all.length)).isLessThan(1e-4f);
    }

    @Test
    void warmUpLeavesCachesAlone() {
        ModelConfig c = RandomModel.config("llama", 64, false, false, true, 0);
        Transformer t = new Transformer(new RandomModel(c, GGMLType.Q8_0, SEED), new VectorKernels(), 8);
        KVCache cache = t.newCache();
        float[] before = t.forward(new int[] {3, 4}, 0, cache);
        t.warmUp();
        assertThat(t.forward(new int[] {3, 4}, 0, t.newCache())).containsExactly(before);
    }

    @Test
    void contextOverflowAndBadTokensAreRejected() {
        ModelConfig c = RandomModel.config("llama", 64, false, false, true, 0);
        Transformer t = new Transformer(new RandomModel(c, GGMLType.F32, SEED), Kernels.create("cpu-scalar"), 8);
        assertThat(t.maxContext()).isEqualTo(8);
        KVCache cache = t.newCache();
        assertThatThrownBy(() -> t.forward(new int[9], 0, cache)).isInstanceOf(ContextOverflowException.class).hasMessageContaining("9");
        assertThatThrownBy(() -> t.forward(new int[] {97}, 0, cache)).hasMessageContaining("97");
        assertThatThrownBy(() -> t.forward(new int[] {1}, 3, cache)).hasMessageContaining("startPos");
    }
}
