package dev.sluice.server.grpc;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.GatewayAssembly;
import dev.sluice.server.openai.FakeModel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code routing.backends.X.type: grpc} from the config file: the gateway role over a remote worker with mTLS. */
class GrpcRegistryTest {
    @TempDir
    Path certs;
    SluiceServer worker, gateway;

    @AfterEach
    void stop() {
        if (gateway != null) gateway.close();
        if (worker != null) worker.close();
    }

    @Test
    void theGatewayRoleRoutesAnAliasToARemoteWorkerOverMtls() throws Exception {
        DevCertificates.write(certs, List.of(), 1, false);
        String yaml = """
                grpc:
                  server: {cert: %1$s/server.pem, key: %1$s/server-key.pem, ca: %1$s/ca.pem}
                  client: {cert: %1$s/client.pem, key: %1$s/client-key.pem, ca: %1$s/ca.pem}
                routing:
                  backends:
                    workers: {type: grpc, endpoints: ["localhost:${PORT}"]}
                  models:
                    assistant:
                      versions:
                        stable: {backend: workers, model: fake}
                """.formatted(certs);
        SluiceConfig workerConfig = SluiceConfig.parse(yaml, Map.of("PORT", "1"), "worker.yaml");
        worker = new SluiceServer(ServerConfig.defaults().withPort(0), List.of(new FakeModel("fake", "Hello, world! ✓", "", 4096)), () -> true,
                new ServerMetrics(), null).withGrpc(workerConfig.grpc(), 0).start();
        SluiceConfig file = SluiceConfig.parse(yaml, Map.of("PORT", Integer.toString(worker.grpcPort())), "gateway.yaml");
        ServerConfig gcfg = ServerConfig.defaults().withPort(0);
        ServerMetrics metrics = new ServerMetrics();
        gateway = new SluiceServer(gcfg, List.of(), () -> true, metrics, w -> GatewayAssembly.build(file, gcfg, metrics, null)).start();
        OpenAIClient sdk = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + gateway.port() + "/v1").apiKey("unused").maxRetries(0).build();
        var c = sdk.chat().completions().create(ChatCompletionCreateParams.builder().model("assistant").addUserMessage("hi").build());
        assertThat(c.choices().get(0).message().content()).contains("Hello, world! ✓");
        StringBuilder sb = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = sdk.chat().completions().createStreaming(ChatCompletionCreateParams.builder().model("assistant").addUserMessage("hi").build())) {
            s.stream().forEach(ch -> ch.choices().forEach(x -> x.delta().content().ifPresent(sb::append)));
        }
        assertThat(sb.toString()).isEqualTo("Hello, world! ✓");
    }

    @Test
    void aGrpcBackendWithoutTlsIsAConfigErrorUnlessPlaintextIsAllowed() {
        String yaml = """
                routing:
                  backends:
                    workers: {type: grpc, endpoints: ["10.1.2.3:50051"]}
                  models:
                    assistant: {versions: {stable: {backend: workers}}}
                """;
        ServerConfig gcfg = ServerConfig.defaults().withPort(0);
        assertThatThrownBy(() -> GatewayAssembly.build(SluiceConfig.parse(yaml, Map.of(), "g.yaml"), gcfg, new ServerMetrics(), null))
                .hasMessageContaining("backend 'workers'").hasMessageContaining("plaintext gRPC to a remote worker is refused")
                .hasMessageContaining("grpc.allowPlaintext: true");
        GatewayAssembly.build(SluiceConfig.parse(yaml + "grpc: {allowPlaintext: true}\n", Map.of(), "g.yaml"), gcfg, new ServerMetrics(), null).close();
    }
}
