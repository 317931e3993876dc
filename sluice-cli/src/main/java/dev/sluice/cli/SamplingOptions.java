package dev.sluice.cli;

import dev.sluice.engine.sampling.SamplingParams;
import dev.sluice.engine.sampling.InvalidSamplingParamsException;
import picocli.CommandLine;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/**
 * Sampling options of {@code generate} and {@code chat} (a picocli mixin). The defaults are
 * llama.cpp's CLI defaults, which give readable text on small models; the engine's own
 * {@link SamplingParams#defaults()} (temperature 1, no filters) mirror the OpenAI API instead.
 */
public final class SamplingOptions {
    /** Temperature: 0.8 (llama.cpp's default; 0 is greedy). */
    static final String DEFAULT_TEMPERATURE = "0.8";
    /** Top-k: 40 (llama.cpp's default; 0 disables). */
    static final String DEFAULT_TOP_K = "40";
    /** Top-p: 0.95 (llama.cpp's default; 1 disables). */
    static final String DEFAULT_TOP_P = "0.95";
    /** Min-p: 0.05 (llama.cpp's default; 0 disables). */
    static final String DEFAULT_MIN_P = "0.05";

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N",
            description = "Most tokens to generate (default: " + SamplingParams.DEFAULT_MAX_TOKENS + ").")
    Integer maxTokens;

    @Option(names = {"-t", "--temperature"}, paramLabel = "T", defaultValue = DEFAULT_TEMPERATURE,
            description = "Sampling temperature; 0 is greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = DEFAULT_TOP_K,
            description = "Keep the K most likely tokens; 0 disables (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = DEFAULT_TOP_P,
            description = "Nucleus sampling threshold; 1 disables (default: ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--min-p", paramLabel = "P", defaultValue = DEFAULT_MIN_P,
            description = "Drop tokens less likely than P times the most likely; 0 disables (default: ${DEFAULT-VALUE}).")
    float minP;

    @Option(names = "--repeat-penalty", paramLabel = "X", defaultValue = "1.0",
            description = "Repetition penalty over prompt and output; 1 disables (default: ${DEFAULT-VALUE}).")
    float repeatPenalty;

    @Option(names = {"-s", "--seed"}, paramLabel = "S", description = "Random seed, for reproducible sampling (default: random).")
    Long seed;

    @Option(names = "--stop", paramLabel = "S", arity = "1..*",
            description = "Stop when the output contains S (repeatable; \\n and \\t are unescaped). The stop text is not printed.")
    List<String> stop = new ArrayList<>();

    /** {@code \n}, {@code \t} and {@code \\} in a stop string, so that a shell user can write {@code --stop "\n\n"}. */
    static String unescape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(i + 1);
                switch (n) {
                    case 'n' -> { b.append('\n'); i++; continue; }
                    case 't' -> { b.append('\t'); i++; continue; }
                    case '\\' -> { b.append('\\'); i++; continue; }
                    default -> { }
                }
            }
            b.append(c);
        }
        return b.toString();
    }

    /**
     * The engine's parameters. An out-of-range value is a usage error (exit code 2) whose message
     * names the option, e.g. {@code invalid --top-p: must be in (0, 1], got 2.0}.
     */
    SamplingParams toParams(CommandLine cmd) {
        try {
            return SamplingParams.builder()
                    .temperature(temperature).topK(topK).topP(topP).minP(minP).repetitionPenalty(repeatPenalty)
                    .seed(seed).maxTokens(maxTokens != null ? maxTokens : SamplingParams.DEFAULT_MAX_TOKENS)
                    .stopStrings(stop.stream().map(SamplingOptions::unescape).toList())
                    .build();
        } catch (InvalidSamplingParamsException e) {
            String msg = e.getMessage().startsWith(e.field() + ": ") ? e.getMessage().substring(e.field().length() + 2) : e.getMessage();
            throw new CommandLine.ParameterException(cmd, "invalid " + optionFor(e.field()) + ": " + msg);
        }
    }

    private static String optionFor(String field) {
        return switch (field) {
            case "max_tokens" -> "--max-tokens";
            case "repetition_penalty" -> "--repeat-penalty";
            case "stop" -> "--stop";
            default -> "--" + field.replace('_', '-');
        };
    }
}
