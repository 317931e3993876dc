package dev.sluice.server;

import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.server.Server;
import com.linecorp.armeria.server.ServerBuilder;
import dev.sluice.server.inference.InferenceModel;
import dev.sluice.server.openai.OpenAiService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * The worker's HTTP server: the OpenAI routes plus {@code /health/live} and
 * {@code /health/ready}. Readiness is supplied by the caller (true once the model is loaded
 * and warmed up).
 */
public final class SluiceServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SluiceServer.class);

    private final Server server;

    public SluiceServer(ServerConfig config, List<InferenceModel> models, BooleanSupplier ready) {
        this(config, models, ready, new ServerMetrics());
    }

    public SluiceServer(ServerConfig config, List<InferenceModel> models, BooleanSupplier ready, ServerMetrics metrics) {
        ServerBuilder sb = Server.builder()
                .http(new InetSocketAddress(config.host(), config.port()))
                .maxRequestLength(config.maxRequestBytes())
                .requestTimeout(config.requestTimeout())
                .gracefulShutdownTimeoutMillis(1000, 5000);
        new OpenAiService(models, metrics).register(sb);
        sb.service("/metrics", (ctx, req) -> HttpResponse.of(HttpStatus.OK, MediaType.parse("text/plain; version=0.0.4; charset=utf-8"), metrics.scrape()));
        sb.service("/health/live", (ctx, req) -> HttpResponse.of(HttpStatus.OK, MediaType.JSON_UTF_8, "{\"status\":\"live\"}"));
        sb.service("/health/ready", (ctx, req) -> {
            boolean ok = ready.getAsBoolean();
            StringBuilder body = new StringBuilder("{\"status\":\"").append(ok ? "ready" : "loading").append("\",\"models\":[");
            for (int i = 0; i < models.size(); i++) body.append(i > 0 ? "," : "").append('"').append(models.get(i).id()).append('"');
            body.append("]}");
            return HttpResponse.of(ok ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE, MediaType.JSON_UTF_8, body.toString());
        });
        this.server = sb.build();
    }

    public SluiceServer start() {
        server.start().join();
        log.info("sluice listening on http://{}:{}", server.activeLocalPort() > 0 ? hostOf() : "?", server.activeLocalPort());
        return this;
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
    }

    @Override
    public void close() {
        server.stop().join();
    }
}
