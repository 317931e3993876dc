package dev.sluice.server.grpc;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The {@code grpc:} section of the config file: TLS for the worker's gRPC port ({@code server})
 * and for the gateway's calls to remote workers ({@code client}). Validated when built; every
 * field is optional. See {@code docs/grpc.md}.
 *
 * <pre>
 * grpc:
 *   server: {cert: certs/server.pem, key: certs/server-key.pem, ca: certs/ca.pem}   # ca set: mTLS, client certs required
 *   client: {cert: certs/client.pem, key: certs/client-key.pem, ca: certs/ca.pem}   # what the gateway presents and trusts
 *   allowPlaintext: false
 * </pre>
 *
 * @param server         the worker's certificate, key and (for mTLS) the CA its clients' certificates must be signed by;
 *                       none: the gRPC port is plaintext
 * @param client         the gateway's client certificate and key (for mTLS) and the CA that signs the workers' certificates
 * @param allowPlaintext {@value #DEFAULT_ALLOW_PLAINTEXT} by default: the gateway refuses a gRPC backend it would reach
 *                       in plaintext (no {@code client} TLS configured), with a config error; true allows it (a trusted network)
 */
public record GrpcConfig(Tls server, Tls client, Boolean allowPlaintext) {
    /** Plaintext to a remote worker is refused unless allowed: prompts and completions must not cross a network in the clear by accident. */
    public static final boolean DEFAULT_ALLOW_PLAINTEXT = false;

    public GrpcConfig {
        server = server == null ? Tls.NONE : server;
        client = client == null ? Tls.NONE : client;
        allowPlaintext = allowPlaintext == null ? DEFAULT_ALLOW_PLAINTEXT : allowPlaintext;
        if (server.ca() != null && !server.hasKeyPair()) {
            throw new IllegalArgumentException("'server.ca' (require client certificates) needs 'server.cert' and 'server.key' too: mTLS runs over TLS");
        }
    }

    public static GrpcConfig defaults() {
        return new GrpcConfig(null, null, null);
    }

    /** True when the worker's gRPC port speaks TLS. */
    public boolean serverTls() {
        return server.hasKeyPair();
    }

    /** True when the worker requires client certificates signed by {@code server.ca}. */
    public boolean serverMtls() {
        return server.ca() != null;
    }

    /** True when the gateway connects to workers over TLS (a client CA or key pair is configured). */
    public boolean clientTls() {
        return client.ca() != null || client.hasKeyPair();
    }

    /**
     * PEM files: a certificate chain, its PKCS#8 private key, and a CA bundle to trust. Each must
     * exist when given; {@code cert} and {@code key} go together.
     */
    public record Tls(Path cert, Path key, Path ca) {
        public static final Tls NONE = new Tls(null, null, null);

        public Tls {
            if ((cert == null) != (key == null)) {
                throw new IllegalArgumentException("'cert' and 'key' go together: got " + (cert == null ? "'key' without 'cert'" : "'cert' without 'key'"));
            }
            exists("cert", cert);
            exists("key", key);
            exists("ca", ca);
        }

        public boolean hasKeyPair() {
            return cert != null;
        }

        private static void exists(String field, Path p) {
            if (p != null && !Files.isReadable(p)) throw new IllegalArgumentException("'" + field + "' file " + p + " does not exist or is not readable");
        }
    }
}
