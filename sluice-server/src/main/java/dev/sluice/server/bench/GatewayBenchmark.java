package dev.sluice.server.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.client.ClientFactory;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpHeaderNames;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import com.linecorp.armeria.common.ResponseHeaders;
import com.linecorp.armeria.server.Server;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.GatewayAssembly;

import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * {@code sluice bench gateway}: what the gateway costs. It starts a fast fake OpenAI upstream (its
 * answers precomputed, sent at once) unless pointed at one, and the real gateway in front of it
 * ({@link GatewayAssembly} from a routing config: the model registry, an {@code openai} backend,
 * auth off), both on loopback in this process, and measures
 * <ol>
 *   <li>added latency: at each fixed request rate, requests go out open-loop (on a schedule, each
 *       timed from its scheduled send, so a stall is not hidden by coordinated omission), one to the
 *       gateway and one straight to the upstream at every tick; the overhead is the gateway's
 *       percentile minus the direct one, at p50 and p99;
 *   <li>throughput: a fixed number of requests kept in flight through the gateway for a while;
 *       requests per second completed.
 * </ol>
 * Both plain and streamed ({@code stream: true}, {@link GatewayBenchConfig#chunks} chunks and
 * usage). A request counts as failed on a non-200 status or a stream without {@code [DONE]}.
 *
 * <p>Design note: by default the load generator, the gateway and the upstream share this JVM and
 * its CPUs, so the throughput figure is a lower bound of what the gateway alone would do on them.
 * To give the gateway its own cores, run the three as processes ({@code --serve-upstream},
 * {@code sluice serve --role gateway}, {@code --gateway}) pinned with {@code taskset}. The
 * machine's load average is reported with the results.
 */
public final class GatewayBenchmark implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The fast upstream's words, one chunk each. */
    private static final String[] WORDS = "The quick brown fox jumps over the lazy dog and runs far away".split(" ");

    private final GatewayBenchConfig config;
    private final Server upstream;
    private final String upstreamUrl;
    private final SluiceServer gateway;
    private final ClientFactory factory;
    private final WebClient direct, viaGateway;
    private final String upstreamPath;

    public GatewayBenchmark(GatewayBenchConfig config) {
        this.config = config;
        if (config.upstream() == null) {
            upstream = fastUpstream(config.chunks());
            upstreamUrl = "http://127.0.0.1:" + upstream.activeLocalPort() + "/v1";
        } else {
            upstream = null;
            String u = config.upstream().toString();
            upstreamUrl = u.endsWith("/") ? u.substring(0, u.length() - 1) : u;
        }
        String gatewayUrl;
        if (config.gateway() == null) {
            SluiceConfig cfg = SluiceConfig.parse("""
                    routing:
                      backends:
                        up: {type: openai, endpoints: ["%s"], model: %s}
                      models:
                        %s:
                          versions:
                            v1: {backend: up, weight: 100}
                    """.formatted(upstreamUrl, config.model(), config.gatewayModel()), Map.of(), "bench gateway config");
            ServerConfig sc = ServerConfig.defaults().withPort(0);
            ServerMetrics metrics = new ServerMetrics();
            gateway = new SluiceServer(sc, List.of(), () -> true, metrics, w -> GatewayAssembly.build(cfg, null, sc, metrics, null, true)).start();
            gatewayUrl = "http://127.0.0.1:" + gateway.port();
        } else {
            gateway = null;
            gatewayUrl = config.gateway().getScheme() + "://" + config.gateway().getRawAuthority();
        }
        factory = ClientFactory.builder().maxNumEventLoopsPerEndpoint(4).build();
        java.net.URI base = java.net.URI.create(upstreamUrl);
        direct = WebClient.builder(base.getScheme() + "://" + base.getRawAuthority()).factory(factory)
                .responseTimeout(Duration.ofSeconds(30)).maxResponseLength(0).build();
        viaGateway = WebClient.builder(gatewayUrl).factory(factory).responseTimeout(Duration.ofSeconds(30)).maxResponseLength(0).build();
        upstreamPath = java.net.URI.create(upstreamUrl).getPath();
    }

    /** The answers of the fast upstream: precomputed bytes, written at once. */
    static Server fastUpstream(int chunks) {
        return fastUpstream(chunks, 0);
    }

    /** The fast fake upstream on {@code 127.0.0.1:port} (0: a free port), started; {@code sluice bench gateway --serve-upstream}. */
    public static Server fastUpstream(int chunks, int port) {
        StringBuilder text = new StringBuilder();
        StringBuilder sse = new StringBuilder();
        for (int i = 0; i < chunks; i++) {
            String w = (i == 0 ? "" : " ") + WORDS[i % WORDS.length];
            text.append(w);
            ObjectNode c = JSON.createObjectNode().put("id", "chatcmpl-bench").put("object", "chat.completion.chunk").put("created", 1).put("model", "bench");
            ObjectNode ch = c.putArray("choices").addObject().put("index", 0);
            ch.putObject("delta").put("content", w);
            if (i == chunks - 1) ch.put("finish_reason", "stop");
            else ch.putNull("finish_reason");
            sse.append("data: ").append(c).append("\n\n");
        }
        ObjectNode usage = JSON.createObjectNode().put("prompt_tokens", 12).put("completion_tokens", chunks).put("total_tokens", 12 + chunks);
        ObjectNode u = JSON.createObjectNode().put("id", "chatcmpl-bench").put("object", "chat.completion.chunk").put("created", 1).put("model", "bench");
        u.putArray("choices");
        u.set("usage", usage);
        String sseNoUsage = sse + "data: [DONE]\n\n";
        String sseUsage = sse.toString() + "data: " + u + "\n\n" + "data: [DONE]\n\n";
        ObjectNode plain = JSON.createObjectNode().put("id", "chatcmpl-bench").put("object", "chat.completion").put("created", 1).put("model", "bench");
        plain.putArray("choices").addObject().put("index", 0).put("finish_reason", "stop").putObject("message").put("role", "assistant").put("content", text.toString());
        plain.set("usage", usage);
        byte[] plainBytes = plain.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] usageBytes = sseUsage.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] noUsageBytes = sseNoUsage.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        ResponseHeaders json = ResponseHeaders.builder(HttpStatus.OK).contentType(MediaType.JSON_UTF_8).build();
        ResponseHeaders events = ResponseHeaders.builder(HttpStatus.OK).contentType(MediaType.EVENT_STREAM).add(HttpHeaderNames.CACHE_CONTROL, "no-cache").build();
        Server s = Server.builder().http(new InetSocketAddress("127.0.0.1", port))
                .service("/v1/chat/completions", (ctx, req) -> HttpResponse.of(req.aggregate().thenApply(agg -> {
                    String body = agg.contentUtf8();
                    if (!body.contains("\"stream\":true")) return HttpResponse.of(json, HttpData.wrap(plainBytes));
                    return HttpResponse.of(events, HttpData.wrap(body.contains("\"include_usage\":true") ? usageBytes : noUsageBytes));
                })))
                .service("/v1/models", (ctx, req) -> HttpResponse.of(HttpStatus.OK, MediaType.JSON_UTF_8, "{\"object\":\"list\",\"data\":[{\"id\":\"bench\",\"object\":\"model\"}]}"))
                .gracefulShutdownTimeout(Duration.ZERO, Duration.ZERO)
                .build();
        s.start().join();
        return s;
    }

    private HttpRequest request(boolean toGateway, boolean stream) {
        String path = toGateway ? "/v1/chat/completions" : upstreamPath + "/chat/completions";
        ObjectNode body = JSON.createObjectNode().put("model", toGateway ? config.gatewayModel() : config.model()).put("max_tokens", config.chunks());
        body.putArray("messages").addObject().put("role", "user").put("content", "Write one short sentence about a fox.");
        if (stream) body.put("stream", true);
        return HttpRequest.of(RequestHeaders.builder(HttpMethod.POST, path).contentType(MediaType.JSON_UTF_8).build(), HttpData.ofUtf8(body.toString()));
    }

    private static boolean ok(AggregatedHttpResponse r, boolean stream) {
        return r.status().code() == 200 && (!stream || r.contentUtf8().endsWith("data: [DONE]\n\n"));
    }

    /** Why requests failed, by path and reason, since the last {@link #reportFailures}: a lost request must be explainable. */
    private final java.util.concurrent.ConcurrentHashMap<String, java.util.concurrent.atomic.LongAdder> failures = new java.util.concurrent.ConcurrentHashMap<>();

    private void failed(boolean toGateway, AggregatedHttpResponse r, Throwable t) {
        String why = t != null ? t.getClass().getSimpleName() : r.status().code() != 200 ? "status " + r.status().code() : "no [DONE]";
        failures.computeIfAbsent((toGateway ? "gateway: " : "direct: ") + why, k -> new java.util.concurrent.atomic.LongAdder()).increment();
    }

    /** Prints (to stderr) and clears the failure reasons of the run just done, if any. */
    private void reportFailures(String run) {
        if (failures.isEmpty()) return;
        StringBuilder sb = new StringBuilder(run).append(" failures:");
        new java.util.TreeMap<>(failures).forEach((k, v) -> sb.append(' ').append(k).append(" x").append(v.sum()).append(';'));
        failures.clear();
        System.err.println(sb);
    }

    /** Runs every measurement; {@code onResult} sees each as it is done. */
    public List<GatewayBenchResult> run(Consumer<GatewayBenchResult> onResult) {
        List<GatewayBenchResult> out = new ArrayList<>();
        // every mode is warmed before the first measurement: the gateway's JIT compiles each path's code
        // only once it runs, so a mode measured right after its own short warm-up (and before the other
        // mode's code was ever hot) paid for compilation on the gateway's cores in its latency run
        for (boolean stream : config.modes()) warmUp(stream);
        settle();
        for (boolean stream : config.modes()) {
            for (int rate : config.rates()) {
                GatewayBenchResult r = latency(rate, stream);
                out.add(r);
                if (onResult != null) onResult.accept(r);
            }
            GatewayBenchResult t = throughput(stream);
            out.add(t);
            if (onResult != null) onResult.accept(t);
        }
        return out;
    }

    /** Warms the JIT, the connections and the gateway's caches: a short closed loop on both paths. */
    private void warmUp(boolean stream) {
        long end = System.nanoTime() + config.warmup().toNanos();
        closedLoop(viaGateway, stream, Math.min(16, config.concurrency()), end);
        closedLoop(direct, stream, Math.min(16, config.concurrency()), System.nanoTime() + config.warmup().toNanos() / 2);
    }

    /** A settling slice: this long of light load on each mode, then the JIT's compile time is read again. */
    static final Duration SETTLE_SLICE = Duration.ofSeconds(1);
    /** The JIT counts as quiet when it compiled for less than this share of a slice (2%: 20 ms a second). */
    static final double QUIET_SHARE = 0.02;

    /**
     * Keeps a light load on the gateway (4 in flight, every mode in turn) until its JIT is quiet: it compiled
     * for less than {@link #QUIET_SHARE} of the last slice, or {@link GatewayBenchConfig#settleMax} passed. On a
     * gateway with 2 cores the one C2 thread can still be compiling the hot paths for tens of seconds after a
     * short warm-up (seen: 7.3 s of compile time in a 10 s latency run), and a compiler thread busy on one of
     * the two cores is what the first latency run's tail then measures. The gateway's compile time is its
     * {@code jvm_compilation_time_ms_total} from {@code /metrics}, or this JVM's when the gateway runs here;
     * when it cannot be read, nothing is waited for and that is said.
     */
    private void settle() {
        if (config.settleMax().isZero()) return;
        long t0 = System.nanoTime(), end = t0 + config.settleMax().toNanos();
        long c0 = jitMillis();
        while (true) {
            if (c0 < 0) {
                System.err.println("gateway JIT: compile time not readable (no jvm_compilation_time_ms_total in its /metrics); not settling");
                return;
            }
            long s0 = System.nanoTime();
            for (boolean stream : config.modes()) closedLoop(viaGateway, stream, Math.min(4, config.concurrency()), System.nanoTime() + SETTLE_SLICE.toNanos());
            long c1 = jitMillis(), compiled = c1 - c0;
            c0 = c1;
            if (c1 < 0) continue; // said at the top
            double sliceMs = (System.nanoTime() - s0) / 1e6;
            double waited = (System.nanoTime() - t0) / 1e9;
            if (compiled < QUIET_SHARE * sliceMs) {
                System.err.printf(java.util.Locale.ROOT, "gateway JIT: quiet after %.1f s of settling (%d ms compiled in the last %.1f s)%n", waited, compiled, sliceMs / 1000);
                return;
            }
            if (System.nanoTime() - end >= 0) {
                System.err.printf(java.util.Locale.ROOT, "gateway JIT: still compiling after %.1f s of settling (%d ms in the last %.1f s); measuring anyway%n",
                        waited, compiled, sliceMs / 1000);
                return;
            }
        }
    }

    /** The gateway's total JIT compile time in ms, or -1 when unknown. */
    long jitMillis() {
        if (gateway != null) {
            var bean = ManagementFactory.getCompilationMXBean();
            return bean != null && bean.isCompilationTimeMonitoringSupported() ? bean.getTotalCompilationTime() : -1;
        }
        try {
            AggregatedHttpResponse r = viaGateway.get("/metrics").aggregate().get(5, TimeUnit.SECONDS);
            return r.status().code() == 200 ? jitMillis(r.contentUtf8()) : -1;
        } catch (Exception e) {
            return -1;
        }
    }

    /** {@code jvm_compilation_time_ms_total} from a Prometheus text page, or -1 when absent. */
    static long jitMillis(String prometheusText) {
        String name = "jvm_compilation_time_ms_total";
        for (String line : prometheusText.split("\n")) {
            if (!line.startsWith(name)) continue;
            String rest = line.substring(name.length());
            if (rest.startsWith("{")) {
                int close = rest.indexOf('}'); // label values may hold spaces ("HotSpot 64-Bit Tiered Compilers")
                if (close < 0) return -1;
                rest = rest.substring(close + 1);
            } else if (!rest.startsWith(" ")) {
                continue; // another metric whose name starts the same
            }
            try {
                return (long) Double.parseDouble(rest.trim().split("\\s+")[0]);
            } catch (NumberFormatException e) {
                return -1;
            }
        }
        return -1;
    }

    /** Open loop at {@code rate} req/s to both targets for {@link GatewayBenchConfig#duration}. */
    private GatewayBenchResult latency(int rate, boolean stream) {
        int n = (int) Math.max(1, rate * config.duration().toMillis() / 1000);
        long[] gw = new long[n], dir = new long[n];
        Arrays.fill(gw, -1);
        Arrays.fill(dir, -1);
        AtomicInteger failed = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(2 * n);
        long interval = 1_000_000_000L / rate;
        long start = System.nanoTime() + 1_000_000;
        for (int i = 0; i < n; i++) {
            long at = start + i * interval;
            long wait;
            while ((wait = at - System.nanoTime()) > 0) LockSupport.parkNanos(wait);
            int idx = i;
            // alternate which goes first, so neither path is always second on the wire
            boolean gatewayFirst = (i & 1) == 0;
            for (int k = 0; k < 2; k++) {
                boolean toGateway = (k == 0) == gatewayFirst;
                long[] into = toGateway ? gw : dir;
                (toGateway ? viaGateway : direct).execute(request(toGateway, stream)).aggregate().handle((r, t) -> {
                    if (t == null && ok(r, stream)) {
                        into[idx] = System.nanoTime() - at;
                    } else {
                        failed.incrementAndGet();
                        failed(toGateway, r, t);
                    }
                    done.countDown();
                    return null;
                });
            }
        }
        long sendEnd = System.nanoTime();
        await(done);
        double achieved = n / ((sendEnd - start) / 1e9);
        reportFailures((stream ? "stream " : "plain ") + rate + " req/s");
        return GatewayBenchResult.latency(stream, rate, achieved, n, failed.get(), nanos(dir), nanos(gw), loadAverage());
    }

    /** Closed loop through the gateway with {@link GatewayBenchConfig#concurrency} in flight. */
    private GatewayBenchResult throughput(boolean stream) {
        long t0 = System.nanoTime();
        long end = t0 + config.throughputDuration().toNanos();
        long[] counts = closedLoop(viaGateway, stream, config.concurrency(), end);
        double secs = (System.nanoTime() - t0) / 1e9;
        return GatewayBenchResult.throughput(stream, config.concurrency(), counts[0] / secs, (int) counts[0], (int) counts[1], loadAverage());
    }

    /** Keeps {@code concurrency} requests in flight until {@code endNanos}; returns {completed, failed}. */
    private long[] closedLoop(WebClient client, boolean stream, int concurrency, long endNanos) {
        AtomicLong completed = new AtomicLong(), failed = new AtomicLong();
        CountDownLatch slots = new CountDownLatch(concurrency);
        boolean toGateway = client == viaGateway;
        for (int s = 0; s < concurrency; s++) {
            new Object() {
                void send() {
                    if (System.nanoTime() - endNanos >= 0) {
                        slots.countDown();
                        return;
                    }
                    client.execute(request(toGateway, stream)).aggregate().handle((r, t) -> {
                        if (t == null && ok(r, stream)) {
                            completed.incrementAndGet();
                        } else {
                            failed.incrementAndGet();
                            failed(toGateway, r, t);
                        }
                        send();
                        return null;
                    });
                }
            }.send();
        }
        await(slots);
        reportFailures((stream ? "stream" : "plain") + " closed loop c=" + concurrency);
        return new long[] {completed.get(), failed.get()};
    }

    private static void await(CountDownLatch l) {
        try {
            if (!l.await(5, TimeUnit.MINUTES)) throw new IllegalStateException("requests did not finish within 5 minutes");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static long[] nanos(long[] samples) {
        return Arrays.stream(samples).filter(v -> v >= 0).toArray();
    }

    static double loadAverage() {
        return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }

    @Override
    public void close() {
        if (gateway != null) gateway.close();
        if (upstream != null) upstream.stop();
        factory.close();
    }
}
