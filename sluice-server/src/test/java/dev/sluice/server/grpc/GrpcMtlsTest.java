package dev.sluice.server.grpc;

import com.linecorp.armeria.client.ClientFactory;
import com.linecorp.armeria.client.grpc.GrpcClients;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.config.ConfigException;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.grpc.proto.InferenceGrpc;
import dev.sluice.server.grpc.proto.ListModelsRequest;
import dev.sluice.server.openai.FakeModel;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** mTLS on the worker's gRPC port with certificates from {@link DevCertificates}, and the plaintext refusal. */
class GrpcMtlsTest {
    @TempDir
    static Path dir;
    static SluiceServer server;
    static Path other;

    @BeforeAll
    static void start() throws IOException {
        DevCertificates.write(dir, List.of("worker.internal"), 1, false);
        // a second CA and a client certificate it signed: valid, but not trusted by the worker
        other = dir.resolve("other");
        Files.createDirectories(other);
        DevCertificates.Issued ca2 = DevCertificates.ca("Some other CA", 1);
        DevCertificates.Issued c2 = DevCertificates.client(ca2, "intruder", 1);
        Files.writeString(other.resolve("client.pem"), c2.certPem());
        Files.writeString(other.resolve("client-key.pem"), c2.keyPem());
        GrpcConfig grpc = new GrpcConfig(new GrpcConfig.Tls(dir.resolve("server.pem"), dir.resolve("server-key.pem"), dir.resolve("ca.pem")), null, null);
        server = new SluiceServer(ServerConfig.defaults().withPort(0), List.of(new FakeModel("fake", "Hi", "", 4096)), () -> true, new ServerMetrics(), null)
                .withGrpc(grpc, 0).start();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static InferenceGrpc.InferenceBlockingStub client(ClientFactory f) {
        return GrpcClients.builder("https://localhost:" + server.grpcPort()).factory(f).build(InferenceGrpc.InferenceBlockingStub.class);
    }

    @Test
    void aClientWithACaSignedCertificateIsServed() {
        try (ClientFactory f = ClientFactory.builder().tlsCustomizer(b -> b.trustManager(dir.resolve("ca.pem").toFile())
                .keyManager(dir.resolve("client.pem").toFile(), dir.resolve("client-key.pem").toFile())).build()) {
            assertThat(client(f).listModels(ListModelsRequest.getDefaultInstance()).getModels(0).getId()).isEqualTo("fake");
        }
    }

    @Test
    void aClientWithoutACertificateIsRefused() {
        try (ClientFactory f = ClientFactory.builder().tlsCustomizer(b -> b.trustManager(dir.resolve("ca.pem").toFile())).build()) {
            assertThatThrownBy(() -> client(f).listModels(ListModelsRequest.getDefaultInstance())).isInstanceOf(StatusRuntimeException.class);
        }
        assertThat(server.inFlight()).isZero();
    }

    @Test
    void aClientWithACertificateFromAnotherCaIsRefused() {
        try (ClientFactory f = ClientFactory.builder().tlsCustomizer(b -> b.trustManager(dir.resolve("ca.pem").toFile())
                .keyManager(other.resolve("client.pem").toFile(), other.resolve("client-key.pem").toFile())).build()) {
            assertThatThrownBy(() -> client(f).listModels(ListModelsRequest.getDefaultInstance())).isInstanceOf(StatusRuntimeException.class);
        }
    }

    @Test
    void aPlaintextClientIsRefused() {
        InferenceGrpc.InferenceBlockingStub plain = GrpcClients.newClient("http://localhost:" + server.grpcPort(), InferenceGrpc.InferenceBlockingStub.class);
        assertThatThrownBy(() -> plain.listModels(ListModelsRequest.getDefaultInstance())).isInstanceOf(StatusRuntimeException.class);
    }

    @Test
    void theGatewayRefusesPlaintextToARemoteWorkerUnlessAllowed() {
        assertThatThrownBy(() -> new GrpcBackend("w1", List.of("10.0.0.5:50051"), GrpcConfig.defaults()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("backend 'w1'")
                .hasMessageContaining("plaintext gRPC to a remote worker is refused")
                .hasMessageContaining("grpc.client.cert")
                .hasMessageContaining("grpc.allowPlaintext: true");
        try (GrpcBackend allowed = new GrpcBackend("w1", List.of("10.0.0.5:50051"), new GrpcConfig(null, null, true))) {
            assertThat(allowed.name()).isEqualTo("w1");
        }
        assertThatThrownBy(() -> new GrpcBackend("w2", List.of("no-port"), new GrpcConfig(null, null, true)))
                .isInstanceOf(ConfigException.class).hasMessageContaining("endpoint 'no-port' is not host:port");
    }

    @Test
    void theGrpcConfigSectionParsesAndNamesBadKeys() {
        String yaml = """
                grpc:
                  server: {cert: %s, key: %s, ca: %s}
                  client: {cert: %s, key: %s, ca: %s}
                """.formatted(dir.resolve("server.pem"), dir.resolve("server-key.pem"), dir.resolve("ca.pem"),
                dir.resolve("client.pem"), dir.resolve("client-key.pem"), dir.resolve("ca.pem"));
        GrpcConfig g = SluiceConfig.parse(yaml, Map.of(), "test.yaml").grpc();
        assertThat(g.serverMtls()).isTrue();
        assertThat(g.clientTls()).isTrue();
        assertThat(g.allowPlaintext()).isFalse();
        assertThat(SluiceConfig.defaults().grpc().allowPlaintext()).isEqualTo(GrpcConfig.DEFAULT_ALLOW_PLAINTEXT).isFalse();
        assertThatThrownBy(() -> SluiceConfig.parse("grpc:\n  server: {cert: /nonexistent/server.pem, key: /nonexistent/k.pem}\n", Map.of(), "test.yaml"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("grpc.server").hasMessageContaining("'cert' file /nonexistent/server.pem does not exist");
        assertThatThrownBy(() -> SluiceConfig.parse("grpc:\n  server: {ca: " + dir.resolve("ca.pem") + "}\n", Map.of(), "test.yaml"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("'server.ca' (require client certificates) needs 'server.cert' and 'server.key'");
        assertThatThrownBy(() -> SluiceConfig.parse("grpc:\n  allowPlaintxt: true\n", Map.of(), "test.yaml"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("allowPlaintxt");
    }
}
