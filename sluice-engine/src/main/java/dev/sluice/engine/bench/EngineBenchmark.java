package dev.sluice.engine.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.engine.kernels.Parallel;
import dev.sluice.engine.model.ModelConfig;
import dev.sluice.engine.model.ModelWeights;
import dev.sluice.engine.model.TensorNames;
import dev.sluice.engine.runtime.KVCache;
import dev.sluice.engine.runtime.PagedKVCache;
import dev.sluice.engine.scheduler.SchedulerConfig;
import dev.sluice.engine.runtime.Transformer;
import dev.sluice.engine.tensor.Tensor;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * The engine benchmark behind {@code sluice bench engine}: prefill and decode throughput of a
 * {@link Transformer} for several batch sizes, in the manner of llama.cpp's {@code llama-bench -p
 * 128 -n 64}.
 *
 * <p>For a batch size {@code B}, one repeat:
 * <ol>
 *   <li><b>prefill</b>: each of {@code B} sequences runs its own {@code promptTokens}-token prompt
 *       (pseudo-random ids, fixed seed) from position 0; {@code prefill_tok_s = B * promptTokens / time};</li>
 *   <li><b>decode</b>: {@code genTokens} steps, each running one token (the greedy argmax of the
 *       previous logits) of every sequence; {@code decode_tok_s = genTokens / time} is the rate
 *       one sequence sees and {@code decode_aggregate_tok_s = B * genTokens / time} the machine's.</li>
 * </ol>
 * A short untimed run warms the JIT first; each figure is the median over {@code repeats}.
 *
 * <p>Design note: batch mode. By default ({@value #BATCH_BATCHED}) every step goes through
 * {@link Transformer#forwardBatch}, the scheduler's multi-sequence forward over a
 * {@link PagedKVCache} (blocks of {@link SchedulerConfig#DEFAULT_BLOCK_SIZE}): each prompt is one prefill call of its own, and a
 * decode step is one call for all {@code B} sequences, so each weight matrix is read once per step.
 * With {@link Options#emulateBatch()} ({@value #BATCH_EMULATED}) the {@code B} sequences are instead
 * stepped in lockstep through the single-sequence {@link Transformer#forwardLast} path, each reading
 * all weights itself: the baseline that shows what batching buys. {@link Options#batchInvariant()}
 * is off by default, so a one-token step takes the kernels' fastest single-vector path (the
 * engine's raw speed, as llama-bench measures it); the server's scheduler turns it on by default
 * ({@link SchedulerConfig#DEFAULT_BATCH_INVARIANT}), which pads one-row matmuls to two rows.
 *
 * <p>Bandwidth limit: decode reads (nearly) every weight byte once per forward pass, so with a
 * measured read bandwidth {@code bw} ({@link MemoryBandwidth}) the machine allows at most
 * {@code bw / weightBytesPerToken} passes per second; {@link Result#bandwidthFraction()} is the
 * measured passes per second over that limit (per sequence for a real batch, where one pass serves
 * every sequence; aggregate for an emulated one, where each sequence makes its own pass).
 *
 * <p>Compute limit: a decode step multiplies every weight matrix with each sequence's vector, so one
 * token costs {@code 2 x} {@link #macsPerToken} floating-point operations (attention over the cache
 * and the element-wise work are left out: under 1% at these lengths). {@link Result#decodeGflops()}
 * is that times the aggregate decode rate, and {@link Result#peakFraction()} divides it by the
 * measured FMA peak ({@link ComputePeak}, the engine's vector species on all threads): batch 1 of a
 * quantized model is bound by memory and dequantization, a large batch by FMAs, and the two fractions
 * say how far each is from its wall.
 *
 * <p>Library code: progress goes to the caller's {@link Consumer}, never to stdout.
 */
public final class EngineBenchmark {
    /** Default prompt length (tokens), as {@code llama-bench -p 128}. */
    public static final int DEFAULT_PROMPT_TOKENS = 128;
    /** Default generated tokens per sequence, as {@code llama-bench -n 64}. */
    public static final int DEFAULT_GEN_TOKENS = 64;
    /** Default batch sizes: one sequence, and enough concurrent sequences to show batching. */
    public static final List<Integer> DEFAULT_BATCH_SIZES = List.of(1, 4, 16);
    /** Default timed repeats per batch size; the median is reported. */
    public static final int DEFAULT_REPEATS = 3;
    /** Default JIT warm-up (seconds): C2 compiles the hot kernels within a few hundred calls; on a busy 2-core machine that takes a few seconds. */
    public static final double DEFAULT_WARMUP_SECONDS = 3;
    /** Largest batch size accepted: bounds KV cache memory (one cache of {@code prompt + gen} positions per sequence). */
    public static final int MAX_BATCH = 256;
    /** Seed of the pseudo-random prompt token ids. */
    public static final long PROMPT_SEED = 1234;

    /** {@link Result#batchMode()} when sequences are stepped one by one through the single-sequence path. */
    public static final String BATCH_EMULATED = "emulated";
    /** {@link Result#batchMode()} when one forward pass steps all sequences. */
    public static final String BATCH_BATCHED = "batched";
    /** {@link Result#batchMode()} for {@link #BATCH_BATCHED} with {@link Options#batchInvariant()}. */
    public static final String BATCH_BATCHED_INVARIANT = "batched-invariant";

    private static final ObjectMapper JSON = new ObjectMapper();

    private EngineBenchmark() {}

    /**
     * What to run.
     *
     * @param promptTokens tokens of each prompt (&gt; 0)
     * @param genTokens    decode steps per sequence (&gt; 0)
     * @param batchSizes   batch sizes, each in {@code [1, MAX_BATCH]}
     * @param repeats      timed repeats per batch size (&gt; 0); the median is reported
     * @param warmupSeconds how long to run untimed short generations first so the JIT compiles the kernels (0: none)
     * @param emulateBatch  step the sequences one by one through the single-sequence path instead of the batched forward
     * @param batchInvariant pass {@code batchInvariant} to {@link Transformer#forwardBatch} (as the server's scheduler does by default)
     */
    public record Options(int promptTokens, int genTokens, List<Integer> batchSizes, int repeats, double warmupSeconds,
                          boolean emulateBatch, boolean batchInvariant) {
        public Options {
            if (!(warmupSeconds >= 0)) throw new IllegalArgumentException("warmupSeconds must be >= 0, got " + warmupSeconds);
            if (promptTokens <= 0) throw new IllegalArgumentException("promptTokens must be > 0, got " + promptTokens);
            if (genTokens <= 0) throw new IllegalArgumentException("genTokens must be > 0, got " + genTokens);
            if (repeats <= 0) throw new IllegalArgumentException("repeats must be > 0, got " + repeats);
            if (batchSizes == null || batchSizes.isEmpty()) throw new IllegalArgumentException("batchSizes must not be empty");
            for (int b : batchSizes) {
                if (b < 1 || b > MAX_BATCH) throw new IllegalArgumentException("batch size must be in [1, " + MAX_BATCH + "], got " + b);
            }
            batchSizes = List.copyOf(batchSizes);
        }

        /** The defaults of {@code sluice bench engine}. */
        public static Options defaults() {
            return new Options(DEFAULT_PROMPT_TOKENS, DEFAULT_GEN_TOKENS, DEFAULT_BATCH_SIZES, DEFAULT_REPEATS, DEFAULT_WARMUP_SECONDS, false, false);
        }
    }

    /**
     * Figures for one batch size.
     *
     * @param model                  model name
     * @param backend                kernel backend, e.g. {@code cpu-vector}
     * @param threads                compute threads ({@link Parallel#THREADS})
     * @param batch                  concurrent sequences
     * @param batchMode              {@value #BATCH_BATCHED}, {@value #BATCH_BATCHED_INVARIANT} or {@value #BATCH_EMULATED}
     * @param promptTokens           tokens per prompt
     * @param genTokens              decode steps per sequence
     * @param prefillTokS            prompt tokens per second, all sequences together (median)
     * @param decodeTokS             generated tokens per second of one sequence (median)
     * @param decodeAggregateTokS    generated tokens per second of all sequences together (median)
     * @param weightBytesPerToken    weight bytes one forward pass reads
     * @param bandwidthBytesPerSecond measured memory read bandwidth, or {@code NaN} when not measured
     * @param loadAverage            system 1-minute load average after the run ({@code -1} if unknown)
     * @param decodeAllocBytesPerStep heap bytes allocated by all threads per decode step (median over repeats; the
     *                               sampling here is an argmax), {@code -1} when the JVM cannot count them
     * @param macsPerToken           matmul multiply-adds of one token's forward pass ({@link #macsPerToken(ModelConfig)})
     * @param fmaPeakFlopsPerSecond  measured float FMA peak ({@link ComputePeak}), or {@code NaN} when not measured
     */
    public record Result(String model, String backend, int threads, int batch, String batchMode,
                         int promptTokens, int genTokens,
                         double prefillTokS, double decodeTokS, double decodeAggregateTokS,
                         long weightBytesPerToken, double bandwidthBytesPerSecond, double loadAverage, long decodeAllocBytesPerStep,
                         long macsPerToken, double fmaPeakFlopsPerSecond) {

        /** Forward passes per second the bandwidth allows ({@code bw / weightBytesPerToken}), or {@code NaN}. */
        public double decodeLimitTokS() {
            return bandwidthBytesPerSecond / weightBytesPerToken;
        }

        /** Measured weight passes per second over {@link #decodeLimitTokS()}; see the class note. */
        public double bandwidthFraction() {
            double passes = BATCH_EMULATED.equals(batchMode) ? decodeAggregateTokS : decodeTokS;
            return passes / decodeLimitTokS();
        }

        /** Matmul GFLOP/s of decode: {@code 2 * macsPerToken * decodeAggregateTokS / 1e9} (every sequence's token counts). */
        public double decodeGflops() {
            return 2.0 * macsPerToken * decodeAggregateTokS / 1e9;
        }

        /** {@link #decodeGflops()} over the measured FMA peak, or {@code NaN} when the peak was not measured. */
        public double peakFraction() {
            return decodeGflops() * 1e9 / fmaPeakFlopsPerSecond;
        }

        /** The keys of {@link #toJson()}, in order. */
        public static final List<String> JSON_KEYS = List.of("model", "threads", "batch", "prompt_tokens", "gen_tokens",
                "prefill_tok_s", "decode_tok_s", "decode_aggregate_tok_s", "batch_mode", "backend",
                "weight_bytes_per_token", "mem_bandwidth_gb_s", "decode_limit_tok_s", "bandwidth_fraction", "load_avg",
                "decode_alloc_bytes_per_step", "macs_per_token", "decode_gflops", "fma_peak_gflops", "peak_fraction");

        /** One JSON object on one line, with the keys of {@link #JSON_KEYS} (bandwidth keys are {@code null} when not measured). */
        public String toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("model", model);
            m.put("threads", threads);
            m.put("batch", batch);
            m.put("prompt_tokens", promptTokens);
            m.put("gen_tokens", genTokens);
            m.put("prefill_tok_s", round(prefillTokS));
            m.put("decode_tok_s", round(decodeTokS));
            m.put("decode_aggregate_tok_s", round(decodeAggregateTokS));
            m.put("batch_mode", batchMode);
            m.put("backend", backend);
            m.put("weight_bytes_per_token", weightBytesPerToken);
            boolean bw = !Double.isNaN(bandwidthBytesPerSecond);
            m.put("mem_bandwidth_gb_s", bw ? round(bandwidthBytesPerSecond / 1e9) : null);
            m.put("decode_limit_tok_s", bw ? round(decodeLimitTokS()) : null);
            m.put("bandwidth_fraction", bw ? Math.round(bandwidthFraction() * 1000) / 1000.0 : null);
            m.put("load_avg", loadAverage < 0 ? null : round(loadAverage));
            m.put("decode_alloc_bytes_per_step", decodeAllocBytesPerStep < 0 ? null : decodeAllocBytesPerStep);
            m.put("macs_per_token", macsPerToken);
            m.put("decode_gflops", round(decodeGflops()));
            boolean peak = !Double.isNaN(fmaPeakFlopsPerSecond);
            m.put("fma_peak_gflops", peak ? round(fmaPeakFlopsPerSecond / 1e9) : null);
            m.put("peak_fraction", peak ? Math.round(peakFraction() * 1000) / 1000.0 : null);
            try {
                return JSON.writeValueAsString(m);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }

        private static double round(double v) {
            return Math.round(v * 100) / 100.0;
        }
    }

    /**
     * Weight bytes one forward pass (one decode step) reads: every tensor once, except that only
     * one row of the token embedding is read when the output matrix is a separate tensor.
     */
    public static long weightBytesPerToken(ModelWeights weights) {
        ModelConfig c = weights.config();
        long total = 0;
        for (Tensor t : weights.tensors().values()) total += t.data().byteSize();
        boolean embdIsOutput = c.tiedEmbeddings() || weights.find(TensorNames.OUTPUT).isEmpty();
        if (!embdIsOutput) {
            Tensor e = weights.tensor(TensorNames.TOKEN_EMBD);
            total -= e.data().byteSize() - e.rowBytes();
        }
        return total;
    }

    /**
     * Multiply-adds of the weight matmuls of one token's forward pass, from the model's shapes: per
     * layer Q, K, V, the attention output, gate, up and down projections
     * ({@code e*q + 2*e*kv + q*e + 3*e*ff}), plus the output head ({@code e*vocab}, tied or not). The
     * token embedding is a row lookup, not a matmul.
     */
    public static long macsPerToken(ModelConfig c) {
        long e = c.nEmbd(), q = c.qDim(), kv = c.kvDim(), ff = c.nFf();
        long perLayer = e * q + 2 * e * kv + q * e + 3 * e * ff;
        return c.nLayers() * perLayer + e * c.vocabSize();
    }

    /** System 1-minute load average, or {@code -1} where the platform does not report one. */
    public static double loadAverage() {
        return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }

    /**
     * Runs the benchmark.
     *
     * @param bandwidth measured read bandwidth, or {@code null} to leave the bandwidth figures out
     * @param peak      measured FMA peak, or {@code null} to leave the peak fraction out
     * @param progress  receives a line per phase (for a terminal); may ignore them
     * @return one result per batch size, in the order of {@link Options#batchSizes()}
     * @throws dev.sluice.engine.runtime.ContextOverflowException when prompt + gen exceeds the model's context
     */
    public static List<Result> run(Transformer model, ModelWeights weights, String modelName, Options o,
                                   MemoryBandwidth.Result bandwidth, ComputePeak.Result peak, Consumer<String> progress) {
        long bytesPerToken = weightBytesPerToken(weights);
        long macs = macsPerToken(model.config());
        double peakFlops = peak == null ? Double.NaN : peak.flopsPerSecond();
        double bw = bandwidth == null ? Double.NaN : bandwidth.bytesPerSecond();
        if (o.warmupSeconds() > 0) {
            progress.accept("warm-up (JIT)");
            long t0 = System.nanoTime();
            // enough calls for C2 to compile the kernels at decode and prefill shapes: prompts up to 128 tokens, since
            // long blocks of vectors take other kernels (PanelKernels' decoded panels, from 16-64 vectors per block)
            Options w = new Options(Math.min(o.promptTokens(), 128), Math.min(o.genTokens(), 16), List.of(1, 2), 1, 0, o.emulateBatch(), o.batchInvariant());
            do {
                once(model, w, 1);
                once(model, w, 2);
            } while (System.nanoTime() - t0 < o.warmupSeconds() * 1e9);
        }
        List<Result> out = new ArrayList<>();
        for (int b : o.batchSizes()) {
            double[] pre = new double[o.repeats()], dec = new double[o.repeats()], alloc = new double[o.repeats()];
            for (int r = 0; r < o.repeats(); r++) {
                progress.accept("batch " + b + ": repeat " + (r + 1) + "/" + o.repeats());
                double[] t = once(model, o, b);
                pre[r] = t[0];
                dec[r] = t[1];
                alloc[r] = t[2];
            }
            double prefillSeconds = median(pre), decodeSeconds = median(dec);
            out.add(new Result(modelName, model.kernels().name(), Parallel.THREADS, b, o.emulateBatch() ? BATCH_EMULATED : o.batchInvariant() ? BATCH_BATCHED_INVARIANT : BATCH_BATCHED,
                    o.promptTokens(), o.genTokens(),
                    (double) b * o.promptTokens() / prefillSeconds,
                    o.genTokens() / decodeSeconds,
                    (double) b * o.genTokens() / decodeSeconds,
                    bytesPerToken, bw, loadAverage(), (long) median(alloc), macs, peakFlops));
        }
        return out;
    }

    /** One repeat at batch {@code b}: {@code [prefill seconds, decode seconds, bytes allocated per decode step]}. */
    private static double[] once(Transformer model, Options o, int b) {
        return o.emulateBatch() ? onceEmulated(model, o, b) : onceBatched(model, o, b);
    }

    private static double[] onceBatched(Transformer model, Options o, int b) {
        ModelConfig c = model.config();
        int capacity = o.promptTokens() + o.genTokens();
        int blockSize = SchedulerConfig.DEFAULT_BLOCK_SIZE;
        boolean invariant = o.batchInvariant();
        PagedKVCache pool = new PagedKVCache(c, blockSize, b * ((capacity + blockSize - 1) / blockSize));
        PagedKVCache.Sequence[] seqs = new PagedKVCache.Sequence[b];
        int[][] next = new int[b][1];
        int[][] prompts = new int[b][];
        for (int s = 0; s < b; s++) {
            seqs[s] = pool.newSequence();
            if (!seqs[s].reserve(capacity)) throw new IllegalStateException("KV pool too small for " + b + " x " + capacity + " positions");
            prompts[s] = prompt(c.vocabSize(), o.promptTokens(), PROMPT_SEED + s);
        }
        // as the scheduler runs: one workspace and one logits row per sequence, reused every step
        Transformer.Workspace ws = model.newWorkspace();
        float[][] logits = new float[b][c.vocabSize()];
        long t0 = System.nanoTime();
        for (int s = 0; s < b; s++) {
            model.forwardBatch(new int[][] {prompts[s]}, new PagedKVCache.Sequence[] {seqs[s]}, pool, null, invariant, ws, new float[][] {logits[s]});
            next[s][0] = argmax(logits[s]);
        }
        long t1 = System.nanoTime();
        long a1 = allocatedBytes();
        for (int step = 0; step < o.genTokens(); step++) {
            model.forwardBatch(next, seqs, pool, null, invariant, ws, logits);
            for (int s = 0; s < b; s++) next[s][0] = argmax(logits[s]);
        }
        long t2 = System.nanoTime();
        long a2 = allocatedBytes();
        for (PagedKVCache.Sequence s : seqs) s.release();
        return new double[] {(t1 - t0) / 1e9, (t2 - t1) / 1e9, a1 < 0 ? -1 : (double) (a2 - a1) / o.genTokens()};
    }

    private static double[] onceEmulated(Transformer model, Options o, int b) {
        ModelConfig c = model.config();
        int capacity = o.promptTokens() + o.genTokens();
        KVCache[] caches = new KVCache[b];
        int[][] prompts = new int[b][];
        int[][] next = new int[b][1];
        for (int s = 0; s < b; s++) {
            caches[s] = new KVCache(c, capacity);
            prompts[s] = prompt(c.vocabSize(), o.promptTokens(), PROMPT_SEED + s);
        }
        Transformer.Workspace ws = model.newWorkspace();
        float[] logits = new float[c.vocabSize()];
        long t0 = System.nanoTime();
        for (int s = 0; s < b; s++) {
            model.forwardLast(prompts[s], 0, caches[s], ws, logits);
            next[s][0] = argmax(logits);
        }
        long t1 = System.nanoTime();
        long a1 = allocatedBytes();
        for (int step = 0; step < o.genTokens(); step++) {
            int pos = o.promptTokens() + step;
            for (int s = 0; s < b; s++) {
                model.forwardLast(next[s], pos, caches[s], ws, logits);
                next[s][0] = argmax(logits);
            }
        }
        long t2 = System.nanoTime();
        long a2 = allocatedBytes();
        return new double[] {(t1 - t0) / 1e9, (t2 - t1) / 1e9, a1 < 0 ? -1 : (double) (a2 - a1) / o.genTokens()};
    }

    /**
     * Heap bytes allocated so far by all live threads (the caller and the kernel workers), or -1 when
     * the JVM does not count them ({@code com.sun.management.ThreadMXBean#getTotalThreadAllocatedBytes}).
     */
    static long allocatedBytes() {
        if (java.lang.management.ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t
                && t.isThreadAllocatedMemorySupported() && t.isThreadAllocatedMemoryEnabled()) {
            return t.getTotalThreadAllocatedBytes();
        }
        return -1;
    }

    /** {@code n} pseudo-random token ids in {@code [0, vocab)}. */
    static int[] prompt(int vocab, int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(vocab);
        return t;
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }
}
