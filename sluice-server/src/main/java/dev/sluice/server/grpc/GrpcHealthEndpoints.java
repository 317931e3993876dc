package dev.sluice.server.grpc;

import com.linecorp.armeria.client.ClientFactory;
import com.linecorp.armeria.client.Endpoint;
import com.linecorp.armeria.client.endpoint.DynamicEndpointGroup;
import com.linecorp.armeria.client.grpc.GrpcClients;
import com.linecorp.armeria.common.CommonPools;
import com.linecorp.armeria.common.SessionProtocol;
import dev.sluice.server.grpc.proto.InferenceGrpc;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.StreamObserver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The endpoints of a {@code type: grpc} backend that pass active health checks: every
 * {@code interval}, {@code grpc.health.v1.Health/Check} for {@code sluice.v1.Inference} on each
 * endpoint; {@code SERVING} keeps it in rotation, anything else (NOT_SERVING while a worker loads
 * or drains, an error, no answer within the timeout) takes it out until a check passes. Changes
 * are logged. All endpoints start in rotation, so a gateway that starts before its first check
 * does not refuse traffic.
 */
final class GrpcHealthEndpoints extends DynamicEndpointGroup {
    private static final Logger log = LoggerFactory.getLogger(GrpcHealthEndpoints.class);
    /** Longest a health check may take: 5 s, or the interval when shorter. */
    static final Duration MAX_CHECK_TIMEOUT = Duration.ofSeconds(5);

    private final String backend;
    private final Map<Endpoint, HealthGrpc.HealthStub> stubs = new LinkedHashMap<>();
    private final Map<Endpoint, Boolean> healthy = new ConcurrentHashMap<>();
    private final Duration timeout;
    private final ScheduledFuture<?> task;

    GrpcHealthEndpoints(String backend, List<Endpoint> endpoints, SessionProtocol protocol, ClientFactory factory, Duration interval) {
        super(true);
        this.backend = backend;
        this.timeout = interval.compareTo(MAX_CHECK_TIMEOUT) < 0 ? interval : MAX_CHECK_TIMEOUT;
        for (Endpoint e : endpoints) {
            stubs.put(e, GrpcClients.builder(protocol, e).factory(factory).responseTimeout(Duration.ZERO).build(HealthGrpc.HealthStub.class));
            healthy.put(e, true);
        }
        setEndpoints(endpoints);
        task = CommonPools.workerGroup().scheduleWithFixedDelay(this::checkAll, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void checkAll() {
        HealthCheckRequest req = HealthCheckRequest.newBuilder().setService(InferenceGrpc.SERVICE_NAME).build();
        stubs.forEach((e, stub) -> stub.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS).check(req, new StreamObserver<>() {
            @Override
            public void onNext(HealthCheckResponse r) {
                update(e, r.getStatus() == HealthCheckResponse.ServingStatus.SERVING, r.getStatus().name());
            }

            @Override
            public void onError(Throwable t) {
                update(e, false, io.grpc.Status.fromThrowable(t).getCode().name());
            }

            @Override
            public void onCompleted() {}
        }));
    }

    private void update(Endpoint e, boolean ok, String why) {
        Boolean before = healthy.put(e, ok);
        if (before != null && before == ok) return;
        if (ok) log.info("backend '{}': endpoint {} is healthy again", backend, e);
        else log.warn("backend '{}': endpoint {} failed its gRPC health check ({}); out of rotation", backend, e, why);
        List<Endpoint> up = new ArrayList<>();
        for (Endpoint x : stubs.keySet()) if (healthy.getOrDefault(x, false)) up.add(x);
        setEndpoints(up);
    }

    @Override
    protected void doCloseAsync(CompletableFuture<?> future) {
        task.cancel(false);
        super.doCloseAsync(future);
    }
}
