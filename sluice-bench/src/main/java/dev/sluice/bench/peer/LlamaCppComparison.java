package dev.sluice.bench.peer;

import de.kherud.llama.InferenceParameters;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.ModelParameters;
import dev.sluice.engine.LoadedModel;
import dev.sluice.engine.bench.EngineBenchmark;
import dev.sluice.engine.kernels.Parallel;

import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Sluice against llama.cpp on the same GGUF files, same thread count, in one JVM run: prefill tok/s
 * of a {@code --prompt}-token prompt and decode tok/s of {@code --gen} greedy tokens, one sequence,
 * as {@code llama-bench -p 128 -n 64 -t 2} reports them (pp128, tg64).
 *
 * <p>llama.cpp is {@code de.kherud:llama} (java-llama.cpp 4.2.0), whose jar bundles a prebuilt
 * llama.cpp (build b4916, {@code c6af2161}; Linux x86-64 built for AVX2 + FMA, no AVX-512) and runs
 * llama.cpp's own server loop ({@code server_context}, one slot) in process, behind JNI. Its
 * settings: {@code threads = threads-batch = --threads}, context {@code prompt + gen + 16}, no GPU
 * layers, default batch sizes (one 128-token prompt is one micro-batch, as in llama-bench), F16 KV
 * cache, no flash attention. Each request: temperature 0 (greedy), EOS ignored,
 * {@code cache_prompt = false} so every repeat prefills the whole prompt again.
 *
 * <p>Timings: java-llama.cpp returns no timings ({@code LlamaOutput} carries only text,
 * probabilities and the stop flag), but llama.cpp's server prints its own per request
 * ({@code print_timings}: {@code prompt eval time = X ms / N tokens}, {@code eval time = Y ms / M
 * tokens}), the clocks behind the server's {@code timings} object. This class points llama.cpp's
 * log at a file ({@code --log-file}, one per model) and reads those two lines after each request.
 * The generation clock starts when the first token is sampled from the prompt's logits, so with
 * {@code n_predict = M} it covers {@code M - 1} decode passes; the request asks for
 * {@code gen + 1} tokens and decode tok/s is {@code gen / Y}: exactly {@code gen} forward passes
 * of one token, as llama-bench's tg. Prefill tok/s is {@code N / X} where {@code X} runs from the
 * start of prompt processing to the first sampled token. Both token counts are checked.
 * Both engines' figures include picking the next token (Sluice: argmax; llama.cpp: its greedy
 * sampler chain), which llama-bench's bare {@code llama_decode} loop leaves out.
 *
 * <p>The prompt: llama.cpp's server takes text, so the prompt is a repeated common word, tuned
 * (with the warm-up request's reported prompt size) until llama.cpp counts exactly {@code --prompt}
 * tokens, BOS included; Sluice's {@link EngineBenchmark} runs {@code --prompt} pseudo-random ids.
 * The work per token does not depend on which ids they are.
 *
 * <p>Sluice is measured with {@link EngineBenchmark} at batch 1, after its usual JIT warm-up;
 * llama.cpp after one untimed request (and its own warm-up run at load). The engines alternate
 * {@code --repeats} times (Sluice first on even repeats, llama.cpp first on odd ones) and the
 * median is reported, so machine noise hits both alike. The table also gives the median of the
 * per-repeat ratios ("paired"): each repeat's two runs are back to back, so on a shared machine
 * whose load drifts between repeats that ratio is the steadier one.
 *
 * <p>Logging: {@code LlamaModel.setLogger} has no effect on these lines in 4.2.0 (loading a model
 * runs {@code common_init}, which installs llama.cpp's own log callback, and the server logs
 * through {@code common_log}); llama.cpp's log goes to stderr as well as to the file.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx4g \
 *   -cp sluice-bench/target/benchmarks.jar dev.sluice.bench.peer.LlamaCppComparison \
 *   --models bench-f16.gguf,bench-q8_0.gguf,bench-q4_0.gguf [--threads 2] [--prompt 128] [--gen 64] [--repeats 3] \
 *   [--log-dir DIR] 2&gt; llamacpp-comparison.log
 * </pre>
 * Prints a table with the Sluice/llama.cpp ratios, then one JSON object per engine and model on
 * stdout; progress and llama.cpp's log go to stderr.
 */
public final class LlamaCppComparison {
    private LlamaCppComparison() {}

    /** Context llama.cpp gets beyond {@code prompt + gen + 1} tokens (positions): slack, never used. */
    private static final int CTX_SLACK = 16;
    /** How long to wait for llama.cpp's asynchronous log writer to flush a request's timing lines. */
    private static final long LOG_WAIT_MILLIS = 10_000;
    /** The word the llama.cpp prompt repeats. */
    private static final String WORD = "hello";

    record Figures(String engine, String model, String weights, double prefillTokS, double decodeTokS) {}

    /**
     * One model: both engines' medians, and the medians of the per-repeat ratios Sluice/llama.cpp
     * (each repeat's two runs are back to back, so a load change between repeats cancels out of
     * its ratio; on a shared machine these are steadier than the ratio of the medians).
     */
    record Comparison(Figures sluice, Figures llama, double pairedPrefillRatio, double pairedDecodeRatio) {}

    /** llama.cpp's {@code print_timings} for one request. */
    record Timings(double promptMs, int promptTokens, double evalMs, int evalTokens) {}

    private static final Pattern PROMPT_EVAL = Pattern.compile("prompt eval time =\\s*([0-9.]+) ms /\\s*(\\d+) tokens");
    private static final Pattern EVAL = Pattern.compile("(?m)^\\s*eval time =\\s*([0-9.]+) ms /\\s*(\\d+) tokens");
    private static final Pattern FILE_TYPE = Pattern.compile("(?m)^print_info: file type\\s*=\\s*(\\S+)");
    private static final Pattern BUILD = Pattern.compile("(?m)^build: (.+)$");
    private static final Pattern SYSTEM_INFO = Pattern.compile("(?m)^system_info: (.+)$");

    public static void main(String[] args) throws Exception {
        Map<String, String> a = JlamaComparison.parse(args);
        List<Path> models = Arrays.stream(JlamaComparison.req(a, "--models").split(",")).map(String::trim).filter(s -> !s.isEmpty()).map(Path::of).toList();
        int threads = Integer.parseInt(a.getOrDefault("--threads", "2"));
        int prompt = Integer.parseInt(a.getOrDefault("--prompt", "128"));
        int gen = Integer.parseInt(a.getOrDefault("--gen", "64"));
        int repeats = Integer.parseInt(a.getOrDefault("--repeats", "3"));
        // a fixed default folder: with a fresh Files.createTempDirectory folder, llama.cpp twice never created its log file
        Path logDir = Path.of(a.getOrDefault("--log-dir", Path.of(System.getProperty("java.io.tmpdir"), "sluice-llamacpp-logs").toString()));
        if (models.isEmpty()) throw new IllegalArgumentException("--models needs at least one GGUF file");
        if (threads < 1 || prompt < 2 || gen < 1 || repeats < 1) {
            throw new IllegalArgumentException("need --threads >= 1, --prompt >= 2, --gen >= 1, --repeats >= 1");
        }
        for (Path m : models) if (!Files.isRegularFile(m)) throw new IllegalArgumentException("no such GGUF file: " + m);
        Files.createDirectories(logDir);
        PrintStream err = System.err;

        System.setProperty("sluice.threads", Integer.toString(threads));
        if (Parallel.THREADS != threads) throw new IllegalStateException("sluice pool already started with " + Parallel.THREADS + " threads");

        double loadStart = EngineBenchmark.loadAverage();
        List<Comparison> all = new ArrayList<>();
        String build = "?", systemInfo = "?", backend = "?";
        for (Path m : models) {
            Path log = logDir.resolve("llamacpp-" + JlamaComparison.stem(m) + ".log");
            Files.deleteIfExists(log); // a previous run's log must not answer for this one
            Pair p = pair(m, log, threads, prompt, gen, repeats, err);
            all.add(p.comparison());
            String text = awaitLog(log, SYSTEM_INFO);
            build = first(BUILD, text, build);
            systemInfo = first(SYSTEM_INFO, text, systemInfo);
            backend = p.sluiceBackend();
        }

        PrintStream out = System.out;
        out.printf(Locale.ROOT, "threads %d, prompt %d, gen %d, median of %d, load avg %.2f at start, %.2f at end%n",
                threads, prompt, gen, repeats, loadStart, EngineBenchmark.loadAverage());
        out.println("sluice backend: " + backend);
        out.println("llama.cpp (java-llama.cpp 4.2.0) build: " + build);
        out.println("llama.cpp system_info: " + systemInfo);
        out.print(table(all));
        for (Figures f : all.stream().flatMap(c -> Stream.of(c.sluice(), c.llama())).toList()) {
            out.printf(Locale.ROOT, "{\"engine\":\"%s\",\"model\":\"%s\",\"weights\":\"%s\",\"threads\":%d,\"prompt_tokens\":%d,\"gen_tokens\":%d,\"prefill_tok_s\":%.2f,\"decode_tok_s\":%.2f}%n",
                    f.engine(), f.model(), f.weights(), threads, prompt, gen, f.prefillTokS(), f.decodeTokS());
        }
        out.flush();
        System.exit(0); // llama.cpp's server thread is not a daemon: the JVM would not exit on its own
    }

    private record Pair(Comparison comparison, String sluiceBackend) {}

    /** Sluice and llama.cpp on the same file, alternating; medians. */
    private static Pair pair(Path model, Path log, int threads, int prompt, int gen, int repeats, PrintStream err) throws Exception {
        String name = JlamaComparison.stem(model);
        double[] sp = new double[repeats], sd = new double[repeats], lp = new double[repeats], ld = new double[repeats];
        String backend;
        String weights;
        err.println(name + ": loading Sluice " + model);
        try (LoadedModel s = LoadedModel.load(model, prompt + gen + 8)) {
            err.println(name + ": loading llama.cpp " + model + " (log: " + log + ")");
            ModelParameters mp = new ModelParameters()
                    .setModel(model.toString())
                    .setThreads(threads)
                    .setThreadsBatch(threads)
                    .setCtxSize(prompt + gen + 1 + CTX_SLACK)
                    .setGpuLayers(0)
                    .setLogFile(log.toString());
            try (LlamaModel l = new LlamaModel(mp)) {
                weights = first(FILE_TYPE, awaitLog(log, FILE_TYPE), name);
                // warm-up: both engines, untimed; llama.cpp's also sizes the prompt text
                var warm = EngineBenchmark.run(s.transformer(), s.weights(), s.name(),
                        new EngineBenchmark.Options(Math.min(prompt, 16), 8, List.of(1), 1, EngineBenchmark.DEFAULT_WARMUP_SECONDS, false, false), null, null, x -> {});
                backend = warm.getFirst().backend();
                String text = promptText(l, log, prompt, gen);
                for (int r = 0; r < repeats; r++) {
                    err.printf(Locale.ROOT, "%s: repeat %d/%d%n", name, r + 1, repeats);
                    boolean sluiceFirst = r % 2 == 0;
                    if (!sluiceFirst) llama(l, log, text, prompt, gen, lp, ld, r);
                    var res = EngineBenchmark.run(s.transformer(), s.weights(), s.name(),
                            new EngineBenchmark.Options(prompt, gen, List.of(1), 1, 0, false, false), null, null, x -> {});
                    sp[r] = res.getFirst().prefillTokS();
                    sd[r] = res.getFirst().decodeTokS();
                    if (sluiceFirst) llama(l, log, text, prompt, gen, lp, ld, r);
                    err.printf(Locale.ROOT, "  sluice prefill %.1f decode %.2f | llama.cpp prefill %.1f decode %.2f | ratio %.2f, %.2f (load %.2f)%n",
                            sp[r], sd[r], lp[r], ld[r], sp[r] / lp[r], sd[r] / ld[r], EngineBenchmark.loadAverage());
                }
            }
        }
        double[] rp = new double[repeats], rd = new double[repeats];
        for (int r = 0; r < repeats; r++) {
            rp[r] = sp[r] / lp[r];
            rd[r] = sd[r] / ld[r];
        }
        return new Pair(new Comparison(
                new Figures("sluice", name, weights, JlamaComparison.median(sp), JlamaComparison.median(sd)),
                new Figures("llama.cpp", name, weights, JlamaComparison.median(lp), JlamaComparison.median(ld)),
                JlamaComparison.median(rp), JlamaComparison.median(rd)), backend);
    }

    /** One timed llama.cpp request into {@code prefill[r]} and {@code decode[r]} (tok/s, llama.cpp's own clocks). */
    private static void llama(LlamaModel l, Path log, String text, int prompt, int gen, double[] prefill, double[] decode, int r) throws Exception {
        Timings t = request(l, log, text, gen);
        if (t.promptTokens() != prompt) throw new IllegalStateException("llama.cpp prefilled " + t.promptTokens() + " tokens, expected " + prompt);
        prefill[r] = prefillTokS(t);
        decode[r] = decodeTokS(t, gen);
    }

    /** Prompt tokens per second of one request. */
    static double prefillTokS(Timings t) {
        return t.promptTokens() / (t.promptMs() / 1e3);
    }

    /**
     * Decode tokens per second of a request that asked for {@code gen + 1} tokens: its eval clock
     * covers {@code gen} decode passes (see the class note).
     *
     * @throws IllegalStateException when llama.cpp generated another number of tokens (EOS not ignored, context full)
     */
    static double decodeTokS(Timings t, int gen) {
        if (t.evalTokens() != gen + 1) throw new IllegalStateException("llama.cpp generated " + t.evalTokens() + " tokens, expected " + (gen + 1));
        return gen / (t.evalMs() / 1e3);
    }

    /** Greedy, EOS ignored, no prompt cache, {@code gen + 1} tokens; returns the timings llama.cpp logged for it. */
    private static Timings request(LlamaModel l, Path log, String text, int gen) throws IOException, InterruptedException {
        long from = Files.exists(log) ? Files.size(log) : 0;
        InferenceParameters ip = new InferenceParameters(text)
                .setNPredict(gen + 1)
                .setTemperature(0f)
                .setIgnoreEos(true)
                .setCachePrompt(false);
        l.complete(ip);
        long deadline = System.currentTimeMillis() + LOG_WAIT_MILLIS;
        while (true) {
            Timings t = parseTimings(readFrom(log, from));
            if (t != null) return t;
            if (System.currentTimeMillis() > deadline) {
                throw new IllegalStateException("llama.cpp logged no 'prompt eval time' / 'eval time' lines for the request in " + log);
            }
            Thread.sleep(20);
        }
    }

    /**
     * A text of {@code prompt} tokens as llama.cpp's server counts them (BOS included): the word
     * repeated, corrected once by the difference the warm-up request reports.
     */
    private static String promptText(LlamaModel l, Path log, int prompt, int gen) throws IOException, InterruptedException {
        int words = prompt - 1; // BOS + one token per word, for a BPE vocabulary with the word in it
        for (int attempt = 0; attempt < 3; attempt++) {
            String text = words(words);
            int counted = request(l, log, text, gen).promptTokens();
            if (counted == prompt) return text;
            words = Math.max(1, words + prompt - counted);
        }
        throw new IllegalStateException("could not build a prompt of exactly " + prompt + " tokens for llama.cpp from '" + WORD + "'");
    }

    private static String words(int n) {
        return (WORD + " ").repeat(n - 1) + WORD;
    }

    /**
     * The first complete {@code print_timings} pair in a chunk of llama.cpp's log: the
     * {@code prompt eval time} line and the {@code eval time} line after it; {@code null} when the
     * chunk has not both yet.
     */
    static Timings parseTimings(String log) {
        Matcher p = PROMPT_EVAL.matcher(log);
        if (!p.find()) return null;
        Matcher e = EVAL.matcher(log);
        if (!e.find(p.end())) return null;
        return new Timings(Double.parseDouble(p.group(1)), Integer.parseInt(p.group(2)),
                Double.parseDouble(e.group(1)), Integer.parseInt(e.group(2)));
    }

    /**
     * The table: per model, Sluice's and llama.cpp's medians, their ratio (Sluice/llama.cpp), and
     * the median of the per-repeat ratios ("paired").
     */
    static String table(List<Comparison> all) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%-12s %-25s %12s %12s%n", "weights", "engine", "prefill t/s", "decode t/s"));
        for (Comparison c : all) {
            Figures s = c.sluice(), l = c.llama();
            b.append(String.format(Locale.ROOT, "%-12s %-25s %12.1f %12.2f%n", s.weights(), s.engine(), s.prefillTokS(), s.decodeTokS()));
            b.append(String.format(Locale.ROOT, "%-12s %-25s %12.1f %12.2f%n", l.weights(), l.engine(), l.prefillTokS(), l.decodeTokS()));
            b.append(String.format(Locale.ROOT, "%-12s %-25s %11.2fx %11.2fx%n", s.weights(), "sluice/llama.cpp",
                    s.prefillTokS() / l.prefillTokS(), s.decodeTokS() / l.decodeTokS()));
            b.append(String.format(Locale.ROOT, "%-12s %-25s %11.2fx %11.2fx%n", s.weights(), "sluice/llama.cpp, paired",
                    c.pairedPrefillRatio(), c.pairedDecodeRatio()));
        }
        return b.toString();
    }

    /**
     * The log's text once it holds {@code p}, or what it holds after {@link #LOG_WAIT_MILLIS}: llama.cpp writes its log
     * from a thread of its own, so the file may not even exist yet when the model has loaded.
     */
    private static String awaitLog(Path log, Pattern p) throws IOException, InterruptedException {
        long deadline = System.currentTimeMillis() + LOG_WAIT_MILLIS;
        while (true) {
            String text = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
            if (p.matcher(text).find() || System.currentTimeMillis() > deadline) return text;
            Thread.sleep(20);
        }
    }

    private static String readFrom(Path file, long offset) throws IOException {
        if (!Files.exists(file)) return "";
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            long n = f.length() - offset;
            if (n <= 0) return "";
            byte[] b = new byte[(int) n];
            f.seek(offset);
            f.readFully(b);
            return new String(b, StandardCharsets.UTF_8);
        }
    }

    private static String first(Pattern p, String text, String fallback) {
        Matcher m = p.matcher(text);
        return m.find() ? m.group(1).trim() : fallback;
    }
}
