package dev.sluice.engine.runtime;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class PagedKVCacheTest {

    @Test
    void offsetsOfARangeMatchTheOffsetOfEachPosition() {
        PagedKVCache pool = new PagedKVCache(RandomModel.config("llama", 64, false, false, false, 0), 4, 20);
        PagedKVCache.Sequence other = pool.newSequence();
        PagedKVCache.Sequence s = pool.newSequence();
        // interleave the two sequences' blocks so that s's block table is not contiguous
        for (int p = 4; p <= 40; p += 4) {
            assertThat(other.reserve(p)).isTrue();
            assertThat(s.reserve(p)).isTrue();
        }
        int[] offs = new int[40];
        for (int first = 0; first < 40; first += 3) {
            for (int last = first; last < 40; last += 5) {
                s.offsets(first, last, offs);
                for (int j = first; j <= last; j++) assertThat(offs[j - first]).as("position %d of [%d, %d]", j, first, last).isEqualTo(s.offset(j));
            }
        }
    }

    /**
     * Keys land transposed in their blocks ({@code [block][kvDim][blockSize]}), values position-major,
     * whatever the pieces they are written in (runs that start and end mid-block); nothing else in
     * the pool is touched.
     */
    @Test
    void keysAreWrittenTransposedWithinEachBlockAndValuesByRow() {
        dev.sluice.engine.model.ModelConfig c = RandomModel.config("llama", 64, false, false, false, 0);
        int kvDim = c.kvDim(), bs = 5, len = 23;
        PagedKVCache pool = new PagedKVCache(c, bs, 12);
        PagedKVCache.Sequence other = pool.newSequence();
        PagedKVCache.Sequence s = pool.newSequence();
        for (int p = 1; p <= len; p += bs) {
            assertThat(other.reserve(p)).isTrue();
            assertThat(s.reserve(p)).isTrue();
        }
        float[] k = new float[len * kvDim], v = new float[len * kvDim];
        for (int i = 0; i < k.length; i++) {
            k[i] = i + 1;
            v[i] = -(i + 1);
        }
        for (int p = 0, m = 1; p < len; p += m, m = m % 7 + 2) {
            int n = Math.min(m, len - p);
            s.writeKeys(pool.k[1], p, k, p * kvDim, n);
            s.write(pool.v[1], p, v, p * kvDim, n);
        }
        for (int p = 0; p < len; p++) {
            for (int e = 0; e < kvDim; e++) {
                assertThat(pool.k[1][s.blockOffset(p / bs) + e * bs + p % bs]).as("key %d of position %d", e, p).isEqualTo(k[p * kvDim + e]);
                assertThat(pool.v[1][s.offset(p) + e]).as("value %d of position %d", e, p).isEqualTo(v[p * kvDim + e]);
            }
        }
        assertThat(java.util.stream.IntStream.range(0, pool.k[1].length).filter(i -> pool.k[1][i] != 0f).count()).isEqualTo(len * kvDim);
        assertThat(java.util.stream.IntStream.range(0, pool.v[1].length).filter(i -> pool.v[1][i] != 0f).count()).isEqualTo(len * kvDim);
        assertThat(pool.k[0]).containsOnly(0f);
    }
}
