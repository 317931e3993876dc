package dev.sluice.server.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;
import java.util.Locale;

/**
 * One measurement of {@link GatewayBenchmark}: a latency run at a fixed rate (direct and through
 * the gateway, and the difference at p50 and p99), or a throughput run (requests/s through the
 * gateway). Milliseconds; NaN where a run had no samples.
 */
public record GatewayBenchResult(String kind, boolean stream, int rate, double achievedRate, int concurrency, int requests, int failed,
                                 ServeBenchResult.Stats direct, ServeBenchResult.Stats gateway, double throughput, double loadAverage) {
    private static final ObjectMapper JSON = new ObjectMapper();

    static GatewayBenchResult latency(boolean stream, int rate, double achieved, int requests, int failed, long[] direct, long[] gateway, double load) {
        return new GatewayBenchResult("latency", stream, rate, achieved, 0, requests, failed, ServeBenchResult.Stats.ofNanos(direct),
                ServeBenchResult.Stats.ofNanos(gateway), Double.NaN, load);
    }

    static GatewayBenchResult throughput(boolean stream, int concurrency, double rps, int completed, int failed, double load) {
        return new GatewayBenchResult("throughput", stream, 0, Double.NaN, concurrency, completed, failed, null, null, rps, load);
    }

    public double overheadP50() {
        return gateway.p50() - direct.p50();
    }

    public double overheadP99() {
        return gateway.p99() - direct.p99();
    }

    public ObjectNode toJson() {
        ObjectNode o = JSON.createObjectNode().put("kind", kind).put("stream", stream).put("requests", requests).put("failed", failed)
                .put("load_average", round(loadAverage)).put("cpus", Runtime.getRuntime().availableProcessors());
        if (kind.equals("latency")) {
            o.put("rate", rate).put("achieved_rate", round(achievedRate))
                    .put("direct_p50_ms", round(direct.p50())).put("direct_p99_ms", round(direct.p99()))
                    .put("gateway_p50_ms", round(gateway.p50())).put("gateway_p99_ms", round(gateway.p99()))
                    .put("overhead_p50_ms", round(overheadP50())).put("overhead_p99_ms", round(overheadP99()));
        } else {
            o.put("concurrency", concurrency).put("requests_per_second", round(throughput));
        }
        return o;
    }

    private static double round(double v) {
        return Double.isNaN(v) ? Double.NaN : Math.round(v * 1000) / 1000.0;
    }

    public static String table(List<GatewayBenchResult> results) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-10s %-6s %9s %6s %5s | %-17s | %-17s | %-17s | %6s%n", "run", "mode", "rate", "reqs", "fail",
                "direct p50/p99 ms", "gateway p50/p99", "overhead p50/p99", "load"));
        for (GatewayBenchResult r : results) {
            if (!r.kind.equals("latency")) continue;
            sb.append(String.format(Locale.ROOT, "%-10s %-6s %9s %6d %5d | %7.3f / %7.3f | %7.3f / %7.3f | %7.3f / %7.3f | %6.2f%n", "latency",
                    r.stream ? "stream" : "plain", r.rate + "/s", r.requests, r.failed, r.direct.p50(), r.direct.p99(), r.gateway.p50(), r.gateway.p99(),
                    r.overheadP50(), r.overheadP99(), r.loadAverage));
        }
        for (GatewayBenchResult r : results) {
            if (!r.kind.equals("throughput")) continue;
            sb.append(String.format(Locale.ROOT, "%-10s %-6s %9s %6d %5d | %-17s | %-17s | %-17s | %6.2f%n", "throughput", r.stream ? "stream" : "plain",
                    "c=" + r.concurrency, r.requests, r.failed, String.format(Locale.ROOT, "%.0f req/s", r.throughput), "", "", r.loadAverage));
        }
        return sb.toString();
    }
}
