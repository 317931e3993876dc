package dev.sluice.server.gateway.upstream;

import com.linecorp.armeria.client.ClientFactory;
import com.linecorp.armeria.client.Endpoint;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.client.circuitbreaker.CircuitBreaker;
import com.linecorp.armeria.client.retry.Backoff;
import com.linecorp.armeria.common.SessionProtocol;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One upstream base URL and what the backend knows of it: requests in flight (for
 * least-outstanding balancing), its circuit breaker (Armeria's), and its passive-ejection state.
 *
 * <p>Concurrency: {@link #outstanding} is atomic; the ejection state is guarded by this object's
 * lock, taken once per finished attempt; {@link #ejectedUntil} is volatile so selection reads it
 * without the lock.
 */
final class UpstreamEndpoint {
    private static final Logger log = LoggerFactory.getLogger(UpstreamEndpoint.class);

    final String url;
    final SessionProtocol protocol;
    final Endpoint endpoint;
    /** The base path, e.g. {@code /v1}, without a trailing slash. */
    final String basePath;
    private final java.util.function.Function<io.netty.channel.EventLoop, ClientFactory> loopFactories;
    /** A client per event loop, each on a factory whose connections live on that loop; made on first use. */
    private final java.util.concurrent.ConcurrentHashMap<io.netty.channel.EventLoop, WebClient> loopClients = new java.util.concurrent.ConcurrentHashMap<>();
    final CircuitBreaker breaker;
    final AtomicInteger outstanding = new AtomicInteger();
    /** Meters, set by the backend that owns this endpoint. */
    io.micrometer.core.instrument.Counter attemptsOk, attemptsFailed, ejectionCount;

    private final String backend;
    private final BackendConfig.Ejection ejection;
    private final Backoff ejectionBackoff;
    private volatile long ejectedUntil;
    private int consecutiveFailures;
    private int ejections;

    /**
     * @param loopFactories the factory whose connections live on a given event loop (see
     *                      {@link OpenAiUpstreamBackend}'s note on loop-local connections)
     */
    UpstreamEndpoint(String backend, String url, java.util.function.Function<io.netty.channel.EventLoop, ClientFactory> loopFactories, BackendConfig config) {
        this.loopFactories = loopFactories;
        this.backend = backend;
        this.url = url;
        URI u = URI.create(url);
        String scheme = u.getScheme().toLowerCase(Locale.ROOT);
        this.protocol = switch (scheme) {
            case "h1" -> SessionProtocol.H1;
            case "h2" -> SessionProtocol.H2;
            default -> SessionProtocol.of(scheme);
        };
        int port = u.getPort() > 0 ? u.getPort() : protocol.defaultPort();
        this.endpoint = Endpoint.of(u.getHost(), port);
        String path = u.getRawPath() == null ? "" : u.getRawPath();
        this.basePath = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        BackendConfig.CircuitBreakerConfig cb = config.circuitBreaker();
        Duration window = cb.window();
        this.breaker = CircuitBreaker.builder(backend + "@" + endpoint)
                .failureRateThreshold(cb.failureRate())
                .minimumRequestThreshold(cb.minimumRequests())
                .counterSlidingWindow(window)
                .counterUpdateInterval(window.dividedBy(20).compareTo(Duration.ofSeconds(1)) < 0 ? window.dividedBy(20) : Duration.ofSeconds(1))
                .circuitOpenWindow(cb.openFor())
                .trialRequestInterval(cb.openFor())
                .build();
        this.ejection = config.ejection();
        this.ejectionBackoff = Backoff.exponential(ejection.baseTime().toMillis(), ejection.maxTime().toMillis());
    }

    private WebClient client(ClientFactory factory) {
        return WebClient.builder(protocol, endpoint).factory(factory)
                .responseTimeout(Duration.ZERO) // the backend runs its own timeouts
                .maxResponseLength(0) // streams are unbounded; plain calls set their own bound
                .build();
    }

    /** The client whose connections to this endpoint live on {@code loop}. */
    WebClient client(io.netty.channel.EventLoop loop) {
        WebClient c = loopClients.get(loop);
        return c != null ? c : loopClients.computeIfAbsent(loop, l -> client(loopFactories.apply(l)));
    }

    /** False while ejected. (The breaker is asked last, by {@code tryRequest}, which also moves an open one to half-open in time.) */
    boolean available(long nowNanos) {
        return nowNanos - ejectedUntil >= 0;
    }

    boolean ejected(long nowNanos) {
        return nowNanos - ejectedUntil < 0;
    }

    /** The attempt got a good answer (2xx or a client error: the endpoint itself works). */
    void onSuccess() {
        breaker.onSuccess();
        synchronized (this) {
            consecutiveFailures = 0;
            ejections = 0;
        }
    }

    /** The attempt failed because of the endpoint (connect, reset, 5xx, timeout). */
    void onFailure(long nowNanos) {
        breaker.onFailure();
        long ms = -1;
        synchronized (this) {
            if (++consecutiveFailures >= ejection.consecutiveFailures() && nowNanos - ejectedUntil >= 0) {
                ms = ejectionBackoff.nextDelayMillis(++ejections);
                if (ms < 0) ms = ejection.maxTime().toMillis();
                ejectedUntil = nowNanos + ms * 1_000_000L;
                consecutiveFailures = 0;
            }
        }
        if (ms >= 0 && ejectionCount != null) ejectionCount.increment();
        if (ms >= 0) log.warn("backend {}: endpoint {} ejected for {} ms after {} consecutive failures", backend, endpoint, ms, ejection.consecutiveFailures());
    }

    @Override
    public String toString() {
        return backend + "@" + endpoint;
    }
}
