package dev.sluice.engine.runtime;

import dev.sluice.engine.kernels.Kernels;
import dev.sluice.engine.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * {@link PagedAttention} over keys stored transposed per block: the vector code agrees with its
 * scalar twin, the twin with the contiguous {@link Kernels#attention}, for block sizes that are and
 * are not multiples of the vector length, rows at positions that are not chunk-aligned, sliding
 * windows, groups of 1 to 12 query heads per kv head (one and several passes of the score and
 * weighted-sum tiles) and head sizes of 4, 5 and 2.5 vectors of 16 lanes; and a row's output is
 * bit-identical alone, in a batch, and however a kv head's query heads are split into units.
 */
class PagedAttentionTest {
    private static final Kernels VECTOR = Kernels.create("cpu-vector"), SCALAR = Kernels.create("cpu-scalar");
    /** Sequence lengths: a single position, less than a chunk, exactly one, one past, several blocks. */
    private static final int[] LENGTHS = {1, 3, 16, 17, 33, 70};
    /** Rows per sequence: its last positions, as a prefill chunk (one row: a decode step). */
    private static final int ROWS = 3;

    static ModelConfig config(int nHeads, int nKvHeads, int headDim) {
        return new ModelConfig("llama", nHeads * headDim, 1, nHeads, nKvHeads, headDim, 64, 97, 4096, 1e-5f, 10000f, false, null,
                false, false, false, 0);
    }

    /** One layer of paged keys and values for sequences of {@code lengths}, and the same as contiguous arrays. */
    record Filled(PagedKVCache pool, PagedKVCache.Sequence[] seqs, float[][] keys, float[][] values) {}

    static Filled fill(ModelConfig c, int blockSize, int[] lengths, long seed) {
        int kvDim = c.kvDim(), blocks = 0;
        for (int len : lengths) blocks += (len + blockSize - 1) / blockSize;
        PagedKVCache pool = new PagedKVCache(c, blockSize, blocks + 1);
        PagedKVCache.Sequence[] seqs = new PagedKVCache.Sequence[lengths.length];
        for (int i = 0; i < seqs.length; i++) seqs[i] = pool.newSequence();
        // reserve block by block, round robin, so that the block tables interleave
        for (int p = 1; p <= Arrays.stream(lengths).max().orElse(0); p += blockSize) {
            for (int i = 0; i < seqs.length; i++) assertThat(seqs[i].reserve(Math.min(p, lengths[i]))).isTrue();
        }
        SplittableRandom r = new SplittableRandom(seed);
        float[][] k = new float[lengths.length][], v = new float[lengths.length][];
        for (int i = 0; i < seqs.length; i++) {
            k[i] = new float[lengths[i] * kvDim];
            v[i] = new float[lengths[i] * kvDim];
            for (int j = 0; j < k[i].length; j++) {
                k[i][j] = (float) r.nextGaussian();
                v[i][j] = (float) r.nextGaussian();
            }
            // written in pieces of 1 to 7 positions, as prefill chunks and decode steps do
            for (int p = 0; p < lengths[i]; ) {
                int m = Math.min(lengths[i] - p, 1 + r.nextInt(7));
                seqs[i].writeKeys(pool.k[0], p, k[i], p * kvDim, m);
                seqs[i].write(pool.v[0], p, v[i], p * kvDim, m);
                p += m;
            }
        }
        return new Filled(pool, seqs, k, v);
    }

    static Stream<Arguments> shapes() {
        Stream.Builder<Arguments> b = Stream.builder();
        int[][] heads = {{2, 2}, {4, 2}, {14, 2}, {8, 1}, {12, 1}};
        for (int blockSize : new int[] {1, 5, 16, 32, 48}) {
            for (int[] h : heads) {
                for (int headDim : new int[] {64, 80, 40}) b.add(Arguments.of(blockSize, h[0], h[1], headDim));
            }
        }
        return b.build();
    }

    @ParameterizedTest(name = "block {0}, {1}/{2} heads, headDim {3}")
    @MethodSource("shapes")
    void vectorMatchesTheScalarTwinAndTheTwinTheContiguousKernel(int blockSize, int nHeads, int nKvHeads, int headDim) {
        ModelConfig c = config(nHeads, nKvHeads, headDim);
        int qDim = c.qDim();
        Filled f = fill(c, blockSize, LENGTHS, 31L * blockSize + nHeads + headDim);
        int n = 0;
        for (int len : LENGTHS) n += Math.min(ROWS, len);
        int[] rowSeq = new int[n], rowPos = new int[n];
        for (int i = 0, row = 0; i < LENGTHS.length; i++) {
            for (int t = LENGTHS[i] - Math.min(ROWS, LENGTHS[i]); t < LENGTHS[i]; t++, row++) {
                rowSeq[row] = i;
                rowPos[row] = t;
            }
        }
        float[] q = new float[n * qDim];
        SplittableRandom r = new SplittableRandom(headDim);
        for (int j = 0; j < q.length; j++) q[j] = (float) r.nextGaussian();
        int maxLen = Arrays.stream(LENGTHS).max().orElseThrow();
        for (int window : new int[] {0, 1, 5, 16, 37}) {
            float[] vec = new float[n * qDim], sca = new float[n * qDim];
            PagedAttention.run(q, vec, n, rowSeq, rowPos, f.seqs(), f.pool().k[0], f.pool().v[0], blockSize, nHeads, nKvHeads, headDim, window,
                    maxLen, VECTOR, true);
            PagedAttention.run(q, sca, n, rowSeq, rowPos, f.seqs(), f.pool().k[0], f.pool().v[0], blockSize, nHeads, nKvHeads, headDim, window,
                    maxLen, SCALAR, false);
            for (int j = 0; j < vec.length; j++) {
                assertThat(vec[j]).as("window %d, row %d, element %d", window, j / qDim, j % qDim).isCloseTo(sca[j], within(1e-5f));
            }
            for (int i = 0, row = 0; i < LENGTHS.length; i++) {
                int m = Math.min(ROWS, LENGTHS[i]);
                float[] qs = Arrays.copyOfRange(q, row * qDim, (row + m) * qDim), ref = new float[m * qDim];
                SCALAR.attention(qs, ref, m, LENGTHS[i] - m, f.keys()[i], f.values()[i], nHeads, nKvHeads, headDim, window);
                for (int j = 0; j < ref.length; j++) {
                    assertThat(sca[row * qDim + j]).as("window %d, sequence %d, element %d", window, i, j).isCloseTo(ref[j], within(1e-6f));
                }
                row += m;
            }
        }
    }

    /**
     * Each row of a batch of prefill chunks and decode rows, run alone (its own sequence only) and
     * with every split of the kv heads' query heads into units, gives the batch's bits.
     */
    @Test
    void aRowsOutputDoesNotDependOnTheBatchOrTheSplit() {
        for (int[] shape : new int[][] {{14, 2, 64, 16}, {12, 1, 80, 5}, {8, 1, 64, 48}}) {
            int nHeads = shape[0], nKvHeads = shape[1], headDim = shape[2], blockSize = shape[3], group = nHeads / nKvHeads;
            ModelConfig c = config(nHeads, nKvHeads, headDim);
            int qDim = c.qDim();
            int[] lengths = {40, 1, 23, 64, 17};
            Filled f = fill(c, blockSize, lengths, 5);
            int[] chunk = {7, 1, 1, 16, 2};
            int n = Arrays.stream(chunk).sum();
            int[] rowSeq = new int[n], rowPos = new int[n];
            for (int i = 0, row = 0; i < lengths.length; i++) {
                for (int t = lengths[i] - chunk[i]; t < lengths[i]; t++, row++) {
                    rowSeq[row] = i;
                    rowPos[row] = t;
                }
            }
            float[] q = new float[n * qDim];
            SplittableRandom r = new SplittableRandom(9);
            for (int j = 0; j < q.length; j++) q[j] = (float) r.nextGaussian();
            for (int window : new int[] {0, 13}) {
                float[] batch = new float[n * qDim];
                PagedAttention.run(q, batch, n, rowSeq, rowPos, f.seqs(), f.pool().k[0], f.pool().v[0], blockSize, nHeads, nKvHeads, headDim,
                        window, 64, VECTOR, true);
                for (int heads = 1; heads <= group; heads++) {
                    float[] split = new float[n * qDim];
                    PagedAttention.run(q, split, n, rowSeq, rowPos, f.seqs(), f.pool().k[0], f.pool().v[0], blockSize, nHeads, nKvHeads,
                            headDim, window, 64, VECTOR, true, heads);
                    assertThat(split).as("%s, window %d, %d heads per unit", Arrays.toString(shape), window, heads).isEqualTo(batch);
                }
                for (int row = 0; row < n; row++) {
                    float[] alone = new float[qDim];
                    PagedAttention.run(Arrays.copyOfRange(q, row * qDim, (row + 1) * qDim), alone, 1, new int[] {0}, new int[] {rowPos[row]},
                            new PagedKVCache.Sequence[] {f.seqs()[rowSeq[row]]}, f.pool().k[0], f.pool().v[0], blockSize, nHeads, nKvHeads,
                            headDim, window, 64, VECTOR, true);
                    assertThat(alone).as("%s, window %d, row %d", Arrays.toString(shape), window, row)
                            .isEqualTo(Arrays.copyOfRange(batch, row * qDim, (row + 1) * qDim));
                }
            }
        }
    }
}
