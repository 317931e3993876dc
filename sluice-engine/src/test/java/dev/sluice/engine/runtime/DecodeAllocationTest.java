package dev.sluice.engine.runtime;

import dev.sluice.engine.kernels.Kernels;
import dev.sluice.engine.model.ModelConfig;
import dev.sluice.engine.sampling.Sampler;
import dev.sluice.engine.sampling.SamplingParams;
import dev.sluice.engine.tensor.GGMLType;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 3, "no allocation on the hot path": once its {@link Transformer.Workspace} has grown, a
 * batched decode step ({@link Transformer#forwardBatch} into reused logits rows, then each
 * sequence's {@link Sampler}) allocates next to nothing on the calling thread, whatever the
 * vocabulary and width: before, every step allocated the activations, a logits matrix and a
 * {@code vocab}-float copy per sequence (here more than 100 KiB per step).
 *
 * <p>Scalar backend: the Vector API's Java fallback allocates on every operation until C2 has
 * compiled the kernel, which a unit test cannot wait for deterministically. The vector kernels are
 * measured by {@code sluice bench engine} ({@code decode_alloc_bytes_per_step}) and JFR
 * (docs/engine.md). What remains per step is the {@code Parallel} job and lambda of each parallel
 * loop (about 150 bytes each, 17 loops here) and one small result record per sampled token.
 */
class DecodeAllocationTest {
    private static final int VOCAB = 4096, B = 4, STEPS = 32;

    @Test
    void batchedDecodeStepAllocatesAlmostNothing() {
        ModelConfig base = RandomModel.config("qwen2", 128, true, false, true, 0);
        ModelConfig c = new ModelConfig(base.architecture(), base.nEmbd(), base.nLayers(), base.nHeads(), base.nKvHeads(), base.headDim(),
                base.nFf(), VOCAB, base.contextLength(), base.rmsEps(), base.ropeTheta(), base.ropeNeox(), base.ropeScaling(),
                base.qkvBias(), base.qkNorm(), base.tiedEmbeddings(), base.slidingWindow());
        Transformer m = new Transformer(new RandomModel(c, GGMLType.Q8_0, 7), Kernels.create("cpu-scalar"), 128);
        PagedKVCache pool = new PagedKVCache(c, 16, B * 8);
        PagedKVCache.Sequence[] seqs = new PagedKVCache.Sequence[B];
        Sampler[] samplers = {
                new Sampler(SamplingParams.greedy(STEPS * 2), VOCAB, new int[] {1, 2, 3}),
                new Sampler(SamplingParams.builder().temperature(0.8f).seed(1L).build(), VOCAB, new int[] {1}),
                new Sampler(SamplingParams.builder().temperature(0.7f).topK(40).topP(0.9f).seed(2L).build(), VOCAB, new int[] {1}),
                new Sampler(SamplingParams.builder().temperature(0f).repetitionPenalty(1.2f).presencePenalty(0.5f).build(), VOCAB, new int[] {5, 6}),
        };
        int[][] next = new int[B][1];
        float[][] logits = new float[B][VOCAB];
        Transformer.Workspace ws = m.newWorkspace();
        for (int i = 0; i < B; i++) {
            seqs[i] = pool.newSequence();
            assertThat(seqs[i].reserve(8 + 2 * STEPS)).isTrue();
            next[i] = new int[] {3 * i + 1, 3 * i + 2, 3 * i + 3, 3 * i + 4, 5, 6, 7, 8};
        }
        m.forwardBatch(next, seqs, pool, null, true, ws, logits);     // prefill: the workspace grows here
        for (int i = 0; i < B; i++) next[i] = new int[] {samplers[i].sample(logits[i]).token()};
        for (int step = 0; step < STEPS; step++) decode(m, pool, seqs, samplers, next, logits, ws); // warm: buffers, class init

        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().threadId();
        long before = threads.getThreadAllocatedBytes(id);
        for (int step = 0; step < STEPS; step++) decode(m, pool, seqs, samplers, next, logits, ws);
        long perStep = (threads.getThreadAllocatedBytes(id) - before) / STEPS;

        assertThat(perStep).as("bytes allocated per decode step of %d sequences, vocabulary %d", B, VOCAB).isLessThan(8 * 1024);
        assertThat(Arrays.stream(seqs).mapToInt(PagedKVCache.Sequence::length)).containsOnly(8 + 2 * STEPS);
    }

    private static void decode(Transformer m, PagedKVCache pool, PagedKVCache.Sequence[] seqs, Sampler[] samplers, int[][] next,
                               float[][] logits, Transformer.Workspace ws) {
        m.forwardBatch(next, seqs, pool, null, true, ws, logits);
        for (int i = 0; i < B; i++) next[i][0] = samplers[i].sample(logits[i]).token();
    }
}
