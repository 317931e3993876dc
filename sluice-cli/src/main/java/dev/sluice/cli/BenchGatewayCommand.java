package dev.sluice.cli;

import dev.sluice.server.bench.GatewayBenchConfig;
import dev.sluice.server.bench.GatewayBenchResult;
import dev.sluice.server.bench.GatewayBenchmark;
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
 * {@code sluice bench gateway}: the gateway's added latency (p50, p99) against calling the
 * upstream directly at fixed request rates, and its requests/s, plain and streamed, in front of a
 * fast fake upstream ({@link GatewayBenchmark}). Prints a table, or with {@code --json} one JSON
 * object per run, on stdout; progress goes to stderr.
 */
@Command(name = "gateway", mixinStandardHelpOptions = true,
        description = {"Measure the gateway's overhead: added latency p50/p99 vs calling the upstream directly at fixed request rates,",
                "and max requests/s through it, plain and streamed, against a fast fake OpenAI upstream (all in this process, loopback)."})
final class BenchGatewayCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--rates", split = ",", paramLabel = "R[,R...]", description = "Request rates of the latency runs, req/s (default: 100,500,1000).")
    List<Integer> rates = GatewayBenchConfig.DEFAULT_RATES;

    @Option(names = "--duration", paramLabel = "SECONDS", defaultValue = "10", description = "Length of each latency run (default: ${DEFAULT-VALUE}).")
    double duration;

    @Option(names = "--concurrency", paramLabel = "N", defaultValue = "" + GatewayBenchConfig.DEFAULT_CONCURRENCY,
            description = "Requests in flight in the throughput run (default: ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--throughput-duration", paramLabel = "SECONDS", defaultValue = "10", description = "Length of each throughput run (default: ${DEFAULT-VALUE}).")
    double throughputDuration;

    @Option(names = "--warmup", paramLabel = "SECONDS", defaultValue = "5", description = "Warm-up of each mode, all done before the first measurement (default: ${DEFAULT-VALUE}).")
    double warmup;

    @Option(names = "--settle-max", paramLabel = "SECONDS", defaultValue = "60",
            description = "After the warm-ups, keep a light load on until the gateway's JIT is quiet (its jvm_compilation_time_ms_total), "
                    + "at most this long; 0: don't (default: ${DEFAULT-VALUE}).")
    double settleMax;

    @Option(names = "--mode", paramLabel = "both|plain|stream", defaultValue = "both", description = "Plain requests, streamed, or both (default).")
    String mode;

    @Option(names = "--chunks", paramLabel = "N", defaultValue = "" + GatewayBenchConfig.DEFAULT_CHUNKS,
            description = "Chunks of the fake upstream's streamed answer (default: ${DEFAULT-VALUE}).")
    int chunks;

    @Option(names = "--upstream", paramLabel = "URL", description = "Put the gateway in front of this OpenAI base URL (e.g. http://127.0.0.1:8000/v1) instead of the fake.")
    URI upstream;

    @Option(names = "--model", paramLabel = "NAME", description = "Model name sent to --upstream (default: bench).")
    String model;

    @Option(names = "--gateway", paramLabel = "URL", description = {"Measure this running gateway (e.g. http://127.0.0.1:8080) instead of starting one; "
            + "it must route --gateway-model to --upstream, which is then required."})
    URI gateway;

    @Option(names = "--gateway-model", paramLabel = "NAME", description = "Public model name requested from the gateway (default: bench).")
    String gatewayModel;

    @Option(names = "--serve-upstream", paramLabel = "PORT",
            description = "Only serve the fast fake upstream on 127.0.0.1:PORT (base URL http://127.0.0.1:PORT/v1) until killed; for runs in separate processes.")
    Integer serveUpstream;

    @Option(names = "--json", description = "One JSON object per run instead of a table.")
    boolean json;

    @Override
    public Integer call() throws InterruptedException {
        if (serveUpstream != null) {
            var server = GatewayBenchmark.fastUpstream(chunks, serveUpstream);
            spec.commandLine().getErr().printf(Locale.ROOT, "fast fake upstream at http://127.0.0.1:%d/v1 (%d chunks); Ctrl-C to stop%n",
                    server.activeLocalPort(), chunks);
            spec.commandLine().getErr().flush();
            server.blockUntilShutdown();
            return 0;
        }
        List<Boolean> modes = switch (mode) {
            case "both" -> List.of(false, true);
            case "plain" -> List.of(false);
            case "stream" -> List.of(true);
            default -> throw new CommandLine.ParameterException(spec.commandLine(), "--mode must be both, plain or stream, got " + mode);
        };
        GatewayBenchConfig config;
        try {
            config = new GatewayBenchConfig(rates, seconds(duration), concurrency, seconds(throughputDuration), seconds(warmup), modes, chunks, upstream, model, gateway, gatewayModel,
                    seconds(settleMax));
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        err.printf(Locale.ROOT, "cpus %d, load average %.2f at start%n", Runtime.getRuntime().availableProcessors(),
                java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        List<GatewayBenchResult> results;
        try (GatewayBenchmark b = new GatewayBenchmark(config)) {
            results = b.run(r -> {
                if (r.kind().equals("latency")) {
                    err.printf(Locale.ROOT, "%s %d req/s: overhead p50 %.3f ms, p99 %.3f ms (%d failed)%n", r.stream() ? "stream" : "plain", r.rate(),
                            r.overheadP50(), r.overheadP99(), r.failed());
                } else {
                    err.printf(Locale.ROOT, "%s throughput: %.0f req/s (%d failed)%n", r.stream() ? "stream" : "plain", r.throughput(), r.failed());
                }
                err.flush();
                if (json) {
                    out.println(r.toJson());
                    out.flush();
                }
            });
        } catch (IllegalStateException e) {
            throw new CliException(e.getMessage());
        }
        if (!json) out.print(GatewayBenchResult.table(results));
        out.flush();
        return results.stream().allMatch(r -> r.failed() == 0) ? 0 : 1;
    }

    private static Duration seconds(double s) {
        return Duration.ofNanos((long) (s * 1e9));
    }
}
