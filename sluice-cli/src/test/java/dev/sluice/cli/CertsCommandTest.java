package dev.sluice.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class CertsCommandTest {
    static X509Certificate cert(Path p) throws Exception {
        try (InputStream in = Files.newInputStream(p)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    @Test
    void writesACaAndServerAndClientCertificatesSignedByIt(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("certs");
        Cli.Result r = Cli.run("", Map.of(), "certs", "--out", dir.toString(), "--host", "worker.internal", "--host", "10.0.0.7");
        assertThat(r.exit()).as(r.err()).isZero();
        for (String f : List.of("ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "client.pem", "client-key.pem")) {
            assertThat(r.out()).contains("wrote " + dir.resolve(f));
            assertThat(dir.resolve(f)).exists();
        }
        assertThat(r.out()).contains("server: {cert: ").contains("client: {cert: ");
        X509Certificate ca = cert(dir.resolve("ca.pem")), server = cert(dir.resolve("server.pem")), client = cert(dir.resolve("client.pem"));
        server.verify(ca.getPublicKey());
        client.verify(ca.getPublicKey());
        assertThat(ca.getBasicConstraints()).isGreaterThanOrEqualTo(0);
        assertThat(server.getBasicConstraints()).isEqualTo(-1);
        assertThat(server.getSubjectAlternativeNames()).extracting(l -> l.get(1).toString())
                .contains("localhost", "127.0.0.1", "worker.internal", "10.0.0.7");
        assertThat(server.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1"); // serverAuth
        assertThat(client.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.2"); // clientAuth
        assertThat(Files.readString(dir.resolve("server-key.pem"))).startsWith("-----BEGIN PRIVATE KEY-----"); // PKCS#8
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("client-key.pem")))).isEqualTo("rw-------");
    }

    @Test
    void refusesToOverwriteWithoutForce(@TempDir Path dir) throws Exception {
        assertThat(Cli.run("", Map.of(), "certs", "--out", dir.toString()).exit()).isZero();
        String before = Files.readString(dir.resolve("ca.pem"));
        Cli.Result again = Cli.run("", Map.of(), "certs", "--out", dir.toString());
        assertThat(again.exit()).isEqualTo(1);
        assertThat(again.err()).contains("already exists; use --force to overwrite");
        assertThat(Files.readString(dir.resolve("ca.pem"))).isEqualTo(before);
        Cli.Result forced = Cli.run("", Map.of(), "certs", "--out", dir.toString(), "--force");
        assertThat(forced.exit()).as(forced.err()).isZero();
        assertThat(Files.readString(dir.resolve("ca.pem"))).isNotEqualTo(before);
        assertThat(Cli.run("", Map.of(), "certs", "--out", dir.toString(), "--force", "--days", "0").exit()).isEqualTo(2);
    }

    @Test
    void serveRefusesGrpcOffLoopbackWithoutMtlsAndOnTheGatewayRole() {
        Cli.Result r = Cli.run("", Map.of(), "serve", "--role", "worker", "--port", "0", "--grpc-host", "0.0.0.0", "--grpc-port", "0");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("refusing to serve gRPC on 0.0.0.0 without client certificates").contains("sluice certs");
        Cli.Result g = Cli.run("", Map.of(), "serve", "--role", "gateway", "--port", "0", "--grpc-port", "0");
        assertThat(g.exit()).isEqualTo(2);
        assertThat(g.err()).contains("--grpc-port serves a worker's engine");
    }
}
