package dev.sluice.bench.serving;

import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.GatewayAssembly;
import dev.sluice.server.gateway.auth.IdentityStore;
import dev.sluice.server.inference.GenerationListener;
import dev.sluice.server.inference.GenerationOptions;
import dev.sluice.server.inference.InferenceModel;
import dev.sluice.server.store.Store;
import dev.sluice.server.store.StoreConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

/**
 * The latency that authentication and admission (rate limits in Redis, a Redis budget, usage
 * records) add to a gateway request: the same gateway and an instant fake model, first with no
 * credentials and {@code limits.enabled: false}, then with an API key required and limits in Redis,
 * one request at a time from one client over loopback; p50/p90/p99 of each and their difference.
 *
 * <pre>
 * java -cp sluice-bench/target/benchmarks.jar dev.sluice.bench.serving.GatewayOverhead [--requests 5000] [--warmup 2000] [--redis redis://127.0.0.1:6379]
 * </pre>
 */
public final class GatewayOverhead {
    private GatewayOverhead() {}

    /** A model that answers at once: "ok" (2 tokens), no engine, so only the gateway is measured. */
    static final class InstantModel implements InferenceModel {
        @Override public String id() { return "instant"; }
        @Override public long created() { return 1_700_000_000L; }
        @Override public int contextLength() { return 4096; }

        @Override
        public ChatPrompt encodeChat(List<Map<String, Object>> messages, List<Map<String, Object>> tools, Map<String, Object> templateVars) {
            StringBuilder sb = new StringBuilder();
            for (Map<String, Object> m : messages) sb.append(m.get("role")).append(": ").append(m.get("content")).append('\n');
            String t = sb.append("assistant:").toString();
            return new ChatPrompt(t, t.codePoints().toArray());
        }

        @Override public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) { return text.codePoints().toArray(); }
        @Override public String detokenize(int[] ids) { return new String(ids, 0, ids.length); }

        @Override
        public Generation generate(int[] prompt, GenerationOptions options, GenerationListener listener) {
            Thread.ofVirtual().start(() -> {
                for (String t : List.of("o", "k")) {
                    listener.onToken(t.charAt(0), t, Float.NaN, List.of());
                    listener.onText(t);
                }
                listener.onComplete("stop", prompt.length, 2);
            });
            return () -> {};
        }
    }

    public static void main(String[] args) throws Exception {
        int requests = 5000, warmup = 2000;
        String redis = "redis://127.0.0.1:6379";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--requests" -> requests = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--redis" -> redis = args[++i];
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        Path dir = Files.createTempDirectory("sluice-gw-bench");
        String run = UUID.randomUUID().toString().substring(0, 8);

        SluiceConfig off = SluiceConfig.parse("""
                store:
                  url: %s
                limits:
                  enabled: false
                """.formatted(StoreConfig.defaultUrl(dir.resolve("off"))), Map.of(), "off");
        long[] base = measure(off, null, requests, warmup);

        // an API key in the store: authentication is enforced from then on
        String url = StoreConfig.defaultUrl(dir.resolve("on"));
        String key;
        try (Store s = Store.open(new StoreConfig(url, null, null, 2, null))) {
            IdentityStore ids = new IdentityStore(s);
            ids.createTenant("bench", "bench");
            key = ids.createKey(new IdentityStore.KeySpec("bench", null, null, "bench", null, null, false, null)).key();
        }
        SluiceConfig on = SluiceConfig.parse("""
                store:
                  url: %s
                redis:
                  uri: %s
                limits:
                  mode: redis
                  keyPrefix: "sluice-bench:%s:"
                  usageRecords: true
                  rules:
                    - {name: per-key, dimensions: [key], requestsPerMinute: 100000000, tokensPerMinute: 10000000000, maxConcurrent: 1000}
                    - {name: per-tenant-model, dimensions: [tenant, model], requestsPerMinute: 100000000}
                  prices:
                    instant: {input: 0.1, output: 0.2}
                  budgets:
                    - {scope: tenant, period: month, tokens: 1000000000000}
                """.formatted(url, redis, run), Map.of(), "on");
        long[] limited = measure(on, key, requests, warmup);

        System.out.printf(Locale.ROOT, "%-32s %9s %9s %9s %9s%n", "gateway (one client, loopback)", "p50 us", "p90 us", "p99 us", "mean us");
        print("auth off, limits off", base);
        print("auth + limits (redis)", limited);
        System.out.printf(Locale.ROOT, "%-32s %9.0f %9.0f %9.0f %9.0f%n", "added", (pct(limited, 50) - pct(base, 50)) / 1e3,
                (pct(limited, 90) - pct(base, 90)) / 1e3, (pct(limited, 99) - pct(base, 99)) / 1e3, (mean(limited) - mean(base)) / 1e3);
        System.out.printf(Locale.ROOT, "{\"requests\":%d,\"base_p50_us\":%.0f,\"base_p99_us\":%.0f,\"limits_p50_us\":%.0f,\"limits_p99_us\":%.0f}%n",
                requests, pct(base, 50) / 1e3, pct(base, 99) / 1e3, pct(limited, 50) / 1e3, pct(limited, 99) / 1e3);
    }

    private static long[] measure(SluiceConfig config, String key, int requests, int warmup) {
        ServerConfig server = ServerConfig.defaults().withPort(0);
        ServerMetrics metrics = new ServerMetrics();
        try (SluiceServer s = new SluiceServer(server, List.of(new InstantModel()), () -> true, metrics,
                worker -> GatewayAssembly.build(config, server, metrics, worker)).start()) {
            WebClient client = WebClient.builder("http://127.0.0.1:" + s.port()).responseTimeout(Duration.ofSeconds(10)).build();
            String body = "{\"model\":\"instant\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
            long[] out = new long[requests];
            double fallbackBefore = 0;
            for (int i = 0; i < warmup + requests; i++) {
                if (i == warmup) fallbackBefore = fallbacks(metrics);
                com.linecorp.armeria.common.RequestHeadersBuilder h = RequestHeaders.builder(HttpMethod.POST, "/v1/chat/completions").contentType(MediaType.JSON_UTF_8);
                if (key != null) h.add("authorization", "Bearer " + key);
                long t0 = System.nanoTime();
                AggregatedHttpResponse r = client.execute(HttpRequest.of(h.build(), HttpData.ofUtf8(body))).aggregate().join();
                long t = System.nanoTime() - t0;
                if (r.status().code() != 200) throw new IllegalStateException("request " + i + ": " + r.status() + " " + r.contentUtf8());
                if (i >= warmup) out[i - warmup] = t;
            }
            double fell = fallbacks(metrics) - fallbackBefore;
            if (fell > 0) System.out.printf(Locale.ROOT, "WARNING: %.0f measured request(s) were decided without Redis (it timed out); rerun%n", fell);
            Arrays.sort(out);
            return out;
        }
    }

    /** Requests decided without Redis so far ({@code sluice_ratelimit_fallback_total}). */
    private static double fallbacks(ServerMetrics metrics) {
        return metrics.scrape().lines().filter(l -> l.startsWith("sluice_ratelimit_fallback_total"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    private static double pct(long[] sorted, double p) {
        return sorted[(int) Math.min(sorted.length - 1, Math.ceil(p / 100.0 * sorted.length) - 1)];
    }

    private static double mean(long[] v) {
        return Arrays.stream(v).average().orElse(0);
    }

    private static void print(String name, long[] v) {
        System.out.printf(Locale.ROOT, "%-32s %9.0f %9.0f %9.0f %9.0f%n", name, pct(v, 50) / 1e3, pct(v, 90) / 1e3, pct(v, 99) / 1e3, mean(v) / 1e3);
    }
}
