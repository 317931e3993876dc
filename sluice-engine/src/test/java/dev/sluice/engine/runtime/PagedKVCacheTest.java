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
}
