package dev.sluice.cli;

import dev.sluice.engine.bench.BenchmarkModel;
import dev.sluice.engine.convert.GGUFQuantize;
import dev.sluice.engine.tensor.GGMLType;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code sluice bench}: benchmark tools. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmark tools.",
        subcommands = {BenchCommand.MakeModel.class, BenchEngineCommand.class, BenchServeCommand.class, BenchGatewayCommand.class})
public final class BenchCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand (make-model, engine, serve, gateway)");
    }

    /**
     * {@code sluice bench make-model --out DIR}: writes the engine benchmark model
     * ({@link BenchmarkModel}) as {@code bench-f16.gguf}, then {@code bench-q8_0.gguf} and
     * {@code bench-q4_0.gguf} quantized from it. Deterministic for a given seed.
     */
    @Command(name = "make-model", mixinStandardHelpOptions = true,
            description = {"Write the engine benchmark model (qwen2, 24 layers, hidden 896, ~450M parameters,",
                    "DeepSeek's 102400-token vocabulary) as F16, Q8_0 and Q4_0 GGUF files."})
    static final class MakeModel implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder (created if missing).")
        Path out;

        @Option(names = "--vocab", paramLabel = "GGUF",
                description = "GGUF file whose tokenizer to use (default: ../shared/fixtures/tokenizers/ggml-vocab-deepseek-llm.gguf, searched upwards from the working directory).")
        Path vocab;

        @Option(names = "--seed", defaultValue = "" + BenchmarkModel.DEFAULT_SEED, description = "Weight seed (default: ${DEFAULT-VALUE}).")
        long seed;

        @Override
        public Integer call() {
            PrintWriter err = spec.commandLine().getErr();
            Path v = vocab != null ? vocab : findVocab();
            if (!Files.isRegularFile(v)) throw new CliException("--vocab: " + v + " is not a file");
            try {
                Files.createDirectories(out);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create " + out + ": " + e.getMessage(), e);
            }
            Path f16 = out.resolve("bench-f16.gguf");
            long t0 = System.nanoTime();
            BenchmarkModel.writeF16(v, f16, BenchmarkModel.Shape.QWEN2_0_5B, seed);
            err.printf(Locale.ROOT, "wrote %s (%.1f s)%n", f16, (System.nanoTime() - t0) / 1e9);
            for (GGMLType t : new GGMLType[] {GGMLType.Q8_0, GGMLType.Q4_0}) {
                Path q = out.resolve("bench-" + t.name().toLowerCase(Locale.ROOT) + ".gguf");
                t0 = System.nanoTime();
                GGUFQuantize.quantize(f16, q, t);
                err.printf(Locale.ROOT, "wrote %s (%.1f s)%n", q, (System.nanoTime() - t0) / 1e9);
            }
            return 0;
        }

        private static Path findVocab() {
            for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
                Path c = p.resolve("shared/fixtures/tokenizers/ggml-vocab-deepseek-llm.gguf");
                if (Files.isRegularFile(c)) return c;
            }
            throw new CliException("cannot find ggml-vocab-deepseek-llm.gguf in ../shared/fixtures/tokenizers; pass --vocab FILE");
        }
    }
}
