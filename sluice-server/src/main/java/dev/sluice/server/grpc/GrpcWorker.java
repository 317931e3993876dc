package dev.sluice.server.grpc;

import com.linecorp.armeria.server.GracefulShutdown;
import com.linecorp.armeria.server.Server;
import com.linecorp.armeria.server.ServerBuilder;
import com.linecorp.armeria.server.grpc.GrpcHealthCheckService;
import com.linecorp.armeria.server.grpc.GrpcService;
import com.linecorp.armeria.common.CommonPools;
import com.linecorp.armeria.common.util.AbstractListenable;
import com.linecorp.armeria.server.healthcheck.HealthChecker;
import com.linecorp.armeria.server.healthcheck.ListenableHealthChecker;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.grpc.proto.InferenceGrpc;
import dev.sluice.server.openai.OpenAiService;
import io.netty.handler.ssl.ClientAuth;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The worker's gRPC port: {@code sluice.v1.Inference}, the standard {@code grpc.health.v1.Health}
 * service (SERVING once the model is ready, NOT_SERVING while loading or draining), on a port of its own so that it can require client certificates
 * while the HTTP port stays as it is.
 *
 * <p>Design note, TLS: with {@code grpc.server.cert/key} the port speaks TLS only; with
 * {@code grpc.server.ca} as well, the TLS handshake requires a client certificate signed by that
 * CA ({@link ClientAuth#REQUIRE}), so a client without one, or with one from another CA, never
 * reaches a service. Without certificates the port is plaintext (a warning is logged): the
 * gateway refuses such a worker unless {@code grpc.allowPlaintext} is set.
 */
public final class GrpcWorker {
    private static final Logger log = LoggerFactory.getLogger(GrpcWorker.class);
    /** The worker's gRPC port by default ({@code sluice serve --role worker}): gRPC's customary port. */
    public static final int DEFAULT_PORT = 50051;
    /** How often readiness is re-read for health Watch calls: 250 ms (cheap; a watcher sees a change this soon). Check reads it live. */
    static final Duration HEALTH_POLL = Duration.ofMillis(250);

    private final Server server;
    private final GrpcConfig grpc;
    private final Readiness health;
    private volatile ScheduledFuture<?> poll;

    public GrpcWorker(GrpcConfig grpc, ServerConfig config, int port, OpenAiService openai, ServerMetrics metrics, BooleanSupplier ready) {
        this.grpc = grpc;
        InetSocketAddress addr = new InetSocketAddress(config.host(), port);
        ServerBuilder sb = Server.builder()
                .requestTimeout(config.requestTimeout())
                .idleTimeout(config.idleTimeout())
                .http2MaxHeaderListSize(config.maxHeaderBytes())
                .maxRequestLength(config.maxRequestBytes())
                .gracefulShutdown(GracefulShutdown.builder().quietPeriod(Duration.ofMillis(100)).timeout(config.drainTimeout().plusSeconds(5)).build());
        if (grpc.serverTls()) {
            GrpcConfig.Tls tls = grpc.server();
            sb.https(addr).tls(tls.cert().toFile(), tls.key().toFile());
            if (grpc.serverMtls()) sb.tlsCustomizer(b -> b.trustManager(tls.ca().toFile()).clientAuth(ClientAuth.REQUIRE));
        } else {
            sb.http(addr);
        }
        health = new Readiness(() -> ready.getAsBoolean() && !openai.draining());
        sb.service(GrpcService.builder()
                .addService(new InferenceService(openai, config, metrics))
                .addService(GrpcHealthCheckService.builder().checkers(health)
                        .serviceCheckers(InferenceGrpc.SERVICE_NAME, health).build())
                .maxRequestMessageLength((int) Math.min(Integer.MAX_VALUE, config.maxRequestBytes()))
                .build());
        this.server = sb.build();
    }

    public GrpcWorker start() {
        server.start().join();
        poll = CommonPools.blockingTaskExecutor().scheduleWithFixedDelay(health::poll, 0, HEALTH_POLL.toMillis(), TimeUnit.MILLISECONDS);
        String mode = grpc.serverMtls() ? "TLS, client certificates required (mTLS)" : grpc.serverTls() ? "TLS" : "plaintext";
        if (!grpc.serverTls()) log.warn("gRPC port {} is plaintext: configure grpc.server.cert/key/ca for mTLS (sluice certs makes development ones)", port());
        log.info("sluice gRPC (sluice.v1.Inference, grpc.health.v1) listening on {}:{} ({})",
                server.activePorts().values().iterator().next().localAddress().getHostString(), port(), mode);
        return this;
    }

    public int port() {
        return server.activeLocalPort();
    }

    /** Stops accepting calls and waits for the ones in flight (the caller drains and cancels the runs). */
    public CompletableFuture<Void> stop() {
        ScheduledFuture<?> p = poll;
        if (p != null) p.cancel(false);
        health.poll(); // draining: Watch calls see NOT_SERVING now
        return server.stop();
    }

    /** Readiness read live by Check; Watch listeners are told of changes by {@link #poll}. */
    static final class Readiness extends AbstractListenable<HealthChecker> implements ListenableHealthChecker {
        private final BooleanSupplier ready;
        private volatile boolean last;

        Readiness(BooleanSupplier ready) {
            this.ready = ready;
        }

        @Override
        public boolean isHealthy() {
            return ready.getAsBoolean();
        }

        void poll() {
            boolean now = isHealthy();
            if (now != last) {
                last = now;
                notifyListeners(this);
            }
        }

        @Override
        protected HealthChecker latestValue() {
            return this;
        }
    }
}
