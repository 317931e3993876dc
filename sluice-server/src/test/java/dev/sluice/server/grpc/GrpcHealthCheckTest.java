package dev.sluice.server.grpc;

import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.config.ConfigException;
import dev.sluice.server.gateway.Gateway;
import dev.sluice.server.gateway.GatewayAssembly;
import dev.sluice.server.gateway.upstream.BackendConfig;
import dev.sluice.server.openai.FakeModel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** Active gRPC health checks of a {@code type: grpc} backend: a worker that is not SERVING leaves the rotation, and comes back. */
class GrpcHealthCheckTest {
    static final GrpcConfig PLAIN = new GrpcConfig(null, null, true);
    SluiceServer a, b, gateway;
    GrpcBackend backend;

    @AfterEach
    void stop() {
        if (gateway != null) gateway.close();
        if (backend != null) backend.close();
        if (a != null) a.close();
        if (b != null) b.close();
    }

    static SluiceServer worker(String reply, AtomicBoolean ready) {
        return new SluiceServer(ServerConfig.defaults().withPort(0), List.of(new FakeModel("fake", reply, "", 4096)), ready::get, new ServerMetrics(), null)
                .withGrpc(PLAIN, 0).start();
    }

    Set<String> replies(WebClient client, int n) {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < n; i++) {
            String body = client.execute(HttpRequest.of(HttpMethod.POST, "/v1/chat/completions", MediaType.JSON_UTF_8,
                    "{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")).aggregate().join().contentUtf8();
            seen.add(body.contains("worker-a") ? "a" : body.contains("worker-b") ? "b" : body);
        }
        return seen;
    }

    @Test
    void aWorkerThatIsNotServingLeavesTheRotationAndComesBack() {
        AtomicBoolean aReady = new AtomicBoolean(true);
        a = worker("worker-a", aReady);
        b = worker("worker-b", new AtomicBoolean(true));
        BackendConfig bc = new BackendConfig("grpc", List.of("127.0.0.1:" + a.grpcPort(), "127.0.0.1:" + b.grpcPort()), null, null)
                .withHealthCheck(BackendConfig.HealthCheck.of(GrpcBackend.HEALTH_PATH, Duration.ofMillis(100)));
        backend = GrpcBackend.create("workers", bc, PLAIN);
        ServerConfig gcfg = ServerConfig.defaults().withPort(0);
        gateway = new SluiceServer(gcfg, List.of(), () -> true, new ServerMetrics(),
                w -> GatewayAssembly.forTest(new Gateway(new GrpcBackendTest.OneBackend(backend), List.of(), gcfg))).start();
        WebClient client = WebClient.of("http://127.0.0.1:" + gateway.port());
        await().atMost(Duration.ofSeconds(30)).until(() -> replies(client, 6).equals(Set.of("a", "b")));
        aReady.set(false); // e.g. loading, or draining: its health turns NOT_SERVING
        await().atMost(Duration.ofSeconds(30)).until(() -> replies(client, 1).equals(Set.of("b")));
        assertThat(replies(client, 10)).containsExactly("b");
        aReady.set(true);
        await().atMost(Duration.ofSeconds(30)).until(() -> replies(client, 6).contains("a"));
    }

    @Test
    void aGrpcBackendsHealthCheckPathMustBeTheGrpcHealthService() {
        BackendConfig bc = new BackendConfig("grpc", List.of("127.0.0.1:50051"), null, null)
                .withHealthCheck(BackendConfig.HealthCheck.of("/health/ready", Duration.ofSeconds(1)));
        assertThatThrownBy(() -> GrpcBackend.create("workers", bc, PLAIN)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("routing.backends.workers.healthCheck.path").hasMessageContaining("/grpc.health.v1.Health/Check");
    }
}
