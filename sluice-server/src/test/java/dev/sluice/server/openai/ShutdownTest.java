package dev.sluice.server.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.SluiceServer;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Graceful shutdown of a spawned in-process server, with streams in flight over SSE and WebSocket. */
class ShutdownTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    static Iterator<String> sse(int port, String model) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"))
                .build();
        HttpResponse<Stream<String>> r = CLIENT.send(req, HttpResponse.BodyHandlers.ofLines());
        assertThat(r.statusCode()).isEqualTo(200);
        return r.body().filter(l -> !l.isEmpty()).iterator();
    }

    static List<String> rest(Iterator<String> it) {
        List<String> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    @Test
    void inFlightStreamsFinishWithinTheDrainTimeoutAndNewWorkIsRefused() throws Exception {
        FakeModel medium = new FakeModel("medium", "m".repeat(120), "", 4096); // about 2.4 s
        SluiceServer server = new SluiceServer(ServerConfig.defaults().withPort(0).withDrainTimeout(Duration.ofSeconds(20)), List.of(medium), () -> true).start();
        WsClient ws = new WsClient(server.port());
        ws.send("{\"type\":\"request\",\"id\":\"a\",\"body\":{\"model\":\"medium\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}}");
        Iterator<String> stream = sse(server.port(), "medium");
        stream.next();
        assertThat(ws.next().get("type").asText()).isEqualTo("chunk");

        CompletableFuture<Void> closing = CompletableFuture.runAsync(server::close);
        await().atMost(5, TimeUnit.SECONDS).until(server::draining);
        ws.send("{\"type\":\"request\",\"id\":\"b\",\"body\":{\"model\":\"medium\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}}");

        StringBuilder wsText = new StringBuilder();
        JsonNode refused = null, done = null;
        while (done == null) {
            JsonNode m = ws.next();
            switch (m.get("type").asText()) {
                case "chunk" -> wsText.append(m.at("/data/choices/0/delta/content").asText(""));
                case "error" -> refused = m;
                case "done" -> done = m;
                default -> throw new AssertionError(m.toString());
            }
        }
        assertThat(refused.get("id").asText()).isEqualTo("b");
        assertThat(refused.get("status").asInt()).isEqualTo(503);
        assertThat(refused.at("/error/code").asText()).isEqualTo("server_shutdown");
        assertThat(done.get("id").asText()).isEqualTo("a");
        assertThat(wsText.toString()).hasSize(120); // the first chunk, read above, was the role

        List<String> lines = rest(stream);
        assertThat(lines.getLast()).isEqualTo("data: [DONE]");
        StringBuilder sseText = new StringBuilder();
        for (String l : lines) if (!l.equals("data: [DONE]")) sseText.append(JSON.readTree(l.substring(6)).at("/choices/0/delta/content").asText(""));
        assertThat(sseText.toString()).hasSize(120);

        closing.get(20, TimeUnit.SECONDS);
        assertThat(ws.closed.get(5, TimeUnit.SECONDS)).isEqualTo(1001);
        assertThat(server.inFlight()).isZero();
    }

    @Test
    void streamsStillRunningAtTheDrainTimeoutEndWithAnErrorEvent() throws Exception {
        FakeModel slow = new FakeModel("slow", "s".repeat(2000), "", 4096); // about 40 s
        SluiceServer server = new SluiceServer(ServerConfig.defaults().withPort(0).withDrainTimeout(Duration.ofMillis(300)), List.of(slow), () -> true).start();
        WsClient ws = new WsClient(server.port());
        ws.send("{\"type\":\"request\",\"id\":\"a\",\"body\":{\"model\":\"slow\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}}");
        Iterator<String> stream = sse(server.port(), "slow");
        stream.next();
        CompletableFuture<String> plain = CLIENT.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"slow\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}")).build(),
                HttpResponse.BodyHandlers.ofString()).thenApply(r -> r.statusCode() + " " + r.body());
        assertThat(ws.next().get("type").asText()).isEqualTo("chunk");
        await().atMost(5, TimeUnit.SECONDS).until(() -> server.inFlight() == 3);

        long t0 = System.nanoTime();
        server.close();
        assertThat((System.nanoTime() - t0) / 1e9).isLessThan(5);

        List<String> lines = rest(stream);
        JsonNode last = JSON.readTree(lines.getLast().substring(6));
        assertThat(last.at("/error/code").asText()).isEqualTo("server_shutdown");
        assertThat(lines).doesNotContain("data: [DONE]");

        JsonNode m;
        do m = ws.next(); while (m.get("type").asText().equals("chunk"));
        assertThat(m.get("type").asText()).isEqualTo("error");
        assertThat(m.at("/error/code").asText()).isEqualTo("server_shutdown");
        assertThat(ws.closed.get(5, TimeUnit.SECONDS)).isEqualTo(1001);

        String p = plain.get(5, TimeUnit.SECONDS);
        assertThat(p).startsWith("503 ").contains("server_shutdown");
        assertThat(server.inFlight()).isZero();
    }
}
