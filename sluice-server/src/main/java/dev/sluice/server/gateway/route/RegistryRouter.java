package dev.sluice.server.gateway.route;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Ticker;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.SplitHttpResponse;
import com.linecorp.armeria.common.stream.AbortedStreamException;
import com.linecorp.armeria.common.stream.CancelledSubscriptionException;
import com.linecorp.armeria.common.stream.ClosedStreamException;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.gateway.Backend;
import dev.sluice.server.gateway.GatewayRequest;
import dev.sluice.server.gateway.LocalBackend;
import dev.sluice.server.gateway.Principal;
import dev.sluice.server.gateway.ResponseTap;
import dev.sluice.server.gateway.Router;
import dev.sluice.server.gateway.upstream.BackendConfig;
import dev.sluice.server.inference.InferenceModel;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.util.AttributeKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * The model registry: public aliases to versions to backends (issue 5). Versions share traffic by weight,
 * sticky per caller, or are pinned with the {@value #VERSION_HEADER} header; a failure before the first byte
 * goes to the model's fallbacks in order; an overloaded model degrades to its {@code degradeTo} chain or sheds
 * with 503, lowest priority first; a {@link CanaryController} per model with a canary policy moves its weights;
 * the admin API ({@link RoutingAdmin}) reads and sets them and reloads the config.
 *
 * <p>Design note, concurrency: the routing state is one immutable {@link RouteTable} in an
 * {@link AtomicReference}; {@link #resolve} reads it once and keeps it, with the chosen version and backend, on
 * the request context, so {@link #dispatch} (and every fallback) uses the same snapshot even if a reload swaps
 * the table in between, and a retired table's backends are closed only after its last request ended. Weights
 * are the only mutable routing state (see {@link ModelRoute}). The per-model load used for overload decisions
 * ({@link ModelLoad}) lives outside the table, keyed by alias, so it survives reloads. Outcomes are observed with
 * {@link ResponseTap} per attempt and fed to the version's {@link OutcomeWindow} and to Micrometer. Time comes
 * from the injected {@link Ticker}: tests drive canaries without real minutes.
 */
public final class RegistryRouter implements Router, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RegistryRouter.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Request header that pins a model version. */
    public static final String VERSION_HEADER = "model-version";
    /** Request header with the request's priority: {@code high}, {@code normal} (default) or {@code low}. */
    public static final String PRIORITY_HEADER = "x-sluice-priority";
    /** Response header naming the public model that served the request (differs from the request's after degrade or fallback). */
    public static final String SERVED_MODEL_HEADER = "x-sluice-model";
    /** Response header naming the version that served the request. */
    public static final String SERVED_VERSION_HEADER = "x-sluice-version";
    /** Version name of the implicit models (each in-process model under its own id, when routing names no models). */
    public static final String IMPLICIT_VERSION = "default";
    /** How often the canary controllers are evaluated: every second (far below any sensible canary interval). */
    public static final Duration TICK = Duration.ofSeconds(1);

    private static final AttributeKey<Resolution> RESOLUTION = AttributeKey.valueOf(RegistryRouter.class, "resolution");

    /** Builds a backend from its config ({@code upstream.Backends.create} in the server: local, openai, grpc). */
    @FunctionalInterface
    public interface BackendFactory {
        Backend create(String name, BackendConfig config);
    }

    /** What {@link #resolve} decided for one request. */
    private record Resolution(RouteTable table, ModelRoute model, ModelRoute.VersionRoute version, String stickyKey) {}

    private final OpenAiService worker;
    private final BackendFactory factory;
    private final MeterRegistry metrics;
    private final Ticker ticker;
    private final Supplier<RoutingConfig> source;
    private final AtomicReference<RouteTable> table = new AtomicReference<>();
    private final Map<String, ModelLoad> loads = new ConcurrentHashMap<>();
    /** Resolutions by request (identity), for {@link #countPromptTokens}, which gets no context; removed when the request ends. */
    private final Map<GatewayRequest, Resolution> pending = new ConcurrentHashMap<>();
    private final long created = System.currentTimeMillis() / 1000;
    private ScheduledExecutorService ticks;

    /**
     * @param config  the routing section (validated)
     * @param worker  the in-process worker (role {@code all}: its models are served under their own ids when routing names
     *                no models), or null (role {@code gateway})
     * @param factory builds the backends
     * @param metrics where the {@code sluice_route_*} meters go
     * @param ticker  time source of canary windows, latencies and request rates
     * @param source  re-reads the routing section for {@link #reload()} (e.g. from the config file), or null when there is no file
     */
    public RegistryRouter(RoutingConfig config, OpenAiService worker, BackendFactory factory, MeterRegistry metrics, Ticker ticker,
                          Supplier<RoutingConfig> source) {
        this.worker = worker;
        this.factory = Objects.requireNonNull(factory);
        this.metrics = metrics;
        this.ticker = ticker;
        this.source = source;
        RouteTable t = build(config, null);
        table.set(t);
        registerGauges(t);
        log.info("routing: {} model(s) {}, {} backend(s) {}", t.models.size(), t.models.keySet(), t.backends.size(), t.backends.keySet());
    }

    /** Starts evaluating the canary controllers every {@link #TICK}. */
    public RegistryRouter startTicking() {
        ScheduledExecutorService s = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon().name("sluice-route-canary").unstarted(r));
        s.scheduleWithFixedDelay(() -> {
            try {
                tick();
            } catch (RuntimeException e) {
                log.warn("canary tick failed", e);
            }
        }, TICK.toMillis(), TICK.toMillis(), TimeUnit.MILLISECONDS);
        ticks = s;
        return this;
    }

    /**
     * Reloads when {@code file}'s content changes, checking every {@code every} (after {@link #startTicking}); a change
     * that does not validate is logged and the current table stays, as with {@link #reload()}.
     */
    public void watch(Path file, Duration every) {
        if (ticks == null) throw new IllegalStateException("startTicking() first");
        AtomicReference<byte[]> last = new AtomicReference<>(digest(file));
        ticks.scheduleWithFixedDelay(() -> {
            byte[] now = digest(file);
            if (now == null || java.util.Arrays.equals(now, last.get())) return;
            last.set(now);
            log.info("routing: {} changed, reloading", file);
            try {
                reload();
            } catch (RuntimeException e) {
                log.warn("routing: {} changed but was not applied: {}", file, e.getMessage());
            }
        }, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
        log.info("routing: watching {} for changes every {} ms", file, every.toMillis());
    }

    private static byte[] digest(Path file) {
        try {
            return java.security.MessageDigest.getInstance("SHA-256").digest(java.nio.file.Files.readAllBytes(file));
        } catch (java.io.IOException | java.security.NoSuchAlgorithmException e) {
            return null; // unreadable for a moment (an editor replacing it): try again next time
        }
    }

    /** Evaluates every canary controller of the current table once. */
    public void tick() {
        for (ModelRoute m : table.get().models.values()) {
            CanaryController c = m.canary;
            if (c != null) c.tick();
        }
    }

    // ---- building a table ----

    private RouteTable build(RoutingConfig config, RouteTable previous) {
        Map<String, BackendConfig> backendConfigs = new LinkedHashMap<>(config.backends());
        Map<String, RoutingConfig.ModelConfig> modelConfigs = new LinkedHashMap<>(config.models());
        if (modelConfigs.isEmpty() && worker != null) {
            // no models named: each in-process model under its own id, as without routing config (overload still applies)
            String local = backendConfigs.containsKey("local") ? "sluice-local" : "local";
            backendConfigs.put(local, new BackendConfig("local", null, null, null));
            for (InferenceModel m : worker.models()) {
                modelConfigs.put(m.id(), new RoutingConfig.ModelConfig(
                        Map.of(IMPLICIT_VERSION, new RoutingConfig.Version(local, 100, m.id())), null, null, null));
            }
        }
        Map<String, Backend> backends = new LinkedHashMap<>();
        List<Backend> created = new ArrayList<>();
        try {
            for (Map.Entry<String, BackendConfig> e : backendConfigs.entrySet()) {
                String name = e.getKey();
                BackendConfig bc = e.getValue();
                Backend reuse = previous != null && bc.equals(previous.backendConfigs.get(name)) ? previous.backends.get(name) : null;
                Backend b = reuse != null ? reuse : create(name, bc);
                if (reuse == null) created.add(b);
                backends.put(name, b);
            }
            Map<String, ModelRoute> models = new LinkedHashMap<>();
            for (Map.Entry<String, RoutingConfig.ModelConfig> e : modelConfigs.entrySet()) {
                List<ModelRoute.VersionRoute> versions = new ArrayList<>();
                for (Map.Entry<String, RoutingConfig.Version> v : e.getValue().versions().entrySet()) {
                    String at = "routing.models." + e.getKey() + ".versions." + v.getKey();
                    String bName = v.getValue().backend();
                    Backend b = backends.get(bName);
                    BackendConfig bc = backendConfigs.get(bName);
                    String upstream = v.getValue().model() != null ? v.getValue().model() : bc.model();
                    if (b instanceof LocalBackend lb) {
                        if (upstream == null) upstream = worker.models().size() == 1 ? worker.models().iterator().next().id() : e.getKey();
                        if (lb.model(upstream) == null) {
                            throw new IllegalArgumentException(at + ": the in-process engine has no model '" + upstream + "' (it serves "
                                    + worker.models().stream().map(InferenceModel::id).toList() + "); set 'model:'");
                        }
                    }
                    if (upstream == null) upstream = e.getKey();
                    versions.add(new ModelRoute.VersionRoute(v.getKey(), bName, b, upstream));
                }
                ModelRoute m = new ModelRoute(e.getKey(), e.getValue(), versions);
                if (e.getValue().canary() != null) m.canary = new CanaryController(m, ticker, this::weightChanged);
                models.put(e.getKey(), m);
            }
            return new RouteTable(config, Map.copyOf(backends), backendConfigs, java.util.Collections.unmodifiableMap(models), System.currentTimeMillis());
        } catch (RuntimeException e) {
            RouteTable.close(created);
            throw e;
        }
    }

    private Backend create(String name, BackendConfig bc) {
        Backend b = factory.create(name, bc);
        if (b == null) throw new IllegalArgumentException("routing.backends." + name + ": no backend for type '" + bc.type() + "'");
        return b;
    }

    // ---- Router ----

    @Override
    public void resolve(ServiceRequestContext ctx, GatewayRequest req) {
        RouteTable t = acquireCurrent();
        boolean held = false;
        try {
            ModelRoute m = t.models.get(req.model());
            if (m == null) throw OpenAiException.modelNotFound(req.model());
            RoutingConfig.Priority priority = priority(req, t.config.overload());
            String pin = req.headers().get(VERSION_HEADER);
            ModelRoute.VersionRoute version = null;
            if (pin != null) {
                version = m.version(pin.trim());
                if (version == null) {
                    throw new OpenAiException(HttpStatus.BAD_REQUEST, "invalid_request_error", "Model-Version", "model_version_not_found",
                            "Model '" + m.alias + "' has no version '" + pin.trim() + "'; available versions: " + String.join(", ", m.versionNames()));
                }
            }
            ModelRoute served = m;
            while (overloaded(served, priority, t.config.overload())) {
                String next = version == null ? served.config.degradeTo() : null;
                if (next == null) {
                    counter("sluice.route.shed", "Requests shed under overload (503), by public model and priority",
                            "model", m.alias, "priority", priority.label()).increment();
                    long secs = (t.config.overload().retryAfter().toMillis() + 999) / 1000;
                    throw OpenAiException.overloaded("Model '" + m.alias + "' is overloaded; retry later")
                            .header("retry-after", Long.toString(secs));
                }
                counter("sluice.route.degraded", "Requests sent to a lighter model under overload", "model", served.alias, "to", next).increment();
                served = t.models.get(next);
            }
            String sticky = stickyKey(req.principal());
            if (version == null) version = served.pick(sticky);
            req.version(version.name());
            req.body().put("model", version.upstreamModel());
            ModelLoad load = load(served.alias);
            load.inFlight.incrementAndGet();
            load.mark(ticker.read());
            Resolution res = new Resolution(t, served, version, sticky);
            ctx.setAttr(RESOLUTION, res);
            pending.put(req, res);
            ctx.log().whenComplete().handle((l, e) -> {
                pending.remove(req);
                load.inFlight.decrementAndGet();
                t.release();
                return null;
            });
            held = true;
        } finally {
            if (!held) t.release();
        }
    }

    /** The current table, held by the caller (released by {@link RouteTable#release}). */
    private RouteTable acquireCurrent() {
        while (true) {
            RouteTable t = table.get();
            t.acquire();
            if (table.get() == t) return t;
            t.release(); // swapped meanwhile: hold the new one instead
        }
    }

    @Override
    public CompletableFuture<Integer> countPromptTokens(GatewayRequest req) {
        Resolution r = pending.get(req);
        return r != null ? r.version().backend().countPromptTokens(req) : CompletableFuture.completedFuture(Backend.estimatePromptTokens(req));
    }

    @Override
    public HttpResponse dispatch(ServiceRequestContext ctx, GatewayRequest req) {
        Resolution r = ctx.attr(RESOLUTION);
        if (r == null) {
            resolve(ctx, req);
            r = ctx.attr(RESOLUTION);
        }
        List<Attempt> attempts = new ArrayList<>();
        attempts.add(new Attempt(r.model(), r.version()));
        for (String f : r.model().config.fallbacks()) {
            ModelRoute fm = r.table().models.get(f);
            if (fm != null) attempts.add(new Attempt(fm, fm.pick(r.stickyKey())));
        }
        return attempt(ctx, req, attempts, 0);
    }

    private record Attempt(ModelRoute model, ModelRoute.VersionRoute version) {}

    /**
     * Sends the request to attempt {@code i}; while later attempts remain, a failure before the first byte (an
     * exception, or response headers with 429 or 5xx, the rule of {@code upstream.FallbackBackend}) is recorded for
     * that version and the next attempt runs, on the request's event loop. The last attempt's answer is the client's.
     */
    private HttpResponse attempt(ServiceRequestContext ctx, GatewayRequest req, List<Attempt> attempts, int i) {
        Attempt a = attempts.get(i);
        boolean last = i == attempts.size() - 1;
        long start = ticker.read();
        req.body().put("model", a.version().upstreamModel());
        HttpResponse res;
        try {
            res = a.version().backend().execute(ctx, req);
        } catch (Exception e) {
            OpenAiException oe = e instanceof OpenAiException x ? x : null;
            record(a, oe != null ? oe.status().code() : 0, oe == null || oe.status().code() >= 500, start);
            if (!last && (oe == null || fallBack(oe.status().code()))) return fallback(ctx, req, attempts, i, e.toString());
            if (oe != null) return OpenAiService.error(oe);
            log.warn("backend '{}' of model '{}' failed: {}", a.version().backendName(), a.model().alias, e.toString());
            return OpenAiService.error(new OpenAiException(HttpStatus.BAD_GATEWAY, "server_error", null, "upstream_unavailable",
                    "The backend of model '" + a.model().alias + "' is unavailable"));
        }
        if (last) return observe(res, a, start);
        SplitHttpResponse split = res.split();
        CompletableFuture<HttpResponse> out = new CompletableFuture<>();
        split.headers().handle((h, e) -> {
            if (e == null && !fallBack(h.status().code())) {
                out.complete(observe(split.unsplit(), a, start));
            } else {
                split.body().abort();
                record(a, e == null ? h.status().code() : 0, true, start);
                String why = e != null ? e.toString() : "status " + h.status().code();
                ctx.eventLoop().execute(() -> out.complete(fallback(ctx, req, attempts, i, why)));
            }
            return null;
        });
        return HttpResponse.of(out);
    }

    /** True for an answer the next fallback should get a chance to replace: 429 or 5xx. */
    static boolean fallBack(int status) {
        return status == 429 || status >= 500;
    }

    private HttpResponse fallback(ServiceRequestContext ctx, GatewayRequest req, List<Attempt> attempts, int i, String why) {
        Attempt from = attempts.get(i), to = attempts.get(i + 1);
        log.info("route '{}': version '{}' failed before the first byte ({}); falling back to '{}'", from.model().alias, from.version().name(), why,
                to.model().alias);
        counter("sluice.route.fallbacks", "Requests sent to a fallback model after a failure before the first byte",
                "model", from.model().alias, "to", to.model().alias).increment();
        try {
            return attempt(ctx, req, attempts, i + 1);
        } catch (RuntimeException e) {
            log.error("fallback failed", e);
            return OpenAiService.error(OpenAiException.internal(e));
        }
    }

    /** Adds the served-model headers and records the outcome once the response ends. */
    private HttpResponse observe(HttpResponse res, Attempt a, long start) {
        HttpResponse tagged = res.mapHeaders(h -> h.status().isInformational() ? h
                : h.toBuilder().set(SERVED_MODEL_HEADER, a.model().alias).set(SERVED_VERSION_HEADER, a.version().name()).build());
        return ResponseTap.status(tagged, o -> {
            Boolean error = isError(o);
            if (error != null) record(a, o.status(), error, start);
        });
    }

    /** True for a failure the backend is to blame for; false for success or a client error (4xx); null when the client went away. */
    static Boolean isError(ResponseTap.Outcome o) {
        Throwable f = o.failure();
        if (f instanceof ClosedStreamException || f instanceof CancelledSubscriptionException || f instanceof AbortedStreamException) {
            return null;
        }
        if (o.status() == 0 || o.status() >= 500) return true;
        if (o.status() >= 400) return false;
        return o.error() != null || f != null || (o.stream() && !o.done() && !o.truncated());
    }

    private void record(Attempt a, int status, boolean error, long start) {
        long now = ticker.read();
        OutcomeWindow w = a.model().windows.get(a.version().name());
        if (w != null) w.record(now, error, now - start);
        counter("sluice.route.requests", "Routed requests by public model, version and status (0: failed before the headers)",
                "model", a.model().alias, "version", a.version().name(), "status", Integer.toString(status)).increment();
    }

    @Override
    public List<ModelCard> models() {
        List<ModelCard> out = new ArrayList<>();
        for (ModelRoute m : table.get().models.values()) {
            long createdAt = created;
            int context = 0;
            ModelRoute.VersionRoute v = m.versions.getFirst();
            if (v.backend() instanceof LocalBackend lb) {
                InferenceModel im = lb.model(v.upstreamModel());
                if (im != null) {
                    createdAt = im.created();
                    context = im.contextLength();
                }
            }
            out.add(new ModelCard(m.alias, createdAt, "sluice", context));
        }
        return out;
    }

    // ---- overload ----

    private ModelLoad load(String alias) {
        return loads.computeIfAbsent(alias, a -> new ModelLoad());
    }

    private boolean overloaded(ModelRoute m, RoutingConfig.Priority p, RoutingConfig.Overload o) {
        ModelLoad l = load(m.alias);
        double share = o.share(p);
        if (l.inFlight.get() >= o.maxInFlight() * share) return true;
        return o.maxRequestsPerSecond() > 0 && l.rate(ticker.read()) >= o.maxRequestsPerSecond() * share;
    }

    /** The request's priority: its header (default normal), capped by what the caller's tier may use. */
    static RoutingConfig.Priority priority(GatewayRequest req, RoutingConfig.Overload o) {
        String h = req.headers().get(PRIORITY_HEADER);
        RoutingConfig.Priority p = h == null ? RoutingConfig.Priority.NORMAL : RoutingConfig.Priority.parse(h);
        if (p == null) throw OpenAiException.invalid(PRIORITY_HEADER, "The " + PRIORITY_HEADER + " header must be high, normal or low, got '" + h + "'");
        RoutingConfig.Priority max = o.maxPriority(req.principal().tier());
        return p.compareTo(max) > 0 ? max : p;
    }

    /** Who a request sticks to a version by: the end user, else the API key, else a named tenant; null (random) when anonymous. */
    static String stickyKey(Principal p) {
        if (p.user() != null && !p.user().isEmpty()) return "user:" + p.user();
        if (p.keyId() != null) return "key:" + p.keyId();
        if (!Principal.DEFAULT_TENANT.equals(p.tenant())) return "tenant:" + p.tenant();
        return null;
    }

    // ---- runtime changes: weights, canary, reload ----

    /**
     * Sets weights of a model's versions (the others keep theirs) and pauses its canary controller, if any.
     * Throws {@link OpenAiException}: 404 for an unknown model, 400 for an unknown version, a weight out of range
     * or all weights 0.
     */
    public Map<String, Integer> setWeights(String alias, Map<String, Integer> weights) {
        ModelRoute m = model(alias);
        if (weights.isEmpty()) throw OpenAiException.invalid("weights", "'weights' must name at least one version of " + m.versionNames());
        for (Map.Entry<String, Integer> e : weights.entrySet()) {
            if (m.version(e.getKey()) == null) {
                throw OpenAiException.invalid("weights", "Model '" + alias + "' has no version '" + e.getKey() + "'; available versions: "
                        + String.join(", ", m.versionNames()));
            }
            Integer w = e.getValue();
            if (w == null || w < 0 || w > RoutingConfig.Version.MAX_WEIGHT) {
                throw OpenAiException.invalid("weights", "weights." + e.getKey() + " must be an integer in [0, " + RoutingConfig.Version.MAX_WEIGHT + "], got " + w);
            }
        }
        Map<String, Integer> next = m.weights();
        next.putAll(weights);
        if (next.values().stream().mapToLong(Integer::longValue).sum() <= 0) {
            throw OpenAiException.invalid("weights", "The weights of model '" + alias + "' must not all be 0");
        }
        // pause first, outside the model's lock: a tick holds the controller's lock and then takes the model's
        if (m.canary != null) m.canary.pause();
        synchronized (m) {
            Map<String, Integer> before = m.setWeights(weights);
            weightChanged(m, before, m.weights(), "admin", "set through the admin API");
        }
        return m.weights();
    }

    /** Pauses ({@code true}) or resumes a model's canary controller; 404 for an unknown model, 400 when it has no canary. */
    public void pauseCanary(String alias, boolean pause) {
        ModelRoute m = model(alias);
        if (m.canary == null) throw OpenAiException.invalid("model", "Model '" + alias + "' has no canary policy");
        if (pause) m.canary.pause();
        else m.canary.resume();
        log.info("route '{}': canary controller {}", alias, pause ? "paused" : "resumed");
    }

    private ModelRoute model(String alias) {
        ModelRoute m = table.get().models.get(alias);
        if (m == null) throw OpenAiException.modelNotFound(alias);
        return m;
    }

    private void weightChanged(ModelRoute m, Map<String, Integer> before, Map<String, Integer> after, String reason, String detail) {
        CanaryController.logChange(m.alias, before, after, reason, detail);
        counter("sluice.route.weight.changes", "Weight changes by public model and reason (step, promote, rollback, resume, admin, reload)",
                "model", m.alias, "reason", reason).increment();
    }

    /**
     * Re-reads the routing config from the source and swaps it in; in-flight requests finish on the table they
     * resolved against. Throws {@link IllegalArgumentException} (the old table stays) when there is no source, the
     * new config is invalid, or it has no routing section.
     */
    public void reload() {
        if (source == null) throw new IllegalArgumentException("no config file to reload: the server was started without --config");
        RoutingConfig next;
        try {
            next = source.get();
        } catch (RuntimeException e) {
            counter("sluice.route.reloads", "Routing config reloads by result", "result", "rejected").increment();
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        reload(next);
    }

    /** Swaps in {@code config} (see {@link #reload()}). */
    public synchronized void reload(RoutingConfig config) {
        RouteTable old = table.get();
        RouteTable next;
        try {
            if (config == null || config.isEmpty()) {
                throw new IllegalArgumentException("the new config has no routing section; a reload cannot turn routing off (restart instead)");
            }
            next = build(config, old);
        } catch (RuntimeException e) {
            counter("sluice.route.reloads", "Routing config reloads by result", "result", "rejected").increment();
            log.warn("routing reload rejected, keeping the current table: {}", e.getMessage());
            throw e instanceof IllegalArgumentException ? e : new IllegalArgumentException(e.getMessage(), e);
        }
        table.set(next);
        registerGauges(next);
        List<Backend> unshared = new ArrayList<>();
        Collection<Backend> kept = next.backends.values();
        for (Backend b : old.backends.values()) if (kept.stream().noneMatch(k -> k == b)) unshared.add(b);
        old.retire(unshared);
        counter("sluice.route.reloads", "Routing config reloads by result", "result", "ok").increment();
        for (ModelRoute m : next.models.values()) {
            ModelRoute was = old.models.get(m.alias);
            Map<String, Integer> before = was != null ? was.weights() : Map.of();
            if (!before.equals(m.weights())) weightChanged(m, before, m.weights(), "reload", "config reloaded");
        }
        log.info("routing reloaded: {} model(s) {}, {} backend(s); {} request(s) still on the previous table", next.models.size(),
                next.models.keySet(), next.backends.size(), old.holders());
    }

    // ---- views and metrics ----

    /** The admin view: every model with its versions, weights, fallbacks, degrade target and canary state. */
    public ObjectNode describe() {
        RouteTable t = table.get();
        ObjectNode out = JSON.createObjectNode();
        out.put("loaded_at", t.loadedAtMillis / 1000);
        ArrayNode models = out.putArray("models");
        for (ModelRoute m : t.models.values()) models.add(describe(m));
        ArrayNode backends = out.putArray("backends");
        for (Map.Entry<String, BackendConfig> b : t.backendConfigs.entrySet()) {
            ObjectNode o = backends.addObject().put("name", b.getKey()).put("type", b.getValue().type());
            ArrayNode eps = o.putArray("endpoints");
            b.getValue().endpoints().forEach(eps::add);
        }
        return out;
    }

    /** The admin view of one model; 404 when unknown. */
    public ObjectNode describe(String alias) {
        return describe(model(alias));
    }

    private ObjectNode describe(ModelRoute m) {
        ObjectNode o = JSON.createObjectNode().put("id", m.alias);
        ArrayNode vs = o.putArray("versions");
        Map<String, Integer> w = m.weights();
        long total = w.values().stream().mapToLong(Integer::longValue).sum();
        ModelLoad load = loads.get(m.alias);
        for (ModelRoute.VersionRoute v : m.versions) {
            vs.addObject().put("name", v.name()).put("backend", v.backendName()).put("model", v.upstreamModel()).put("weight", w.get(v.name()))
                    .put("share", total == 0 ? 0 : Math.round(10000.0 * w.get(v.name()) / total) / 10000.0);
        }
        ArrayNode fb = o.putArray("fallbacks");
        m.config.fallbacks().forEach(fb::add);
        if (m.config.degradeTo() != null) o.put("degrade_to", m.config.degradeTo());
        o.put("in_flight", load == null ? 0 : load.inFlight.get());
        CanaryController c = m.canary;
        if (c != null) {
            RoutingConfig.Canary p = c.policy();
            ObjectNode co = o.putObject("canary").put("version", c.canaryVersion()).put("baseline", c.baselineVersion())
                    .put("state", c.state().name().toLowerCase(java.util.Locale.ROOT)).put("paused", c.paused()).put("last_decision", c.lastDecision());
            ArrayNode steps = co.putArray("steps");
            p.steps().forEach(steps::add);
            co.put("interval", p.interval().toString()).put("window", p.window().toString()).put("min_requests", p.minRequests())
                    .put("max_error_rate_delta", p.maxErrorRateDelta()).put("max_p99_ratio", p.maxP99Ratio());
            long now = ticker.read();
            for (String v : List.of(c.canaryVersion(), c.baselineVersion())) {
                OutcomeWindow.Stats s = m.windows.get(v).stats(now, p.window().toNanos());
                co.putObject(v.equals(c.canaryVersion()) ? "canary_window" : "baseline_window").put("requests", s.requests())
                        .put("error_rate", Math.round(s.errorRate() * 10000) / 10000.0).put("p99_ms", s.p99Nanos() / 1e6);
            }
        }
        return o;
    }

    /** The current weight of {@code version} of {@code alias}, or -1 when neither exists (now). */
    public int weight(String alias, String version) {
        ModelRoute m = table.get().models.get(alias);
        return m == null ? -1 : m.weight(version);
    }

    private void registerGauges(RouteTable t) {
        if (metrics == null) return;
        for (ModelRoute m : t.models.values()) {
            for (ModelRoute.VersionRoute v : m.versions) {
                String alias = m.alias, version = v.name();
                Gauge.builder("sluice.route.version.weight", this, r -> {
                    int w = r.weight(alias, version);
                    return w < 0 ? Double.NaN : w;
                }).description("Current weight of a model version (NaN once it is gone)").tag("model", alias).tag("version", version).register(metrics);
            }
            String alias = m.alias;
            Gauge.builder("sluice.route.in_flight", this, r -> {
                ModelLoad l = r.loads.get(alias);
                return l == null ? 0 : l.inFlight.get();
            }).description("Requests in flight per public model").tag("model", alias).register(metrics);
        }
    }

    private Counter counter(String name, String description, String... tags) {
        if (metrics == null) return NOOP;
        return Counter.builder(name).description(description).tags(tags).register(metrics);
    }

    private static final Counter NOOP = Counter.builder("noop").register(new io.micrometer.core.instrument.simple.SimpleMeterRegistry());

    @Override
    public void close() {
        if (ticks != null) ticks.shutdownNow();
        RouteTable.close(List.copyOf(table.get().backends.values()));
    }
}
