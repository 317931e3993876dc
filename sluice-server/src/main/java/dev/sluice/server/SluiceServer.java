package dev.sluice.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.server.GracefulShutdown;
import com.linecorp.armeria.server.Server;
import com.linecorp.armeria.server.ServerBuilder;
import dev.sluice.server.gateway.Gateway;
import dev.sluice.server.gateway.GatewayAssembly;
import dev.sluice.server.grpc.GrpcConfig;
import dev.sluice.server.grpc.GrpcWorker;
import dev.sluice.server.inference.EngineStats;
import dev.sluice.server.inference.InferenceModel;
import dev.sluice.server.openai.OpenAiErrors;
import dev.sluice.server.openai.OpenAiService;
import dev.sluice.server.openai.OpenAiWebSocketService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * The worker's HTTP server (and, with {@link #withGrpc}, its gRPC port): the OpenAI routes, the WebSocket endpoint {@code /v1/ws},
 * {@code /health/live}, {@code /health/ready} and {@code /metrics}. Readiness is supplied by
 * the caller (true once the model is loaded and warmed up).
 *
 * <p>Design note, shutdown: {@link #close()} first marks the service draining (new generations
 * get 503 {@code server_shutdown}, {@code /health/ready} turns 503 {@code draining}), then stops
 * Armeria, which closes the listening port at once and waits for in-flight requests. In-flight
 * generations get {@link ServerConfig#drainTimeout()} to finish; the rest are cancelled, and
 * their streams end with a {@code server_shutdown} error event, never a silent truncation.
 * WebSockets are then closed with status 1001 (going away). Idempotent and thread-safe.
 */
public final class SluiceServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SluiceServer.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** How long cancelled generations get to end their streams before the sockets are closed: 2 s (one forward step is far less). */
    static final Duration CANCEL_GRACE = Duration.ofSeconds(2);

    private final Server server;
    private final ServerConfig config;
    private final OpenAiService openai;
    private final OpenAiWebSocketService ws;
    private final GatewayAssembly assembly;
    private final ServerMetrics metrics;
    private final BooleanSupplier ready;
    private GrpcWorker grpc;
    private final AtomicBoolean closing = new AtomicBoolean();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();

    public SluiceServer(ServerConfig config, List<InferenceModel> models, BooleanSupplier ready) {
        this(config, models, ready, new ServerMetrics());
    }

    public SluiceServer(ServerConfig config, List<InferenceModel> models, BooleanSupplier ready, ServerMetrics metrics) {
        this(config, models, ready, metrics, null);
    }

    /** Builds the gateway in front of the in-process worker (roles {@code all} and {@code gateway}). */
    @FunctionalInterface
    public interface GatewayFactory {
        GatewayAssembly create(OpenAiService worker);
    }

    /**
     * @param gateway null: the worker role, the OpenAI routes served directly by the engine; else
     *                the gateway owns the OpenAI routes, with the worker behind it in-process
     */
    public SluiceServer(ServerConfig config, List<InferenceModel> models, BooleanSupplier ready, ServerMetrics metrics, GatewayFactory gateway) {
        this.config = config;
        this.metrics = metrics;
        this.ready = ready;
        Duration backstop = config.drainTimeout().plus(CANCEL_GRACE).plusSeconds(3);
        ServerBuilder sb = Server.builder()
                .http(new InetSocketAddress(config.host(), config.port()))
                .maxRequestLength(config.maxRequestBytes())
                .requestTimeout(config.requestTimeout())
                .idleTimeout(config.idleTimeout())
                .http1MaxHeaderSize(config.maxHeaderBytes())
                .http1MaxInitialLineLength(config.maxHeaderBytes())
                .http2MaxHeaderListSize(config.maxHeaderBytes())
                .errorHandler(new OpenAiErrors())
                .gracefulShutdown(GracefulShutdown.builder().quietPeriod(Duration.ofMillis(100)).timeout(backstop).build());
        openai = new OpenAiService(models, metrics, config);
        if (gateway == null) {
            assembly = null;
            openai.register(sb);
        } else {
            assembly = gateway.create(openai);
            sb.service("/tokenize", Gateway.allowedModelsOnly(openai.tokenizeRoute()));
            sb.service("/detokenize", Gateway.allowedModelsOnly(openai.detokenizeRoute()));
            assembly.customize(sb);
        }
        // in the gateway roles each socket message goes through the gateway, as an HTTP request would
        ws = new OpenAiWebSocketService(openai, config, metrics, assembly == null ? null : assembly.gateway()::serveSocketMessage);
        sb.service("/v1/ws", ws.service());
        for (InferenceModel m : models) metrics.engine(m.id(), m::stats);
        sb.service("/metrics", (ctx, req) -> HttpResponse.of(HttpStatus.OK, MediaType.parse("text/plain; version=0.0.4; charset=utf-8"), metrics.scrape()));
        sb.service("/health/live", (ctx, req) -> HttpResponse.of(HttpStatus.OK, MediaType.JSON_UTF_8, "{\"status\":\"live\"}"));
        sb.service("/health/ready", (ctx, req) -> {
            boolean ok = ready.getAsBoolean();
            String state = openai.draining() ? "draining" : ok ? "ready" : "loading";
            return HttpResponse.of(state.equals("ready") ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE, MediaType.JSON_UTF_8, readiness(state, models).toString());
        });
        this.server = sb.build();
    }

    /** The {@code /health/ready} body: overall state, and per model its state, context and engine load. */
    private static ObjectNode readiness(String state, List<InferenceModel> models) {
        ObjectNode out = JSON.createObjectNode().put("status", state);
        ArrayNode arr = out.putArray("models");
        for (InferenceModel m : models) {
            EngineStats s = m.stats();
            ObjectNode o = arr.addObject().put("id", m.id()).put("state", state).put("context_length", m.contextLength())
                    .put("waiting", s.waiting()).put("running", s.running()).put("preemptions", s.preemptions());
            o.putObject("kv_cache").put("used_tokens", s.kvUsedTokens()).put("capacity_tokens", s.kvCapacityTokens())
                    .put("usage", Math.round(s.kvUsage() * 10000) / 10000.0);
        }
        return out;
    }

    /**
     * Also serves this worker's models over gRPC ({@code sluice.v1.Inference} and health) on
     * {@code port} of the same host (0: a free one), TLS as {@code grpc} says; call before {@link #start()}.
     */
    public SluiceServer withGrpc(GrpcConfig grpc, int port) {
        return withGrpc(grpc, config.host(), port);
    }

    /** As {@link #withGrpc(GrpcConfig, int)}, bound to {@code host} (e.g. the HTTP port on loopback, gRPC on the network with mTLS). */
    public SluiceServer withGrpc(GrpcConfig grpc, String host, int port) {
        this.grpc = new GrpcWorker(grpc, config.withHost(host), port, openai, metrics, ready);
        return this;
    }

    public SluiceServer start() {
        server.start().join();
        log.info("sluice listening on http://{}:{}", hostOf(), server.activeLocalPort());
        if (grpc != null) {
            try {
                grpc.start();
            } catch (RuntimeException e) {
                server.stop().join();
                throw e;
            }
        }
        return this;
    }

    /** The gRPC port, or -1 when gRPC is not served. */
    public int grpcPort() {
        return grpc == null ? -1 : grpc.port();
    }

    private String hostOf() {
        return server.activePorts().values().iterator().next().localAddress().getHostString();
    }

    public int port() {
        return server.activeLocalPort();
    }

    /** Blocks until the server stops. */
    public void awaitTermination() {
        server.whenClosed().join();
        closed.join();
    }

    /** Generations in flight now (HTTP and WebSocket). */
    public int inFlight() {
        return openai.inFlight();
    }

    /** True once {@link #close()} has begun: new generations are refused. */
    public boolean draining() {
        return openai.draining();
    }

    /** Graceful shutdown; see the class note. Blocks until the server has stopped. */
    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            closed.join();
            return;
        }
        try {
            openai.startDraining();
            CompletableFuture<Void> stopped = server.stop();
            CompletableFuture<Void> grpcStopped = grpc == null ? CompletableFuture.completedFuture(null) : grpc.stop();
            long drainEnd = System.nanoTime() + config.drainTimeout().toNanos();
            if (openai.inFlight() > 0) log.info("draining {} in-flight generation(s), up to {} s", openai.inFlight(), config.drainTimeout().toSeconds());
            waitUntilIdle(drainEnd);
            if (openai.inFlight() > 0) {
                log.warn("drain timeout: cancelling {} generation(s)", openai.inFlight());
                openai.cancelAll();
                waitUntilIdle(System.nanoTime() + CANCEL_GRACE.toNanos());
            }
            ws.closeAll();
            // bounded: a stop that never completes (seen once: a gateway whose event loops were gone before its stop future
            // completed) must not keep the process from exiting on SIGTERM
            Duration bound = config.drainTimeout().plus(CANCEL_GRACE).plusSeconds(10);
            awaitBounded(stopped, bound, "the HTTP server");
            awaitBounded(grpcStopped, bound, "the gRPC server");
            if (assembly != null) assembly.close();
            metrics.close();
        } finally {
            closed.complete(null);
        }
    }

    private static void awaitBounded(CompletableFuture<Void> f, Duration bound, String what) {
        try {
            f.get(bound.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            log.warn("shutdown: {} did not stop within {} s; going on", what, bound.toSeconds());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException e) {
            log.warn("shutdown: stopping {} failed: {}", what, e.getCause().toString());
        }
    }

    private void waitUntilIdle(long endNanos) {
        while (openai.inFlight() > 0 && System.nanoTime() < endNanos) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
