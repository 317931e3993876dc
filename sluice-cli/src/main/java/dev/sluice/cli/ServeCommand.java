package dev.sluice.cli;

import dev.sluice.engine.LoadedModel;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.config.ConfigException;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.GatewayAssembly;
import dev.sluice.server.grpc.GrpcWorker;
import dev.sluice.server.gateway.auth.Authenticator;
import dev.sluice.server.store.LazyStore;
import dev.sluice.server.store.StoreException;
import dev.sluice.engine.scheduler.SchedulerConfig;
import dev.sluice.server.inference.EngineInferenceModel;
import dev.sluice.server.inference.SchedulerLane;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code sluice serve}: the OpenAI-compatible server on the in-process engine. With no
 * {@code --model} it serves the built-in {@code demo} model. Binds to loopback by default.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve a model over the OpenAI API (HTTP, SSE) with Prometheus metrics.",
                "Without --model, serves the built-in demo model."})
public final class ServeCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.ParentCommand
    Main main;

    @Mixin
    ModelOptions model;

    @Option(names = "--served-model-name", paramLabel = "NAME", description = "Model id in the API (default: the file name, or demo).")
    String servedName;

    @Option(names = "--host", paramLabel = "ADDR", defaultValue = ServerConfig.DEFAULT_HOST, description = "Address to bind (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = {"-p", "--port"}, paramLabel = "PORT", defaultValue = "" + ServerConfig.DEFAULT_PORT, description = "Port (default: ${DEFAULT-VALUE}; 0 picks a free one).")
    int port;

    @Option(names = "--max-waiting", paramLabel = "N", defaultValue = "" + EngineInferenceModel.DEFAULT_MAX_WAITING,
            description = "Requests that may wait for the engine; more get 503 with Retry-After (default: ${DEFAULT-VALUE}).")
    int maxWaiting;

    @Option(names = "--max-tokens-cap", paramLabel = "N", defaultValue = "" + ServerConfig.DEFAULT_MAX_TOKENS_CAP,
            description = "Largest max_tokens a request may ask for; more gets 400 (default: ${DEFAULT-VALUE}).")
    int maxTokensCap;

    @Option(names = "--drain-timeout", paramLabel = "SECONDS", defaultValue = "" + ServerConfig.DEFAULT_DRAIN_TIMEOUT_SECONDS,
            description = "On shutdown, how long in-flight generations may finish before they are cancelled (default: ${DEFAULT-VALUE}).")
    long drainSeconds;

    @Option(names = "--max-running", paramLabel = "N", defaultValue = "" + SchedulerConfig.DEFAULT_MAX_RUNNING,
            description = "Sequences decoded together in one batched step (default: ${DEFAULT-VALUE}).")
    int maxRunning;

    @Option(names = "--kv-cache-mib", paramLabel = "MIB", defaultValue = "" + (SchedulerConfig.DEFAULT_KV_CACHE_BYTES >> 20),
            description = "Memory for the paged KV cache; when it runs out the newest lowest-priority sequence is preempted and recomputed later (default: ${DEFAULT-VALUE}).")
    long kvCacheMib;

    @Option(names = "--step-tokens", paramLabel = "N", defaultValue = "" + SchedulerConfig.DEFAULT_STEP_TOKEN_BUDGET,
            description = "Token budget of one scheduler step: decode tokens first, then chunked prefill (default: ${DEFAULT-VALUE}).")
    int stepTokens;

    @Option(names = "--batch-invariant", negatable = true, defaultValue = "" + SchedulerConfig.DEFAULT_BATCH_INVARIANT, fallbackValue = "true",
            description = "Make a request's output independent of what it is batched with (a lone request runs the padded batched matmul, slower); --no-batch-invariant for the fastest single-request decode (default: ${DEFAULT-VALUE}).")
    boolean batchInvariant;

    @Mixin
    GenerateCommand.RuntimeOptions runtime;

    /** What this process runs. */
    enum Role { all, gateway, worker }

    @Option(names = "--role", paramLabel = "ROLE", defaultValue = "all",
            description = {"all: gateway and engine in one process (default); gateway: the gateway only, routing to the backends of --config; "
                    + "worker: the engine only, its OpenAI routes served directly."})
    Role role;

    @Option(names = "--config", paramLabel = "FILE", description = "YAML config: store, redis, auth, limits, cache, routing, grpc (default: embedded defaults).")
    Path configFile;

    @Option(names = "--grpc-port", paramLabel = "PORT",
            description = {"gRPC port of the worker (sluice.v1.Inference and grpc.health.v1; TLS/mTLS from the config's grpc: section). "
                    + "Default: " + GrpcWorker.DEFAULT_PORT + " for --role worker, off for --role all; 0 picks a free one; -1 turns it off. See docs/grpc.md."})
    Integer grpcPort;

    @Option(names = "--grpc-host", paramLabel = "ADDR", description = "Address the gRPC port binds to (default: --host). Off loopback it needs mTLS (grpc.server.ca) or --no-auth.")
    String grpcHost;

    @Option(names = "--no-auth", description = {"Serve without authentication on any address: everyone may use every model, the admin API and /metrics. "
            + "Without it, a server with no credentials configured (no API keys in the store, no auth.jwt) binds to loopback only; see docs/auth.md."})
    boolean noAuth;

    @Override
    public Integer call() {
        if (maxWaiting < 1) throw new CommandLine.ParameterException(spec.commandLine(), "--max-waiting must be >= 1, got " + maxWaiting);
        ServerConfig config;
        try {
            config = ServerConfig.defaults().withHost(host).withPort(port).withMaxTokensCap(maxTokensCap)
                    .withDrainTimeout(java.time.Duration.ofSeconds(drainSeconds));
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        SchedulerConfig scheduler;
        try {
            if (kvCacheMib < 1 || kvCacheMib > (1L << 30)) throw new IllegalArgumentException("--kv-cache-mib must be in [1, 2^30], got " + kvCacheMib);
            scheduler = SchedulerConfig.defaults().withMaxWaiting(maxWaiting).withMaxRunning(maxRunning)
                    .withKvCacheBytes(kvCacheMib << 20).withStepTokenBudget(stepTokens).withBatchInvariant(batchInvariant);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        SluiceConfig file;
        try {
            file = configFile == null ? SluiceConfig.defaults() : SluiceConfig.load(configFile);
        } catch (ConfigException e) {
            throw new CliException(e.getMessage());
        }
        checkPortFree(host, port); // before loading the model, so a busy port fails fast
        if (role == Role.worker && !noAuth && !Authenticator.isLoopback(host)) {
            // the worker role has no authentication of its own: it belongs behind a gateway
            throw new CliException("refusing to serve the worker role on " + host + " without authentication: the worker role has no auth of its own; "
                    + "bind to loopback, put a gateway in front, or pass --no-auth");
        }
        if (role != Role.worker && !noAuth && !Authenticator.isLoopback(host) && !file.auth().configuredCredentials()
                && !new LazyStore(file.store()).mayHoldData()) {
            // the common refusal, before a model loads (the gateway makes the full check, keys in the store included)
            throw new CliException("refusing to serve on " + host + " without authentication: no API keys exist and no auth.jwt or auth.adminKeySha256 "
                    + "is configured. Create a key first (sluice keys create --tenant default --admin), configure JWT, bind to loopback "
                    + "(--host 127.0.0.1), or pass --no-auth to serve without authentication");
        }
        if (role == Role.worker && noAuth && !Authenticator.isLoopback(host)) {
            log.warn("*** AUTHENTICATION IS OFF (--no-auth, worker role): anyone who can reach {} may use every model and /metrics ***", host);
        }
        if (role == Role.gateway) {
            if (grpcPort != null && grpcPort >= 0) throw new CommandLine.ParameterException(spec.commandLine(), "--grpc-port serves a worker's engine; --role gateway has none");
            return serveGateway(config, file);
        }
        int grpcAt = grpcPort != null ? grpcPort : role == Role.worker ? GrpcWorker.DEFAULT_PORT : -1;
        String grpcBind = grpcHost != null ? grpcHost : host;
        if (grpcAt < -1 || grpcAt > 65535) throw new CommandLine.ParameterException(spec.commandLine(), "--grpc-port must be in [-1, 65535], got " + grpcAt);
        if (grpcAt >= 0) {
            if (grpcAt == port && grpcBind.equals(host) && port != 0) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--grpc-port " + grpcAt + " is the HTTP port; gRPC needs a port of its own");
            }
            if (!noAuth && !Authenticator.isLoopback(grpcBind) && !file.grpc().serverMtls()) {
                throw new CliException("refusing to serve gRPC on " + grpcBind + " without client certificates: configure grpc.server.cert, key and ca "
                        + "(mTLS; sluice certs makes development ones), bind it to loopback (--grpc-host 127.0.0.1), or pass --no-auth");
            }
            checkPortFree(grpcBind, grpcAt);
        }
        Path path = model.resolve(main.env(), spec.commandLine().getErr());
        String id = servedName;
        if (model.model == null) {
            if (id == null) id = DemoModel.ID;
            log.info("serving the built-in demo model; to serve a real one: sluice serve --model PATH.gguf (or hf:ORG/REPO[:FILE])");
        }
        LoadedModel loaded = Models.load(path, runtime.contextSize, runtime.threads);
        if (id == null) id = loaded.name();
        EngineInferenceModel engine = new EngineInferenceModel(id, loaded, new SchedulerLane(loaded, scheduler));
        AtomicBoolean ready = new AtomicBoolean();
        ServerMetrics metrics = new ServerMetrics();
        SluiceServer server;
        try {
            SluiceServer.GatewayFactory gateway = role == Role.worker ? null : worker -> GatewayAssembly.build(file, configFile, config, metrics, worker, noAuth);
            server = new SluiceServer(config, List.of(engine), ready::get, metrics, gateway);
            if (grpcAt >= 0) server.withGrpc(file.grpc(), grpcBind, grpcAt);
            server.start();
        } catch (ConfigException | StoreException e) {
            engine.close();
            throw new CliException(e.getMessage());
        } catch (RuntimeException e) {
            engine.close();
            throw new CliException("cannot listen on " + host + ":" + port + ": " + rootMessage(e) + "; choose another with --port/--host");
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            engine.close();
        }, "sluice-shutdown"));
        Thread.ofPlatform().name("sluice-warmup").start(() -> {
            engine.warmUp();
            ready.set(true);
            log.info("model '{}' ready: http://{}:{}/v1 (OpenAI API), /health/ready, /metrics{}", engine.id(), host, server.port(),
                    server.grpcPort() < 0 ? "" : "; gRPC " + grpcBind + ":" + server.grpcPort());
        });
        server.awaitTermination();
        return 0;
    }

    /** {@code --role gateway}: no engine here; every model is routed to the backends the config names. */
    private int serveGateway(ServerConfig config, SluiceConfig file) {
        ServerMetrics metrics = new ServerMetrics();
        SluiceServer server;
        try {
            server = new SluiceServer(config, List.of(), () -> true, metrics, worker -> GatewayAssembly.build(file, configFile, config, metrics, null, noAuth)).start();
        } catch (ConfigException | StoreException | IllegalArgumentException e) {
            throw new CliException(e.getMessage());
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "sluice-shutdown"));
        log.info("gateway ready: http://{}:{}/v1", host, server.port());
        server.awaitTermination();
        return 0;
    }

    /** Fails with a clear message when {@code host:port} cannot be bound (in use, or not a local address). */
    static void checkPortFree(String host, int port) {
        if (port == 0) return;
        try (java.net.ServerSocket s = new java.net.ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new java.net.InetSocketAddress(host, port));
        } catch (java.io.IOException e) {
            throw new CliException("cannot listen on " + host + ":" + port + ": " + e.getMessage() + "; choose another with --port/--host");
        }
    }

    private static String rootMessage(Throwable e) {
        while (e.getCause() != null) e = e.getCause();
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
}
