package dev.sluice.engine.sampling;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class SamplerTest {
    private static final long SEED = System.nanoTime();

    /** Logits whose softmax is exactly {@code probs}. */
    private static float[] logitsOf(double... probs) {
        float[] z = new float[probs.length];
        for (int i = 0; i < z.length; i++) z[i] = (float) Math.log(probs[i]);
        return z;
    }

    private static float[] random(int n, SplittableRandom rnd) {
        float[] z = new float[n];
        for (int i = 0; i < n; i++) z[i] = (float) (rnd.nextGaussian() * 3);
        return z;
    }

    private static SamplingParams.Builder b() {
        return SamplingParams.builder().seed(SEED);
    }

    @Test
    void greedyPicksTheArgmax() {
        float[] z = random(1000, new SplittableRandom(SEED));
        int want = 0;
        for (int i = 1; i < z.length; i++) if (z[i] > z[want]) want = i;
        Sampler s = new Sampler(SamplingParams.greedy(10), z.length, new int[0]);
        for (int i = 0; i < 5; i++) assertThat(s.sample(z).token()).as("seed %dL", SEED).isEqualTo(want);
        // ties go to the lowest id
        assertThat(new Sampler(SamplingParams.greedy(1), 3, new int[0]).sample(new float[] {1, 5, 5}).token()).isEqualTo(1);
    }

    @Test
    void sameSeedSameTokensDifferentSeedDifferentTokens() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        float[][] rows = new float[50][];
        for (int i = 0; i < rows.length; i++) rows[i] = random(200, rnd);
        SamplingParams p = SamplingParams.builder().seed(42L).temperature(1.2f).topP(0.95f).build();
        int[] a = run(new Sampler(p, 200, new int[0]), rows), b = run(new Sampler(p, 200, new int[0]), rows);
        assertThat(a).containsExactly(b);
        int[] c = run(new Sampler(p.toBuilder().seed(43L).build(), 200, new int[0]), rows);
        assertThat(c).isNotEqualTo(a);
    }

    private static int[] run(Sampler s, float[][] rows) {
        int[] out = new int[rows.length];
        for (int i = 0; i < rows.length; i++) out[i] = s.sample(rows[i]).token();
        return out;
    }

    @Test
    void samplingFollowsTheDistribution() {
        float[] z = logitsOf(0.5, 0.3, 0.2);
        Sampler s = new Sampler(b().build(), 3, new int[0]);
        int[] counts = new int[3];
        int n = 20000;
        for (int i = 0; i < n; i++) counts[s.sample(z).token()]++;
        // binomial standard deviation is at most sqrt(n/4) = 71; allow 5 sigma
        assertThat(counts[0]).as("seed %dL", SEED).isCloseTo(10000, within(355));
        assertThat(counts[1]).isCloseTo(6000, within(355));
        assertThat(counts[2]).isCloseTo(4000, within(355));
    }

    private static Set<Integer> support(SamplingParams p, float[] z) {
        Sampler s = new Sampler(p, z.length, new int[0]);
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 3000; i++) seen.add(s.sample(z).token());
        return seen;
    }

    @Test
    void topKKeepsK() {
        float[] z = logitsOf(0.05, 0.3, 0.1, 0.25, 0.3);
        assertThat(new Sampler(b().topK(2).build(), 5, new int[0]).candidates(z.clone())).containsExactly(1, 4);
        assertThat(support(b().topK(3).build(), z)).containsExactlyInAnyOrder(1, 3, 4);
        // large vocabulary: partial selection path
        float[] big = random(5000, new SplittableRandom(SEED));
        int[] top = Sampler.topIndices(big, 10);
        float[] sorted = big.clone();
        java.util.Arrays.sort(sorted);
        for (int i = 0; i < 10; i++) assertThat(big[top[i]]).isEqualTo(sorted[sorted.length - 1 - i]);
    }

    @Test
    void topPKeepsTheMinimalNucleus() {
        float[] z = logitsOf(0.1, 0.4, 0.2, 0.3);
        // 0.4 + 0.3 = 0.7 < 0.75, so the nucleus needs 0.2 too
        assertThat(new Sampler(b().topP(0.75f).build(), 4, new int[0]).candidates(z.clone())).containsExactly(1, 3, 2);
        assertThat(new Sampler(b().topP(0.7f - 1e-4f).build(), 4, new int[0]).candidates(z.clone())).containsExactly(1, 3);
        assertThat(new Sampler(b().topP(0.01f).build(), 4, new int[0]).candidates(z.clone())).containsExactly(1);
        assertThat(support(b().topP(0.75f).build(), z)).containsExactlyInAnyOrder(1, 2, 3);
    }

    @Test
    void minPDropsTokensBelowTheThreshold() {
        float[] z = logitsOf(0.5, 0.26, 0.24);
        // threshold 0.5 * 0.5 = 0.25 keeps 0.26, drops 0.24
        assertThat(new Sampler(b().minP(0.5f).build(), 3, new int[0]).candidates(z.clone())).containsExactly(0, 1);
        assertThat(support(b().minP(0.5f).build(), z)).containsExactlyInAnyOrder(0, 1);
    }

    @Test
    void temperatureSharpensBeforeFiltering() {
        // at T = 0.5 probabilities square: 0.6,0.4 -> 0.36/0.52, 0.16/0.52 -> 0.69, 0.31; top-p 0.65 keeps only the first
        float[] z = logitsOf(0.6, 0.4);
        assertThat(support(b().temperature(0.5f).topP(0.65f).build(), z)).containsExactly(0);
        assertThat(support(b().temperature(1f).topP(0.65f).build(), z)).containsExactlyInAnyOrder(0, 1);
    }

    @Test
    void penaltiesFollowOpenAiAndHuggingFace() {
        float[] z = {2f, -2f, 1f, 0.5f};
        Sampler s = new Sampler(b().repetitionPenalty(2f).presencePenalty(0.5f).frequencyPenalty(0.25f).build(), 4, new int[] {0, 1});
        s.accept(2);
        s.accept(2);
        float[] p = z.clone();
        s.process(p);
        assertThat(p[0]).isEqualTo(1f);          // prompt token, positive logit: divided
        assertThat(p[1]).isEqualTo(-4f);         // prompt token, negative logit: multiplied
        assertThat(p[2]).isEqualTo(1f / 2 - 2 * 0.25f - 0.5f); // generated twice: repetition, then frequency x2 and presence
        assertThat(p[3]).isEqualTo(0.5f);        // never seen
        // presence and frequency do not apply to prompt tokens
        Sampler q = new Sampler(b().presencePenalty(1f).frequencyPenalty(1f).build(), 4, new int[] {0, 1, 2, 3});
        float[] r = z.clone();
        q.process(r);
        assertThat(r).containsExactly(z);
    }

    @Test
    void logitBiasMinus100Bans() {
        float[] z = logitsOf(0.9, 0.05, 0.05);
        SamplingParams p = b().logitBias(Map.of(0, -100f)).build();
        assertThat(support(p, z)).doesNotContain(0);
        assertThat(new Sampler(p.toBuilder().temperature(0).build(), 3, new int[0]).sample(z).token()).isEqualTo(1);
        assertThat(new Sampler(b().temperature(0).logitBias(Map.of(2, 100f)).build(), 3, new int[0]).sample(z).token()).isEqualTo(2);
    }

    @Test
    void logprobsAreTheRawDistributionAndSumToOne() {
        float[] z = random(500, new SplittableRandom(SEED));
        Sampler s = new Sampler(b().temperature(0.3f).topK(5).logitBias(Map.of(7, -100f)).logprobs(true).topLogprobs(5).build(), 500, new int[0]);
        Sampler.Sampled out = s.sample(z);
        TokenLogprob lp = out.logprob();
        assertThat(lp.token()).isEqualTo(out.token());
        double sum = 0;
        for (int i = 0; i < 500; i++) sum += Math.exp(Sampler.logprobs(z, i, 0, 500).logprob());
        assertThat(sum).isCloseTo(1.0, within(1e-4));
        assertThat(lp.top()).hasSize(5);
        for (int i = 1; i < 5; i++) assertThat(lp.top().get(i).logprob()).isLessThanOrEqualTo(lp.top().get(i - 1).logprob());
        int argmax = 0;
        for (int i = 1; i < 500; i++) if (z[i] > z[argmax]) argmax = i;
        assertThat(lp.top().get(0).token()).isEqualTo(argmax);
        // unaffected by temperature, filters and bias
        assertThat(lp.logprob()).isEqualTo(Sampler.logprobs(z, out.token(), 0, 500).logprob());
        assertThat(new Sampler(b().build(), 500, new int[0]).sample(z).logprob()).isNull();
    }

    @Test
    void validationNamesTheField() {
        assertThatThrownBy(() -> b().temperature(-1).build()).isInstanceOf(InvalidSamplingParamsException.class).hasMessageStartingWith("temperature");
        assertThatThrownBy(() -> b().topP(0).build()).hasMessageStartingWith("top_p");
        assertThatThrownBy(() -> b().topK(-1).build()).hasMessageStartingWith("top_k");
        assertThatThrownBy(() -> b().minP(1.5f).build()).hasMessageStartingWith("min_p");
        assertThatThrownBy(() -> b().repetitionPenalty(0).build()).hasMessageStartingWith("repetition_penalty");
        assertThatThrownBy(() -> b().presencePenalty(3).build()).hasMessageStartingWith("presence_penalty");
        assertThatThrownBy(() -> b().frequencyPenalty(Float.NaN).build()).hasMessageStartingWith("frequency_penalty");
        assertThatThrownBy(() -> b().logitBias(Map.of(1, 101f)).build()).hasMessageStartingWith("logit_bias");
        assertThatThrownBy(() -> b().maxTokens(0).build()).hasMessageStartingWith("max_tokens");
        assertThatThrownBy(() -> b().stopStrings(List.of("")).build()).hasMessageStartingWith("stop");
        assertThatThrownBy(() -> b().topLogprobs(21).build()).hasMessageStartingWith("top_logprobs");
        InvalidSamplingParamsException e = org.junit.jupiter.api.Assertions.assertThrows(InvalidSamplingParamsException.class, () -> b().topP(2).build());
        assertThat(e.field()).isEqualTo("top_p");
    }
}
