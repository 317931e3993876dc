package dev.sluice.server.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The measurements of one concurrency level, with vLLM benchmark_serving's names in
 * {@link #toJson()}: {@code request_throughput} (req/s), {@code output_throughput} and
 * {@code total_token_throughput} (tok/s), and for TTFT, TPOT, ITL and E2EL (end-to-end latency)
 * the {@code mean_*_ms}, {@code median_*_ms}, {@code p90_*_ms} and {@code p99_*_ms}.
 * Latency statistics cover completed requests only.
 */
public record ServeBenchResult(String model, int concurrency, int requests, int completed, int failed, double durationSeconds,
                               long totalInputTokens, long totalOutputTokens,
                               Stats ttft, Stats tpot, Stats itl, Stats e2el, List<String> errors) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Mean and percentiles of one latency, in milliseconds; NaN when there were no samples. */
    public record Stats(int count, double mean, double p50, double p90, double p99) {
        static final Stats EMPTY = new Stats(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN);

        /** From samples in nanoseconds; percentiles interpolate linearly between ranks, as numpy's do. */
        public static Stats ofNanos(long[] nanos) {
            if (nanos.length == 0) return EMPTY;
            double[] ms = new double[nanos.length];
            for (int i = 0; i < ms.length; i++) ms[i] = nanos[i] / 1e6;
            Arrays.sort(ms);
            double sum = 0;
            for (double v : ms) sum += v;
            return new Stats(ms.length, sum / ms.length, percentile(ms, 50), percentile(ms, 90), percentile(ms, 99));
        }

        static double percentile(double[] sorted, double p) {
            double rank = p / 100 * (sorted.length - 1);
            int lo = (int) Math.floor(rank), hi = (int) Math.ceil(rank);
            return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
        }
    }

    public double requestThroughput() {
        return completed / durationSeconds;
    }

    public double outputThroughput() {
        return totalOutputTokens / durationSeconds;
    }

    public double totalTokenThroughput() {
        return (totalInputTokens + totalOutputTokens) / durationSeconds;
    }

    /** One JSON object, vLLM's key names. */
    public ObjectNode toJson() {
        ObjectNode o = JSON.createObjectNode().put("model", model).put("concurrency", concurrency).put("requests", requests)
                .put("completed", completed).put("failed", failed).put("duration_s", round(durationSeconds))
                .put("total_input_tokens", totalInputTokens).put("total_output_tokens", totalOutputTokens)
                .put("request_throughput", round(requestThroughput())).put("output_throughput", round(outputThroughput()))
                .put("total_token_throughput", round(totalTokenThroughput()));
        put(o, "ttft", ttft);
        put(o, "tpot", tpot);
        put(o, "itl", itl);
        put(o, "e2el", e2el);
        var errs = o.putArray("errors");
        errors.stream().limit(5).forEach(errs::add);
        return o;
    }

    private static void put(ObjectNode o, String name, Stats s) {
        for (var e : new Object[][] {{"mean", s.mean()}, {"median", s.p50()}, {"p90", s.p90()}, {"p99", s.p99()}}) {
            double v = (double) e[1];
            if (Double.isNaN(v)) o.putNull(e[0] + "_" + name + "_ms");
            else o.put(e[0] + "_" + name + "_ms", round(v));
        }
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    /** A fixed-width table, one row per level. */
    public static String table(List<ServeBenchResult> results) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%5s %5s %5s %8s %7s %9s %9s | %-29s | %-29s | %-29s | %-29s%n", "conc", "reqs", "fail", "dur_s",
                "req/s", "out_tok/s", "tot_tok/s", "TTFT ms mean/p50/p90/p99", "TPOT ms mean/p50/p90/p99", "ITL ms mean/p50/p90/p99", "E2E ms mean/p50/p90/p99"));
        for (ServeBenchResult r : results) {
            sb.append(String.format(Locale.ROOT, "%5d %5d %5d %8.2f %7.2f %9.1f %9.1f | %-29s | %-29s | %-29s | %-29s%n", r.concurrency, r.requests, r.failed,
                    r.durationSeconds, r.requestThroughput(), r.outputThroughput(), r.totalTokenThroughput(), cell(r.ttft), cell(r.tpot), cell(r.itl), cell(r.e2el)));
        }
        return sb.toString();
    }

    private static String cell(Stats s) {
        if (s.count() == 0) return "-";
        return String.format(Locale.ROOT, "%.1f/%.1f/%.1f/%.1f", s.mean(), s.p50(), s.p90(), s.p99());
    }
}
