package dev.sluice.bench.peer;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.ModelSupport;
import com.github.tjake.jlama.model.functions.Generator;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.safetensors.prompt.PromptContext;
import com.github.tjake.jlama.util.PhysicalCoreExecutor;
import dev.sluice.engine.LoadedModel;
import dev.sluice.engine.bench.EngineBenchmark;
import dev.sluice.engine.kernels.Parallel;

import java.io.File;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

/**
 * Sluice against Jlama ({@code com.github.tjake:jlama-core}) on the same model, same thread count,
 * in one JVM run: prefill tok/s of a {@code --prompt}-token prompt and decode tok/s of
 * {@code --gen} greedy tokens, one sequence.
 *
 * <p>The model: Jlama reads only Hugging Face safetensors folders, so the F16 benchmark model
 * ({@code bench-f16.gguf}) is first exported by {@link HfExport} into such a folder (same bytes).
 * Pairs measured:
 * <ul>
 *   <li><b>F16</b>: Sluice loads the exported folder itself; Jlama loads it with F32 working memory.</li>
 *   <li><b>Q4</b> (with {@code --q4 bench-q4_0.gguf}): Sluice runs the Q4_0 GGUF; Jlama quantizes the
 *       same F16 folder to its Q4 at load (blocks of 32, like Q4_0) with I8 activations, its fast path.</li>
 * </ul>
 * Sluice is measured with {@link EngineBenchmark} (batch 1); Jlama with its own
 * {@link AbstractModel#generate} at temperature 0, whose {@link Generator.Response} reports prompt
 * and generation times (ms). Each engine gets an untimed warm-up generation first; the engines
 * alternate {@code --repeats} times and the median is reported, so machine noise hits both alike.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx8g \
 *   -cp sluice-bench/target/benchmarks.jar dev.sluice.bench.peer.JlamaComparison \
 *   --f16 bench-f16.gguf [--q4 bench-q4_0.gguf] [--hf-dir DIR] [--threads 2] [--prompt 128] [--gen 64] [--repeats 3]
 * </pre>
 * Prints a table, then one JSON object per engine and model on stdout.
 */
public final class JlamaComparison {
    private JlamaComparison() {}

    /** Jlama's working quantization (activation type) with Q4 weights: {@code --jlama-q4-work I8|F32}. */
    private static DType jlamaQ4Work = DType.F32;

    record Figures(String engine, String weights, double prefillTokS, double decodeTokS) {}

    public static void main(String[] args) throws Exception {
        Map<String, String> a = parse(args);
        Path f16 = Path.of(req(a, "--f16"));
        Path q4 = a.containsKey("--q4") ? Path.of(a.get("--q4")) : null;
        Path hfDir = Path.of(a.getOrDefault("--hf-dir", f16.toAbsolutePath().getParent().resolve(stem(f16) + "-hf").toString()));
        int threads = Integer.parseInt(a.getOrDefault("--threads", "2"));
        int prompt = Integer.parseInt(a.getOrDefault("--prompt", "128"));
        int gen = Integer.parseInt(a.getOrDefault("--gen", "64"));
        int repeats = Integer.parseInt(a.getOrDefault("--repeats", "3"));
        boolean withF16 = !"false".equals(a.get("--with-f16"));
        jlamaQ4Work = DType.valueOf(a.getOrDefault("--jlama-q4-work", "F32"));
        PrintStream err = System.err;

        System.setProperty("sluice.threads", Integer.toString(threads));
        PhysicalCoreExecutor.overrideThreadCount(threads);
        if (Parallel.THREADS != threads) throw new IllegalStateException("sluice pool already started with " + Parallel.THREADS + " threads");

        err.println("exporting " + f16 + " -> " + hfDir + " (skipped when present)");
        HfExport.export(f16, hfDir);

        List<Figures> all = new ArrayList<>();
        if (withF16) all.addAll(pair("F16", hfDir, hfDir, false, threads, prompt, gen, repeats, err));
        if (q4 != null) all.addAll(pair("Q4", q4, hfDir, true, threads, prompt, gen, repeats, err));

        System.out.printf(Locale.ROOT, "threads %d, prompt %d, gen %d, median of %d, load avg %.2f%n", threads, prompt, gen, repeats, EngineBenchmark.loadAverage());
        System.out.printf(Locale.ROOT, "%-8s %-26s %12s %12s%n", "engine", "weights", "prefill t/s", "decode t/s");
        for (Figures f : all) {
            System.out.printf(Locale.ROOT, "%-8s %-26s %12.1f %12.2f%n", f.engine(), f.weights(), f.prefillTokS(), f.decodeTokS());
        }
        for (Figures f : all) {
            System.out.printf(Locale.ROOT, "{\"engine\":\"%s\",\"weights\":\"%s\",\"threads\":%d,\"prompt_tokens\":%d,\"gen_tokens\":%d,\"prefill_tok_s\":%.2f,\"decode_tok_s\":%.2f}%n",
                    f.engine(), f.weights(), threads, prompt, gen, f.prefillTokS(), f.decodeTokS());
        }
        System.exit(0); // Jlama's executor threads are not daemons
    }

    /** Sluice on {@code sluiceModel} and Jlama on {@code hfDir} (quantized to Q4 at load when {@code q4}), alternating. */
    private static List<Figures> pair(String label, Path sluiceModel, Path hfDir, boolean q4, int threads, int prompt, int gen,
                                      int repeats, PrintStream err) throws Exception {
        err.println(label + ": loading Sluice " + sluiceModel);
        double[] sp = new double[repeats], sd = new double[repeats], jp = new double[repeats], jd = new double[repeats];
        try (LoadedModel s = LoadedModel.load(sluiceModel, prompt + gen + 8)) {
            err.println(label + ": loading Jlama " + hfDir + (q4 ? " (quantized to Q4 at load, " + jlamaQ4Work + " activations)" : " (F32 working memory)"));
            Path work = Files.createTempDirectory("jlama-work");
            AbstractModel j = ModelSupport.loadModel(hfDir.toFile(), work.toFile(), DType.F32, q4 ? jlamaQ4Work : DType.F32,
                    q4 ? java.util.Optional.of(DType.Q4) : java.util.Optional.empty(), java.util.Optional.empty());
            String text = promptText(j, prompt);
            int maxTokens = prompt + gen + 8;
            // warm-up: both engines, untimed
            EngineBenchmark.run(s.transformer(), s.weights(), s.name(), new EngineBenchmark.Options(Math.min(prompt, 16), 8, List.of(1), 1, 3, false, false), null, null, x -> {});
            jlama(j, promptText(j, Math.min(prompt, 16)), 16 + 8 + 4);
            jlama(j, promptText(j, Math.min(prompt, 16)), 16 + 8 + 4);
            for (int r = 0; r < repeats; r++) {
                err.printf(Locale.ROOT, "%s: repeat %d/%d%n", label, r + 1, repeats);
                var res = EngineBenchmark.run(s.transformer(), s.weights(), s.name(), new EngineBenchmark.Options(prompt, gen, List.of(1), 1, 0, false, false), null, null, x -> {});
                sp[r] = res.getFirst().prefillTokS();
                sd[r] = res.getFirst().decodeTokS();
                double[] jr = jlama(j, text, maxTokens);
                jp[r] = jr[0];
                jd[r] = jr[1];
                err.printf(Locale.ROOT, "  sluice prefill %.1f decode %.2f | jlama prefill %.1f decode %.2f (load %.2f)%n", sp[r], sd[r], jp[r], jd[r], EngineBenchmark.loadAverage());
            }
            j.close();
        }
        String sw = q4 ? "Q4_0 GGUF" : "F16 safetensors";
        String jw = q4 ? "F16 safetensors -> Q4 (" + jlamaQ4Work + " act)" : "F16 safetensors (F32 work)";
        return List.of(new Figures("sluice", sw, median(sp), median(sd)), new Figures("jlama", jw, median(jp), median(jd)));
    }

    /** One Jlama generation at temperature 0: {@code [prefill tok/s, decode tok/s]} from its own timings. */
    private static double[] jlama(AbstractModel j, String text, int maxTokens) {
        Generator.Response r = j.generate(UUID.randomUUID(), PromptContext.of(text), 0.0f, maxTokens, (s, f) -> {});
        double prefill = r.promptTokens / Math.max(1e-3, r.promptTimeMs / 1e3);
        double decode = r.generatedTokens / Math.max(1e-3, r.generateTimeMs / 1e3);
        return new double[] {prefill, decode};
    }

    /** A text that Jlama's tokenizer encodes to exactly {@code n} tokens (a repeated common word), BOS included. */
    private static String promptText(AbstractModel j, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append(i == 0 ? "hello" : " hello");
            long[] ids = j.getTokenizer().encode(sb.toString());
            if (ids.length >= n - 1) break;
        }
        return sb.toString();
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static String stem(Path p) {
        String f = p.getFileName().toString();
        return f.endsWith(".gguf") ? f.substring(0, f.length() - 5) : f;
    }

    static String req(Map<String, String> a, String k) {
        String v = a.get(k);
        if (v == null) throw new IllegalArgumentException("missing " + k);
        return v;
    }

    static Map<String, String> parse(String[] args) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) throw new IllegalArgumentException("expected --key value pairs, got " + args[i]);
            m.put(args[i], args[++i]);
        }
        return m;
    }
}
