package dev.sluice.cli;

import dev.sluice.engine.convert.GGUFQuantize;
import dev.sluice.engine.tensor.GGMLType;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code sluice quantize}: re-encode a GGUF file's matrices as q8_0 or q4_0 (see {@link GGUFQuantize}). */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Quantize a GGUF model's weight matrices to q8_0 or q4_0.")
public final class QuantizeCommand implements Callable<Integer> {
    static final class Types extends GgmlTypeConverter {
        Types() {
            super(GGUFQuantize.TARGETS);
        }
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"-i", "--input"}, required = true, paramLabel = "IN.gguf", description = "GGUF file to read.")
    Path input;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.gguf", description = "GGUF file to write.")
    Path output;

    @Option(names = {"-t", "--type"}, required = true, paramLabel = "TYPE", converter = Types.class,
            description = "Target type: q8_0 or q4_0.")
    GGMLType type;

    @Override
    public Integer call() {
        if (!Files.isRegularFile(input)) throw new CliException("input file not found: " + input.toAbsolutePath());
        Files2.checkOutput(output);
        long t0 = System.nanoTime();
        GGUFQuantize.quantize(input, output, type);
        Files2.reportWritten(spec.commandLine().getErr(), output, t0);
        return 0;
    }
}
