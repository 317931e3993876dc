package dev.sluice.cli;

import dev.sluice.engine.LoadedModel;
import dev.sluice.engine.runtime.Generator;
import dev.sluice.engine.runtime.Transformer;
import dev.sluice.engine.sampling.SamplingParams;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code sluice generate}: one prompt in, a completion streamed to stdout (flushed per token),
 * then one statistics line on stderr: {@code prefill: N tok, X tok/s; decode: N tok, Y tok/s}.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate a completion of a prompt and stream it to stdout.",
                "Ends with a line on stderr: prefill: N tok, X tok/s; decode: N tok, Y tok/s"})
public final class GenerateCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.ParentCommand
    Main main;

    @Mixin
    ModelOptions model;

    @Mixin
    RuntimeOptions runtime;

    @Mixin
    SamplingOptions sampling;

    @CommandLine.ArgGroup(multiplicity = "1")
    PromptSource source;

    /** The prompt: text, or token ids (to reproduce a reference run exactly). */
    static final class PromptSource {
        @Option(names = {"-p", "--prompt"}, required = true, paramLabel = "TEXT", description = "The prompt.")
        String text;

        @Option(names = "--prompt-ids", required = true, paramLabel = "IDS", split = "[ ,]+",
                description = "The prompt as token ids (space- or comma-separated), used as is: no BOS added, no chat template.")
        int[] ids;
    }

    @Option(names = "--chat",
            description = "Wrap the prompt as a user message in the model's chat template (with the generation prompt) "
                    + "and parse special tokens in the result.")
    boolean chat;

    @Option(names = "--no-warmup", description = "Skip the short warm-up run that compiles the kernels before timing (faster start, slower first tokens).")
    boolean noWarmup;

    @Option(names = "--system", paramLabel = "TEXT", description = "With --chat: a system message before the prompt.")
    String system;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (system != null && !chat) throw new CommandLine.ParameterException(spec.commandLine(), "--system needs --chat");
        if (chat && source.ids != null) throw new CommandLine.ParameterException(spec.commandLine(), "--chat needs --prompt, not --prompt-ids");
        SamplingParams params = sampling.toParams(spec.commandLine()); // validate before loading the model
        Path path = model.resolve(main.env(), err);
        try (LoadedModel m = Models.load(path, runtime.contextSize, runtime.threads)) {
            if (!noWarmup) m.transformer().warmUp(); // so the stats line measures compiled kernels, not the JIT
            int[] ids;
            if (source.ids != null) {
                ids = source.ids;
                int vocab = m.config().vocabSize();
                for (int id : ids) {
                    if (id < 0 || id >= vocab) throw new CliException("--prompt-ids: token id " + id + " is outside the vocabulary [0, " + vocab + ")");
                }
            } else if (chat) {
                ids = Chat.encode(m, Chat.messages(system, List.of(Map.of("role", "user", "content", source.text))));
            } else {
                ids = m.tokenizer().encode(source.text, true, false);
            }
            Generator.Result r = m.generator().generate(ids, params, new Generator.Listener() {
                @Override
                public void onText(String delta) {
                    out.print(delta);
                    out.flush();
                }
            }, out::checkError); // stdout closed (e.g. `| head -1`): stop generating
            out.println();
            out.flush();
            err.println(r.stats().summary());
            err.flush();
        }
        return 0;
    }

    /** Options about how the model runs, shared by {@code generate} and {@code chat} (a picocli mixin). */
    public static final class RuntimeOptions {
        /** Most worker threads: 4x the cores; beyond that threads only contend, and huge values would exhaust the machine. */
        static final int MAX_THREADS = 4 * Runtime.getRuntime().availableProcessors();
        /** Largest KV cache asked for on the command line (tokens); the model's own context length usually binds first. */
        static final int MAX_CTX_SIZE = 1 << 20;

        @Option(names = "--threads", paramLabel = "N", converter = ThreadCount.class,
                description = "Worker threads, 1 to 4x the cores (default: all cores).")
        Integer threads;

        @Option(names = {"-c", "--ctx-size"}, paramLabel = "N", defaultValue = "" + Transformer.DEFAULT_MAX_CONTEXT, converter = ContextSize.class,
                description = "KV cache size in tokens, capped by the model's context length (default: ${DEFAULT-VALUE}).")
        int contextSize;

        static final class ThreadCount implements CommandLine.ITypeConverter<Integer> {
            @Override
            public Integer convert(String value) {
                return boundedInt(value, 1, MAX_THREADS);
            }
        }

        static final class ContextSize implements CommandLine.ITypeConverter<Integer> {
            @Override
            public Integer convert(String value) {
                return boundedInt(value, 1, MAX_CTX_SIZE);
            }
        }

        static int boundedInt(String value, int min, int max) {
            int v;
            try {
                v = Integer.parseInt(value.trim());
            } catch (NumberFormatException e) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not an integer");
            }
            if (v < min || v > max) throw new CommandLine.TypeConversionException("must be in [" + min + ", " + max + "], got " + v);
            return v;
        }
    }
}
