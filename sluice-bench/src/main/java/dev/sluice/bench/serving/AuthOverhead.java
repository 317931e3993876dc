package dev.sluice.bench.serving;

import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.RequestHeaders;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.GatewayAssembly;
import dev.sluice.server.gateway.auth.AuthConfig;
import dev.sluice.server.gateway.auth.IdentityStore;
import dev.sluice.server.gateway.auth.JwtConfig;
import dev.sluice.server.store.Store;
import dev.sluice.server.store.StoreConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.Date;
import java.util.List;

/**
 * What authentication adds per request: sequential {@code GET /v1/models} over loopback (a route
 * that does no inference), without auth, with a cached API key, and with an HS256 JWT; p50 and
 * p99 of the client-side latency. Run:
 * {@code java -cp <sluice-bench classpath> dev.sluice.bench.serving.AuthOverhead [requests]}.
 */
public final class AuthOverhead {
    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 5000;
        Path dir = Files.createTempDirectory("sluice-auth-bench");
        StoreConfig store = new StoreConfig(StoreConfig.defaultUrl(dir), null, null, 4, null);
        String key;
        try (Store s = Store.open(store)) {
            key = new IdentityStore(s).createKey(new IdentityStore.KeySpec("default", null, null, "bench", null, null, false, null)).key();
        }
        String secret = "bench-hs256-secret-0123456789abcdef-0123456789abcdef";
        JWTClaimsSet claims = new JWTClaimsSet.Builder().issuer("https://issuer").audience("sluice").subject("u").claim("tenant", "default")
                .expirationTime(Date.from(Instant.now().plusSeconds(3600))).build();
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
        jwt.sign(new MACSigner(secret));
        SluiceConfig anonymous = new SluiceConfig(new StoreConfig(StoreConfig.defaultUrl(dir.resolve("none")), null, null, 2, null), null, null, null, null, null, null);
        SluiceConfig keyed = new SluiceConfig(store, null, AuthConfig.defaults().withJwt(JwtConfig.hs256("https://issuer", "sluice", secret)), null, null, null, null);
        System.out.printf("%-10s %8s %8s %8s%n", "mode", "p50 us", "p99 us", "mean us");
        report("none", run(anonymous, null, n));
        report("api-key", run(keyed, key, n));
        report("jwt-hs256", run(keyed, jwt.serialize(), n));
    }

    static long[] run(SluiceConfig cfg, String token, int n) {
        ServerConfig sc = ServerConfig.defaults().withPort(0);
        ServerMetrics metrics = new ServerMetrics();
        try (SluiceServer server = new SluiceServer(sc, List.of(), () -> true, metrics,
                worker -> GatewayAssembly.build(cfg, null, sc, metrics, worker, false)).start()) {
            WebClient c = WebClient.of("http://127.0.0.1:" + server.port());
            RequestHeaders h = token == null ? RequestHeaders.of(HttpMethod.GET, "/v1/models")
                    : RequestHeaders.of(HttpMethod.GET, "/v1/models", "authorization", "Bearer " + token);
            for (int i = 0; i < Math.min(2000, n); i++) check(c.execute(h).aggregate().join());
            long[] t = new long[n];
            for (int i = 0; i < n; i++) {
                long t0 = System.nanoTime();
                check(c.execute(h).aggregate().join());
                t[i] = System.nanoTime() - t0;
            }
            Arrays.sort(t);
            return t;
        }
    }

    static void check(AggregatedHttpResponse r) {
        if (r.status().code() != 200) throw new IllegalStateException(r.status() + " " + r.contentUtf8());
    }

    static void report(String mode, long[] t) {
        System.out.printf("%-10s %8.1f %8.1f %8.1f%n", mode, t[t.length / 2] / 1e3, t[(int) (t.length * 0.99)] / 1e3, Arrays.stream(t).average().orElse(0) / 1e3);
    }
}
