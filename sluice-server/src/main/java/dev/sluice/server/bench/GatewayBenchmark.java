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
        for (boolean stream : config.modes()) {
            warmUp(stream);
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
