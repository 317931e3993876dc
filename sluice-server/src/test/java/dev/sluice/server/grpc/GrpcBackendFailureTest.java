package dev.sluice.server.grpc;

import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.gateway.Gateway;
import dev.sluice.server.gateway.GatewayAssembly;
import dev.sluice.server.openai.FakeModel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/** A remote worker that goes away: before the stream (503 error body) and mid-stream (an SSE error event, no [DONE]). */
class GrpcBackendFailureTest {
    SluiceServer worker, gateway;
    GrpcBackend backend;

    @AfterEach
    void stop() {
        if (gateway != null) gateway.close();
        if (backend != null) backend.close();
        if (worker != null) worker.close();
    }

    WebClient gateway(int workerGrpcPort) {
        GrpcConfig plain = new GrpcConfig(null, null, true);
        backend = new GrpcBackend("remote", List.of("127.0.0.1:" + workerGrpcPort), plain);
        ServerConfig gcfg = ServerConfig.defaults().withPort(0);
        gateway = new SluiceServer(gcfg, List.of(), () -> true, new ServerMetrics(),
                w -> GatewayAssembly.forTest(new Gateway(new GrpcBackendTest.OneBackend(backend), List.of(), gcfg))).start();
        return WebClient.of("http://127.0.0.1:" + gateway.port());
    }

    static final String BODY = "{\"model\":\"slow\",\"messages\":[{\"role\":\"user\",\"content\":\"go\"}],\"stream\":true}";

    @Test
    void aWorkerThatIsDownIsA503BeforeAnyByte() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        AggregatedHttpResponse r = gateway(port).execute(HttpRequest.of(HttpMethod.POST, "/v1/chat/completions", MediaType.JSON_UTF_8, BODY)).aggregate().join();
        assertThat(r.status().code()).isEqualTo(503);
        assertThat(r.contentUtf8()).contains("\"code\":\"backend_unavailable\"").contains("Backend 'remote' is unavailable");
        assertThat(r.headers().get("retry-after")).isEqualTo("1");
    }

    @Test
    void aWorkerFailingMidStreamEndsTheClientsStreamWithAnErrorEvent() {
        worker = new SluiceServer(ServerConfig.defaults().withPort(0).withDrainTimeout(Duration.ofMillis(100)),
                List.of(new FakeModel("slow", "x".repeat(400), "", 4096)), () -> true, new ServerMetrics(), null)
                .withGrpc(new GrpcConfig(null, null, null), 0).start();
        WebClient client = gateway(worker.grpcPort());
        CompletableFuture<AggregatedHttpResponse> f = client.execute(HttpRequest.of(HttpMethod.POST, "/v1/chat/completions", MediaType.JSON_UTF_8, BODY)).aggregate();
        org.awaitility.Awaitility.await().until(() -> worker.inFlight() == 1);
        worker.close(); // drains 100 ms, then cancels: the stream is mid-way
        AggregatedHttpResponse r = f.join();
        assertThat(r.status().code()).isEqualTo(200);
        String sse = r.contentUtf8();
        assertThat(sse).contains("\"content\":\"x\"").contains("\"error\"").contains("server_shutdown").doesNotContain("[DONE]");
        assertThat(sse.strip()).endsWith("}");
    }
}
