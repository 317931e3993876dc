package dev.sluice.cli;

import dev.sluice.engine.LoadedModel;
import dev.sluice.engine.bench.ComputePeak;
import dev.sluice.engine.bench.EngineBenchmark;
import dev.sluice.engine.bench.MemoryBandwidth;
import dev.sluice.engine.kernels.Parallel;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code sluice bench engine}: prefill and decode throughput per batch size ({@link EngineBenchmark}),
 * decode as a fraction of the memory-bandwidth limit ({@link MemoryBandwidth}), and decode GFLOP/s
 * as a fraction of the measured float FMA peak ({@link ComputePeak}). A table on
 * stdout, or with {@code --json} one JSON object per batch size per line; progress on stderr.
 */
@Command(name = "engine", mixinStandardHelpOptions = true,
        description = {"Measure prefill and decode tokens/s for each batch size, as llama-bench -p 128 -n 64,",
                "and decode as fractions of this machine's memory-bandwidth limit and float FMA peak."})
final class BenchEngineCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    ModelOptions model;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
    Integer threads;

    @Option(names = "--prompt", paramLabel = "TOKENS", defaultValue = "" + EngineBenchmark.DEFAULT_PROMPT_TOKENS,
            description = "Prompt tokens per sequence (default: ${DEFAULT-VALUE}).")
    int prompt;

    @Option(names = "--gen", paramLabel = "TOKENS", defaultValue = "" + EngineBenchmark.DEFAULT_GEN_TOKENS,
            description = "Generated tokens per sequence (default: ${DEFAULT-VALUE}).")
    int gen;

    @Option(names = "--batch", paramLabel = "B[,B...]", split = ",", defaultValue = "1,4,16",
            description = "Batch sizes: concurrent sequences (default: ${DEFAULT-VALUE}).")
    List<Integer> batch;

    @Option(names = "--repeats", paramLabel = "N", defaultValue = "" + EngineBenchmark.DEFAULT_REPEATS,
            description = "Timed repeats per batch size; the median is reported (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--warmup", paramLabel = "SECONDS", defaultValue = "" + EngineBenchmark.DEFAULT_WARMUP_SECONDS,
            description = "Untimed JIT warm-up before measuring (default: ${DEFAULT-VALUE}).")
    double warmup;

    @Option(names = "--bandwidth-mib", paramLabel = "MIB", defaultValue = "" + (MemoryBandwidth.DEFAULT_BUFFER_BYTES >> 20),
            description = "Buffer of the memory-bandwidth read pass, MiB; 0 skips the measurement (default: ${DEFAULT-VALUE}).")
    long bandwidthMib;

    @Option(names = "--fma-peak-ms", paramLabel = "MS", defaultValue = "" + (int) (ComputePeak.DEFAULT_SECONDS * 1000),
            description = "Duration of the float FMA peak measurement, ms; 0 skips it (default: ${DEFAULT-VALUE}).")
    int fmaPeakMs;

    @Option(names = "--emulate-batch",
            description = "Step the sequences one by one through the single-sequence path instead of the batched forward (the baseline batching is measured against).")
    boolean emulateBatch;

    @Option(names = "--batch-invariant",
            description = "Batch-invariant batched forward, as the server's scheduler runs by default (pads one-row matmuls to two rows).")
    boolean batchInvariant;

    @Option(names = "--json", description = "One JSON object per batch size per line instead of a table.")
    boolean json;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        EngineBenchmark.Options o;
        try {
            o = new EngineBenchmark.Options(prompt, gen, batch, repeats, warmup, emulateBatch, batchInvariant);
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage());
        }
        Main main = (Main) spec.root().userObject();
        Path path = model.resolve(main.env(), err);
        try (LoadedModel m = Models.load(path, prompt + gen, threads)) {
            MemoryBandwidth.Result bw = null;
            if (bandwidthMib > 0) {
                err.println("measuring memory read bandwidth (" + bandwidthMib + " MiB, " + Parallel.THREADS + " threads)");
                bw = MemoryBandwidth.measure(bandwidthMib << 20, Parallel.THREADS, MemoryBandwidth.DEFAULT_RUNS);
                err.printf(Locale.ROOT, "memory read bandwidth: %.2f GB/s%n", bw.gbPerSecond());
            }
            ComputePeak.Result peak = null;
            if (fmaPeakMs > 0) {
                err.println("measuring float FMA peak (" + fmaPeakMs + " ms, " + Parallel.THREADS + " threads)");
                peak = ComputePeak.measure(Parallel.THREADS, fmaPeakMs / 1000.0);
                err.printf(Locale.ROOT, "float FMA peak: %.1f GFLOP/s (%d-bit vectors)%n", peak.gflops(), peak.bits());
            }
            List<EngineBenchmark.Result> results = EngineBenchmark.run(m.transformer(), m.weights(), m.name(), o, bw, peak,
                    line -> err.println(line));
            if (json) {
                for (EngineBenchmark.Result r : results) out.println(r.toJson());
            } else {
                table(out, results, bw, peak);
            }
        }
        return 0;
    }

    private static void table(PrintWriter out, List<EngineBenchmark.Result> results, MemoryBandwidth.Result bw, ComputePeak.Result peak) {
        EngineBenchmark.Result first = results.getFirst();
        out.printf(Locale.ROOT, "model %s, backend %s, %d threads, prompt %d, gen %d, weights %.1f MB read per forward pass%n",
                first.model(), first.backend(), first.threads(), first.promptTokens(), first.genTokens(),
                first.weightBytesPerToken() / 1e6);
        if (bw != null) {
            out.printf(Locale.ROOT, "memory read bandwidth %.2f GB/s -> decode limit %.1f forward passes/s%n",
                    bw.gbPerSecond(), first.decodeLimitTokS());
        }
        out.printf(Locale.ROOT, "%.3f GFLOP of matmuls per token (%d multiply-adds)%n", 2.0 * first.macsPerToken() / 1e9, first.macsPerToken());
        if (peak != null) {
            out.printf(Locale.ROOT, "float FMA peak %.1f GFLOP/s (%d threads, %d-bit vectors)%n", peak.gflops(), peak.threads(), peak.bits());
        }
        out.printf(Locale.ROOT, "%6s  %-9s  %12s  %14s  %16s  %9s  %13s  %9s  %8s%n",
                "batch", "mode", "prefill t/s", "decode t/s/seq", "decode t/s total", "bw frac", "decode GFLOP/s", "peak frac", "load");
        for (EngineBenchmark.Result r : results) {
            out.printf(Locale.ROOT, "%6d  %-9s  %12.1f  %14.2f  %16.2f  %9s  %13.1f  %9s  %8.2f%n",
                    r.batch(), r.batchMode(), r.prefillTokS(), r.decodeTokS(), r.decodeAggregateTokS(),
                    bw == null ? "-" : String.format(Locale.ROOT, "%.3f", r.bandwidthFraction()),
                    r.decodeGflops(),
                    peak == null ? "-" : String.format(Locale.ROOT, "%.3f", r.peakFraction()), r.loadAverage());
        }
        if (results.stream().anyMatch(r -> r.batch() > 1 && EngineBenchmark.BATCH_EMULATED.equals(r.batchMode()))) {
            out.println("batch emulated: sequences stepped one by one through the single-sequence path (--emulate-batch)");
        }
    }
}
