package dev.sluice.server.gateway;

import com.linecorp.armeria.server.ServerBuilder;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.auth.AuthDecorator;
import dev.sluice.server.gateway.auth.Authenticator;
import dev.sluice.server.gateway.auth.IdentityAdmin;
import dev.sluice.server.gateway.limits.Limits;
import dev.sluice.server.redis.Redis;
import dev.sluice.server.gateway.route.RegistryRouter;
import dev.sluice.server.gateway.upstream.Backends;
import dev.sluice.server.grpc.GrpcBackend;
import dev.sluice.server.grpc.GrpcConfig;
import dev.sluice.server.gateway.route.RoutingAdmin;
import dev.sluice.server.gateway.route.RoutingConfig;
import dev.sluice.server.store.LazyStore;
import dev.sluice.server.gateway.cache.CacheConfig;
import dev.sluice.server.gateway.cache.CacheStage;
import dev.sluice.server.gateway.cache.StoredCompletions;
import dev.sluice.server.gateway.cache.StoredCompletionsRoutes;
import dev.sluice.server.gateway.cache.StoredCompletionsStage;
import dev.sluice.server.openai.OpenAiService;
import dev.sluice.server.redis.Redis;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;

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

    /** Builds the gateway with authentication as configured (no {@code --no-auth}) and no config file. */
    public static GatewayAssembly build(SluiceConfig config, ServerConfig server, ServerMetrics metrics, OpenAiService worker) {
        return build(config, null, server, metrics, worker, false);
    }

    /** Builds the gateway with authentication as configured (no {@code --no-auth}). */
    public static GatewayAssembly build(SluiceConfig config, Path configFile, ServerConfig server, ServerMetrics metrics, OpenAiService worker) {
        return build(config, configFile, server, metrics, worker, false);
    }

    /**
     * Builds the gateway.
     *
     * @param configFile the file {@code config} was read from (the routing admin API reloads it), or null
     * @param worker     the in-process worker (role {@code all}), or null (role {@code gateway})
     * @param noAuth     {@code sluice serve --no-auth}: serve everyone anonymously, on any address
     */
    public static GatewayAssembly build(SluiceConfig config, Path configFile, ServerConfig server, ServerMetrics metrics, OpenAiService worker,
                                        boolean noAuth) {
        List<Consumer<ServerBuilder>> customizers = new ArrayList<>();
        List<AutoCloseable> resources = new ArrayList<>();
        List<GatewayStage> stages = new ArrayList<>();
        try {
            // the one store of every concern, opened on first use, closed last (store.get() from your concern)
            LazyStore store = new LazyStore(config.store());
            resources.add(store);
            // identity (docs/auth.md): deny-by-default decorator on every route, and the admin API's
            // tenants/projects/users/keys; other concerns add admin routes under AdminRoutes.PREFIX
            // (AdminRoutes.json(...)) in a customizer; the decorator lets only admins reach /admin/*
            Authenticator auth = Authenticator.start(config.auth(), store, server.host(), noAuth);
            customizers.add(sb -> sb.decorator(new AuthDecorator(auth)));
            customizers.add(new IdentityAdmin(auth)::register);
            Router router = router(config.routing(), config.grpc(), configFile, metrics, worker, customizers, resources);
            // one Redis client for every concern (limits, cache), when redis.uri is set; it connects on first use
            Redis redis = config.redis().enabled() ? new Redis(config.redis()) : null;
            if (redis != null) resources.add(redis);
            // stages, in DESIGN.md's order: admission first (rate limits, budgets, usage records: docs/limits.md),
            // closed (usage queue drained) after the server has stopped and before Redis and the store
            if (config.limits().enabled()) {
                Limits limits = Limits.open(config.limits(), redis, store, metrics.registry());
                resources.add(limits);
                stages.add(limits.stage());
                customizers.add(limits::register);
            }
            // response cache and stored completions (docs/cache.md). Stored completions see what the client
            // gets (cached or not), so they sit just before the cache.
            CacheConfig cache = config.cache();
            if (cache.storedCompletions().enabled()) {
                StoredCompletions stored = new StoredCompletions(store, metrics.registry(), cache.storedCompletions());
                resources.add(stored); // closed (drained) before the store
                stages.add(new StoredCompletionsStage(stored));
                customizers.add(sb -> new StoredCompletionsRoutes(stored).register(sb));
            }
            CacheStage cacheStage = new CacheStage(cache, redis, metrics.registry());
            resources.add(cacheStage);
            stages.add(cacheStage);
            return new GatewayAssembly(new Gateway(router, stages, server), customizers, resources);
        } catch (RuntimeException e) {
            closeAll(resources);
            throw e;
        }
    }

    /**
     * The router: with no {@code routing:} section, each in-process model under its own id ({@link LocalRouter}, as
     * {@code sluice serve} always did); else the model registry ({@link RegistryRouter}) with its admin API under
     * {@code /admin/v1/routing}, reloading from {@code configFile}.
     */
    private static Router router(RoutingConfig routing, GrpcConfig grpc, Path configFile, ServerMetrics metrics, OpenAiService worker,
                                 List<Consumer<ServerBuilder>> customizers, List<AutoCloseable> resources) {
        if (routing.isEmpty()) {
            if (worker == null) throw new IllegalArgumentException("the gateway role needs routing config with at least one backend");
            return new LocalRouter(worker);
        }
        if (worker == null && routing.models().isEmpty()) {
            throw new IllegalArgumentException("routing.models: the gateway role needs at least one model (there is no in-process engine to serve)");
        }
        Supplier<RoutingConfig> source = configFile == null ? null : () -> SluiceConfig.load(configFile).routing();
        RegistryRouter registry = new RegistryRouter(routing, worker, backends(worker, grpc, metrics), metrics.registry(), Ticker.systemTicker(), source);
        resources.add(registry);
        registry.startTicking();
        if (routing.watch()) {
            if (configFile == null) throw new IllegalArgumentException("routing.watch: there is no config file to watch");
            registry.watch(configFile, RoutingConfig.WATCH_INTERVAL);
        }
        RoutingAdmin admin = new RoutingAdmin(registry);
        customizers.add(admin::register);
        return registry;
    }

    /** The routing backends: the in-process engine ({@code local}), HTTP upstreams ({@code openai}) and remote workers ({@code grpc}, mTLS from the grpc section). */
    private static RegistryRouter.BackendFactory backends(OpenAiService worker, GrpcConfig grpc, ServerMetrics metrics) {
        Backends.Context context = Backends.Context.of(worker).withGrpc((name, bc) -> GrpcBackend.create(name, bc, grpc, metrics.registry()))
                .withMetrics(metrics.registry());
        return (name, bc) -> Backends.create(name, bc, context);
    }

    /** An assembly of just {@code gateway}, nothing else to open or close: for tests of the pipeline itself. */
    public static GatewayAssembly forTest(Gateway gateway) {
        return new GatewayAssembly(gateway, List.of(), List.of());
    }

    /** An assembly of {@code gateway} with extra routes or decorators, closing {@code resources} (in reverse order): for tests. */
    public static GatewayAssembly forTest(Gateway gateway, List<Consumer<ServerBuilder>> customizers, List<AutoCloseable> resources) {
        return new GatewayAssembly(gateway, customizers, resources);
    }

    /** This assembly plus {@code customizer} (e.g. a test decorator that sets the {@link Principal}), applied after the others. */
    public GatewayAssembly with(Consumer<ServerBuilder> customizer) {
        List<Consumer<ServerBuilder>> c = new ArrayList<>(customizers);
        c.add(customizer);
        return new GatewayAssembly(gateway, c, resources);
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
