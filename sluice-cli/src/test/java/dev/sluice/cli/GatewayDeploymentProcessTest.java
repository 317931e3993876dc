package dev.sluice.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The distributed deployment as real processes on loopback: two {@code sluice serve --role worker}
 * processes (the demo model; one also serves gRPC) and a {@code --role gateway} process routing one
 * public model to them: version {@code stable} over HTTP to a pool of both workers, version
 * {@code canary} over gRPC to the first. Shows: both transports give the same greedy answer; the
 * gateway's split reaches both versions; a worker killed mid-test is routed around (failover
 * before the first byte), with no client error.
 */
class GatewayDeploymentProcessTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Pattern WORKER_READY = Pattern.compile("model '(.+)' ready: http://127\\.0\\.0\\.1:(\\d+)/v1");
    static final Pattern GRPC_READY = Pattern.compile("gRPC .* listening on [^:]+:(\\d+)");
    static final Pattern GATEWAY_READY = Pattern.compile("gateway ready: http://127\\.0\\.0\\.1:(\\d+)/v1");
    static final String CHAT = "{\"model\":\"demo\",\"temperature\":0,\"max_tokens\":24,\"user\":\"%s\",%s\"messages\":[{\"role\":\"user\",\"content\":\"What is 12 + 30?\"}]}";

    final List<SluiceProcess> processes = new ArrayList<>();
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @AfterEach
    void stopAll() throws Exception {
        for (SluiceProcess p : processes) p.close();
    }

    /** Starts a process and waits for each pattern in turn; returns the last group of each match. */
    List<String> start(ProcessBuilder pb, Pattern... waitFor) throws Exception {
        SluiceProcess p = SluiceProcess.start(pb);
        processes.add(p);
        List<String> out = new ArrayList<>();
        for (Pattern pattern : waitFor) {
            Matcher m = p.await(pattern, Duration.ofSeconds(240));
            out.add(m.group(m.groupCount()));
        }
        return out;
    }

    HttpResponse<String> chat(int gatewayPort, String user, String version, boolean stream) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gatewayPort + "/v1/chat/completions"))
                .timeout(Duration.ofSeconds(120)).header("content-type", "application/json")
                .header("cache-control", "no-cache, no-store") // greedy requests are cacheable: this test is about routing
                .POST(HttpRequest.BodyPublishers.ofString(CHAT.formatted(user, stream ? "\"stream\":true," : "")));
        if (version != null) b.header("Model-Version", version);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static String content(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body()).path("choices").get(0).path("message").path("content").asText();
    }

    @Test
    void gatewayRoutesToWorkerProcessesOverHttpAndGrpcAndSurvivesAWorkerDying(@TempDir Path dir) throws Exception {
        List<String> a = start(ServeCommandProcessTest.sluice(dir, "serve", "--role", "worker", "--port", "0", "--grpc-port", "0", "--threads", "1"),
                WORKER_READY, GRPC_READY);
        List<String> b = start(ServeCommandProcessTest.sluice(dir, "serve", "--role", "worker", "--port", "0", "--grpc-port", "-1", "--threads", "1"),
                WORKER_READY);
        int httpA = Integer.parseInt(a.get(0)), grpcA = Integer.parseInt(a.get(1)), httpB = Integer.parseInt(b.get(0));
        Path config = dir.resolve("gateway.yaml");
        Files.writeString(config, """
                grpc:
                  allowPlaintext: true   # loopback test; a real deployment configures mTLS (sluice certs)
                routing:
                  backends:
                    workers:
                      type: openai
                      endpoints: ["http://127.0.0.1:%d/v1", "http://127.0.0.1:%d/v1"]
                      healthCheck: {path: /health/ready, interval: PT1S}
                    worker-a-grpc:
                      type: grpc
                      endpoints: ["127.0.0.1:%d"]
                  models:
                    demo:
                      versions:
                        stable: {backend: workers, weight: 50}
                        canary: {backend: worker-a-grpc, weight: 50}
                """.formatted(httpA, httpB, grpcA));
        int gw = Integer.parseInt(start(ServeCommandProcessTest.sluice(dir, "serve", "--role", "gateway", "--port", "0", "--config", config.toString()),
                GATEWAY_READY).get(0));

        // both transports, pinned: the same greedy answer as the worker gives directly
        HttpResponse<String> overHttp = chat(gw, "u0", "stable", false), overGrpc = chat(gw, "u0", "canary", false);
        assertThat(overHttp.statusCode()).as(overHttp.body()).isEqualTo(200);
        assertThat(overGrpc.statusCode()).as(overGrpc.body()).isEqualTo(200);
        HttpResponse<String> direct = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpA + "/v1/chat/completions"))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(CHAT.formatted("u0", ""))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(content(overHttp)).isEqualTo(content(direct)).isEqualTo(content(overGrpc)).contains("42");

        // unpinned: the weights send users to both versions, and the served version is reported
        java.util.Set<String> served = new java.util.HashSet<>();
        for (int i = 0; i < 16; i++) {
            HttpResponse<String> r = chat(gw, "user-" + i, null, false);
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            served.add(r.headers().firstValue("x-sluice-version").orElse("?"));
        }
        assertThat(served).containsExactlyInAnyOrder("stable", "canary");

        // a stream over gRPC ends properly
        HttpResponse<String> stream = chat(gw, "u1", "canary", true);
        assertThat(stream.statusCode()).isEqualTo(200);
        assertThat(stream.body()).contains("\"role\":\"assistant\"").endsWith("data: [DONE]\n\n");

        // worker B dies: requests to the HTTP pool keep succeeding on A
        Process workerB = processes.get(1).process();
        workerB.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        for (int i = 0; i < 8; i++) {
            HttpResponse<String> r = chat(gw, "after-" + i, "stable", false);
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            assertThat(content(r)).isEqualTo(content(direct));
        }
    }
}
