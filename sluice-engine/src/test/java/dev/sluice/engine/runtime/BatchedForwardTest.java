package dev.sluice.engine.runtime;

import dev.sluice.engine.kernels.Kernels;
import dev.sluice.engine.model.ModelLoader;
import dev.sluice.engine.model.ModelWeights;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * {@link Transformer#forwardBatch} over a {@link PagedKVCache}: agrees with the contiguous-cache
 * {@link Transformer#forward} (to rounding), and is bit-identical for a sequence alone, in a
 * batch of 8 with other sequences' prefill chunks and decodes, and however its prompt is chunked.
 * Runs on the tiny reference models (Llama with llama3 RoPE scaling, Qwen2 with QKV bias,
 * Qwen3 with QK norm) and both kernel backends.
 */
class BatchedForwardTest {
    private static ModelWeights llama, qwen2, qwen3;

    @BeforeAll
    static void load() throws Exception {
        llama = ModelLoader.load(ReferenceLogitsTest.referenceDir("llama"));
        qwen2 = ModelLoader.load(ReferenceLogitsTest.referenceDir("qwen2"));
        qwen3 = ModelLoader.load(ReferenceLogitsTest.referenceDir("qwen3"));
    }

    @AfterAll
    static void close() {
        llama.close();
        qwen2.close();
        qwen3.close();
    }

    private static ModelWeights weights(String name) {
        return switch (name) {
            case "llama" -> llama;
            case "qwen2" -> qwen2;
            default -> qwen3;
        };
    }

    private static int[] prompt(long seed, int n, int vocab) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(vocab);
        return t;
    }

    /** Runs {@code tokens} alone through forwardBatch in chunks of {@code chunk}; returns the last logits. */
    private static float[] alone(Transformer m, PagedKVCache pool, int[] tokens, int chunk) {
        PagedKVCache.Sequence s = pool.newSequence();
        assertThat(s.reserve(tokens.length)).isTrue();
        float[] last = null;
        for (int from = 0; from < tokens.length; from += chunk) {
            int[] c = Arrays.copyOfRange(tokens, from, Math.min(tokens.length, from + chunk));
            last = m.forwardBatch(new int[][] {c}, new PagedKVCache.Sequence[] {s}, pool, null, true)[0];
        }
        s.release();
        return last;
    }

    /**
     * Bit-identical on the scalar backend. On cpu-vector the Vector API's float lane reductions and
     * EXP may round differently before and after C2 compiles a kernel (its intrinsics vs the Java
     * fallback), so the same call can differ in the last bits over time, batched or not: there the
     * logits must agree to rounding and pick the same argmax.
     */
    private static void same(float[] actual, float[] expected, boolean exact, String what) {
        if (exact) {
            assertThat(actual).as(what).containsExactly(expected);
        } else {
            for (int v = 0; v < expected.length; v++) assertThat(actual[v]).as(what).isCloseTo(expected[v], within(1e-4f));
            assertThat(argmax(actual)).as(what).isEqualTo(argmax(expected));
        }
    }

    private static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama/cpu-scalar", "qwen2/cpu-scalar", "qwen3/cpu-scalar", "llama/cpu-vector", "qwen2/cpu-vector", "qwen3/cpu-vector"})
    void batchedLogitsMatchAloneBitForBitAndTheContiguousForward(String modelAndBackend) {
        String[] mb = modelAndBackend.split("/");
        Transformer m = new Transformer(weights(mb[0]), Kernels.create(mb[1]), 128);
        boolean exact = mb[1].equals("cpu-scalar");
        int vocab = m.config().vocabSize();
        PagedKVCache pool = new PagedKVCache(m.config(), 4, 400); // small blocks: sequences span many

        int B = 8;
        int[][] prompts = new int[B][];
        for (int i = 0; i < B; i++) prompts[i] = prompt(i, 5 + 3 * i, vocab);

        // alone: whole prompt as one chunk, and token by token (decode-like), agree bit for bit
        float[][] expected = new float[B][];
        for (int i = 0; i < B; i++) {
            expected[i] = alone(m, pool, prompts[i], prompts[i].length);
            same(alone(m, pool, prompts[i], 1), expected[i], exact, "prompt " + i + " token by token");
            same(alone(m, pool, prompts[i], 3), expected[i], exact, "prompt " + i + " in chunks of 3");
            float[] contiguous = m.forwardLast(prompts[i], 0, m.newCache());
            for (int v = 0; v < vocab; v++) assertThat(expected[i][v]).isCloseTo(contiguous[v], within(1e-4f));
        }
        assertThat(pool.usedBlocks()).isZero();

        // batched: staggered starts so every step mixes prefill chunks of different sizes with decodes
        PagedKVCache.Sequence[] seqs = new PagedKVCache.Sequence[B];
        int[] done = new int[B];
        for (int i = 0; i < B; i++) {
            seqs[i] = pool.newSequence();
            assertThat(seqs[i].reserve(prompts[i].length)).isTrue();
        }
        float[][] got = new float[B][];
        for (int step = 0; Arrays.stream(done).sum() < Arrays.stream(prompts).mapToInt(p -> p.length).sum(); step++) {
            int[] idx = new int[B];
            int nb = 0;
            int[][] chunks = new int[B][];
            for (int i = 0; i < B; i++) {
                if (i > step || done[i] == prompts[i].length) continue;
                int c = Math.min(prompts[i].length - done[i], 1 + (step + i) % 4);
                chunks[nb] = Arrays.copyOfRange(prompts[i], done[i], done[i] + c);
                idx[nb++] = i;
            }
            PagedKVCache.Sequence[] sb = new PagedKVCache.Sequence[nb];
            for (int j = 0; j < nb; j++) sb[j] = seqs[idx[j]];
            float[][] out = m.forwardBatch(Arrays.copyOf(chunks, nb), sb, pool, null, true);
            for (int j = 0; j < nb; j++) {
                int i = idx[j];
                done[i] += chunks[j].length;
                if (done[i] == prompts[i].length) got[i] = out[j];
            }
        }
        for (int i = 0; i < B; i++) same(got[i], expected[i], exact, "sequence " + i + " batched");
        for (PagedKVCache.Sequence s : seqs) s.release();
        assertThat(pool.usedBlocks()).isZero();
    }

    @org.junit.jupiter.api.Test
    void pagedAttentionMatchesItsScalarTwinAndTheContiguousKernel() {
        dev.sluice.engine.model.ModelConfig c = llama.config();
        int nHeads = c.nHeads(), nKv = c.nKvHeads(), hd = c.headDim(), kvDim = c.kvDim(), qDim = c.qDim();
        SplittableRandom r = new SplittableRandom(7);
        PagedKVCache pool = new PagedKVCache(c, 4, 64);
        int[] lens = {1, 5, 13, 30};
        PagedKVCache.Sequence[] seqs = new PagedKVCache.Sequence[lens.length];
        float[][] contK = new float[lens.length][], contV = new float[lens.length][];
        int n = 0;
        for (int i = 0; i < lens.length; i++) {
            seqs[i] = pool.newSequence();
            seqs[i].reserve(lens[i]);
            contK[i] = new float[lens[i] * kvDim];
            contV[i] = new float[lens[i] * kvDim];
            for (int j = 0; j < contK[i].length; j++) {
                contK[i][j] = (float) r.nextGaussian();
                contV[i][j] = (float) r.nextGaussian();
            }
            seqs[i].writeKeys(pool.k[0], 0, contK[i], 0, lens[i]);
            seqs[i].write(pool.v[0], 0, contV[i], 0, lens[i]);
            n += Math.min(3, lens[i]);
        }
        // the last min(3, len) positions of each sequence are this step's rows
        int[] rowSeq = new int[n], rowPos = new int[n];
        float[] q = new float[n * qDim];
        for (int j = 0; j < q.length; j++) q[j] = (float) r.nextGaussian();
        for (int i = 0, row = 0; i < lens.length; i++) {
            for (int t = lens[i] - Math.min(3, lens[i]); t < lens[i]; t++, row++) {
                rowSeq[row] = i;
                rowPos[row] = t;
            }
        }
        for (int window : new int[] {0, 4}) {
            float[] vec = new float[n * qDim], sca = new float[n * qDim];
            PagedAttention.run(q, vec, n, rowSeq, rowPos, seqs, pool.k[0], pool.v[0], pool.blockSize(), nHeads, nKv, hd, window, 30, Kernels.create("cpu-vector"), true);
            PagedAttention.run(q, sca, n, rowSeq, rowPos, seqs, pool.k[0], pool.v[0], pool.blockSize(), nHeads, nKv, hd, window, 30, Kernels.create("cpu-scalar"), false);
            for (int j = 0; j < vec.length; j++) assertThat(vec[j]).as("window %d, element %d", window, j).isCloseTo(sca[j], within(1e-5f));
            for (int i = 0, row = 0; i < lens.length; i++) {
                int m = Math.min(3, lens[i]);
                float[] qs = Arrays.copyOfRange(q, row * qDim, (row + m) * qDim), ref = new float[m * qDim];
                Kernels.create("cpu-scalar").attention(qs, ref, m, lens[i] - m, contK[i], contV[i], nHeads, nKv, hd, window);
                for (int j = 0; j < ref.length; j++) assertThat(sca[row * qDim + j]).as("window %d, sequence %d", window, i).isCloseTo(ref[j], within(1e-6f));
                row += m;
            }
        }
    }

    /**
     * A {@link Transformer.Workspace} reused across steps of different shapes (a wide prefill step,
     * then lone padded decode steps whose padding rows held the earlier step's activations) gives
     * the logits of a fresh workspace per call.
     */
    @ParameterizedTest
    @ValueSource(strings = {"cpu-scalar", "cpu-vector"})
    void reusedWorkspaceGivesTheLogitsOfFreshOnes(String backend) {
        Transformer m = new Transformer(weights("qwen2"), Kernels.create(backend), 128);
        boolean exact = backend.equals("cpu-scalar");
        int vocab = m.config().vocabSize();
        PagedKVCache pool = new PagedKVCache(m.config(), 4, 200);
        int[][] prompts = {prompt(11, 9, vocab), prompt(12, 5, vocab), prompt(13, 7, vocab)};
        PagedKVCache.Sequence[] reused = new PagedKVCache.Sequence[3], fresh = new PagedKVCache.Sequence[3];
        for (int i = 0; i < 3; i++) {
            reused[i] = pool.newSequence();
            fresh[i] = pool.newSequence();
            assertThat(reused[i].reserve(20)).isTrue();
            assertThat(fresh[i].reserve(20)).isTrue();
        }
        Transformer.Workspace ws = m.newWorkspace();
        float[][] out = new float[3][vocab];
        m.forwardBatch(prompts, reused, pool, null, true, ws, out);
        float[][] expected = m.forwardBatch(prompts, fresh, pool, null, true);
        for (int i = 0; i < 3; i++) same(out[i], expected[i], exact, "prefill " + i);
        for (int step = 0; step < 4; step++) {
            int[][] tok = {{argmax(out[0])}};
            m.forwardBatch(tok, new PagedKVCache.Sequence[] {reused[0]}, pool, null, true, ws, out);
            float[] e = m.forwardBatch(tok, new PagedKVCache.Sequence[] {fresh[0]}, pool, null, true)[0];
            same(out[0], e, exact, "decode step " + step);
        }
    }
}
