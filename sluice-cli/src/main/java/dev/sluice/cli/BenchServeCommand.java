package dev.sluice.cli;

import dev.sluice.server.bench.ServeBenchConfig;
import dev.sluice.server.bench.ServeBenchResult;
import dev.sluice.server.bench.ServeBenchmark;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code sluice bench serve --url URL}: a load generator for any OpenAI-compatible server, in the
 * manner of vLLM's benchmark_serving ({@link ServeBenchmark}). Prints a table, or with
 * {@code --json} one JSON object per concurrency level, on stdout; progress goes to stderr.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Load-test an OpenAI-compatible server: streamed requests with synthetic prompts at each concurrency level;",
                "reports TTFT, TPOT, inter-token and end-to-end latency (mean, p50, p90, p99), request and token throughput."})
final class BenchServeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--url", required = true, paramLabel = "URL", description = "Server base URL, e.g. http://127.0.0.1:8080 (a trailing /v1 is fine).")
    String url;

    @Option(names = "--model", paramLabel = "ID", description = "Model id (default: the first one GET /v1/models lists).")
    String model;

    @Option(names = "--concurrency", split = ",", paramLabel = "N[,N...]", description = "Concurrency levels, run in order (default: 1,4,16).")
    List<Integer> concurrency = ServeBenchConfig.DEFAULT_CONCURRENCY;

    @Option(names = "--prompt-tokens", paramLabel = "N", defaultValue = "" + ServeBenchConfig.DEFAULT_PROMPT_TOKENS,
            description = "Prompt length in tokens, about (default: ${DEFAULT-VALUE}).")
    int promptTokens;

    @Option(names = "--max-tokens", paramLabel = "N", defaultValue = "" + ServeBenchConfig.DEFAULT_MAX_TOKENS,
            description = "max_tokens of every request (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--requests", paramLabel = "N", defaultValue = "0",
            description = "Requests per level (default: 4 per concurrent slot, at least 8).")
    int requests;

    @Option(names = "--endpoint", paramLabel = "chat|completions", defaultValue = "chat",
            description = "chat (/v1/chat/completions, default) or completions (/v1/completions).")
    String endpoint;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "600", description = "Per-request timeout (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the synthetic prompts (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--ignore-eos", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Send ignore_eos (vLLM's extension, honoured by Sluice) so every request generates exactly --max-tokens tokens (default: ${DEFAULT-VALUE}; --no-ignore-eos lets the model stop early).")
    boolean ignoreEos;

    @Option(names = "--json", description = "One JSON object per concurrency level instead of a table.")
    boolean json;

    @Override
    public Integer call() {
        if (!endpoint.equals("chat") && !endpoint.equals("completions")) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--endpoint must be chat or completions, got " + endpoint);
        }
        ServeBenchConfig config;
        try {
            config = new ServeBenchConfig(URI.create(url), model, concurrency, promptTokens, maxTokens, requests, endpoint.equals("chat"),
                    Duration.ofSeconds(timeoutSeconds), seed, ignoreEos);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        List<ServeBenchResult> results;
        try {
            results = new ServeBenchmark(config).run(r -> {
            err.printf(Locale.ROOT, "concurrency %d: %d/%d completed in %.1f s, %.1f output tok/s%n", r.concurrency(), r.completed(), r.requests(),
                    r.durationSeconds(), r.outputThroughput());
            for (String e : r.errors().stream().limit(3).toList()) err.println("  failed: " + e);
            err.flush();
            if (json) {
                out.println(r.toJson());
                out.flush();
            }
            });
        } catch (IllegalStateException e) {
            throw new CliException(e.getMessage());
        }
        if (!json) out.print(ServeBenchResult.table(results));
        out.flush();
        return results.stream().allMatch(r -> r.failed() == 0) ? 0 : 1;
    }
}
