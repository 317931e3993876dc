package dev.sluice.cli;

import dev.sluice.engine.convert.SafetensorsToGGUF;
import dev.sluice.engine.tensor.GGMLType;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code sluice convert}: a Hugging Face safetensors folder to a GGUF file (see {@link SafetensorsToGGUF}). */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Convert a Hugging Face model folder (config.json + *.safetensors) to a GGUF file.")
public final class ConvertCommand implements Callable<Integer> {
    static final class Types extends GgmlTypeConverter {
        Types() {
            super(SafetensorsToGGUF.OUTPUT_TYPES);
        }
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"-i", "--input"}, required = true, paramLabel = "HF_DIR", description = "Hugging Face model folder.")
    Path input;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.gguf", description = "GGUF file to write.")
    Path output;

    @Option(names = {"-t", "--type"}, paramLabel = "TYPE", defaultValue = "f16", converter = Types.class,
            description = "Type of the weight matrices: f32, f16, bf16, q8_0 or q4_0 (default: ${DEFAULT-VALUE}). Norms and biases stay f32.")
    GGMLType type;

    @Override
    public Integer call() {
        if (!Files.isDirectory(input)) {
            throw new CliException("input is not a folder: " + input.toAbsolutePath() + " (expected a Hugging Face model folder with config.json)");
        }
        Files2.checkOutput(output);
        long t0 = System.nanoTime();
        SafetensorsToGGUF.convert(input, output, type);
        Files2.reportWritten(spec.commandLine().getErr(), output, t0);
        return 0;
    }
}
