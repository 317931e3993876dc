package dev.sluice.engine.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/** Tokenizers are shared by all requests: concurrent encodes (sharing the BPE word cache) must match sequential ones. */
class ConcurrentEncodeTest {
    @Test
    void concurrentEncodesMatchSequential() throws Exception {
        Tokenizer tok = Vocabs.reference();
        SplittableRandom r = new SplittableRandom(11);
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 400; i++) texts.add(RoundTripPropertyTest.randomText(r) + " the cat sat on the mat " + i);
        List<int[]> expected = texts.stream().map(t -> tok.encode(t, true, true)).toList();
        try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int w = 0; w < 8; w++) {
                int offset = w * 37;
                results.add(pool.submit(() -> {
                    for (int k = 0; k < texts.size(); k++) {
                        int i = (k + offset) % texts.size();
                        if (!java.util.Arrays.equals(tok.encode(texts.get(i), true, true), expected.get(i))) return false;
                    }
                    return true;
                }));
            }
            for (Future<Boolean> f : results) assertThat(f.get()).isTrue();
        }
    }
}
