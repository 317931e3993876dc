package dev.sluice.server.openai;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.SluiceServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The WebSocket endpoint over a real socket, driven by the JDK's WebSocket client. */
class WebSocketTest {
    static final FakeModel ECHO = new FakeModel("fake", "Hello, world! ✓", "", 4096);
    static final FakeModel SLOW = new FakeModel("slow", "x".repeat(2000), "", 4096);
    static final FakeModel SLOW2 = new FakeModel("slow2", "y".repeat(2000), "", 4096);
    static SluiceServer server;

    @BeforeAll
    static void start() {
        server = new SluiceServer(ServerConfig.defaults().withPort(0).withMaxWsRequests(3), List.of(ECHO, SLOW, SLOW2), () -> true).start();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static String request(String id, String model, String extra) {
        return "{\"type\":\"request\",\"id\":\"" + id + "\",\"body\":{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]" + extra + "}}";
    }

    @Test
    void twoMultiplexedRequestsEachGetTheirWholeStream() throws Exception {
        try (WsClient c = new WsClient(server.port())) {
            c.send(request("a", "fake", ",\"stream_options\":{\"include_usage\":true}"));
            c.send("{\"type\":\"request\",\"id\":\"b\",\"path\":\"/v1/completions\",\"body\":{\"model\":\"fake\",\"prompt\":\"Say\",\"max_tokens\":5}}");
            Map<String, StringBuilder> text = new HashMap<>();
            Map<String, String> finish = new HashMap<>();
            int usage = -1;
            int done = 0;
            while (done < 2) {
                JsonNode m = c.next();
                String id = m.get("id").asText();
                switch (m.get("type").asText()) {
                    case "chunk" -> {
                        JsonNode d = m.get("data");
                        if (d.has("usage")) usage = d.at("/usage/completion_tokens").asInt();
                        for (JsonNode ch : d.get("choices")) {
                            String t = id.equals("a") ? ch.at("/delta/content").asText("") : ch.get("text").asText("");
                            text.computeIfAbsent(id, k -> new StringBuilder()).append(t);
                            if (!ch.get("finish_reason").isNull()) finish.put(id, ch.get("finish_reason").asText());
                        }
                        assertThat(d.get("object").asText()).isEqualTo(id.equals("a") ? "chat.completion.chunk" : "text_completion");
                    }
                    case "done" -> {
                        assertThat(m.has("cancelled")).isFalse();
                        done++;
                    }
                    default -> throw new AssertionError("unexpected " + m);
                }
            }
            assertThat(text.get("a").toString()).isEqualTo("Hello, world! ✓");
            assertThat(text.get("b").toString()).isEqualTo("Hello");
            assertThat(finish).containsEntry("a", "stop").containsEntry("b", "length");
            assertThat(usage).isEqualTo(15);
        }
    }

    @Test
    void cancelEndsOnlyThatRequest() throws Exception {
        SLOW.lastCancelled = false;
        try (WsClient c = new WsClient(server.port())) {
            c.send(request("long", "slow", ""));
            c.send(request("short", "fake", ""));
            // wait until the long one streams, then cancel it
            JsonNode m;
            do m = c.next(); while (!(m.get("id").asText().equals("long") && m.at("/data/choices/0/delta/content").asText("").equals("x")));
            c.send("{\"type\":\"cancel\",\"id\":\"long\"}");
            boolean longDone = false, shortDone = false;
            while (!longDone || !shortDone) {
                m = c.next();
                if (m.get("type").asText().equals("done")) {
                    if (m.get("id").asText().equals("long")) {
                        assertThat(m.get("cancelled").asBoolean()).isTrue();
                        longDone = true;
                    } else {
                        assertThat(m.has("cancelled")).isFalse();
                        shortDone = true;
                    }
                }
            }
            // the engine stops the sequence at its next step (behind the gateway, the done event may come first)
            await().atMost(5, TimeUnit.SECONDS).until(() -> SLOW.lastCancelled);
            // the id may be reused after its terminal message
            c.send(request("long", "fake", ""));
            do m = c.next(); while (!m.get("type").asText().equals("done"));
            assertThat(m.get("id").asText()).isEqualTo("long");
        }
    }

    @Test
    void disconnectCancelsAllOfTheSocketsGenerations() throws Exception {
        SLOW.lastCancelled = false;
        SLOW2.lastCancelled = false;
        WsClient c = new WsClient(server.port());
        c.send(request("1", "slow", ""));
        c.send(request("2", "slow2", ""));
        int seen = 0;
        while (seen < 4) if (c.next().get("type").asText().equals("chunk")) seen++;
        c.ws.abort();
        await().atMost(10, TimeUnit.SECONDS).until(() -> SLOW.lastCancelled && SLOW2.lastCancelled);
        await().atMost(10, TimeUnit.SECONDS).until(() -> server.inFlight() == 0);
    }

    @Test
    void badMessagesGetErrorsForTheirIdAndTheSocketStaysUsable() throws Exception {
        try (WsClient c = new WsClient(server.port())) {
            c.send("{not json");
            JsonNode e = c.next();
            assertThat(e.get("type").asText()).isEqualTo("error");
            assertThat(e.get("id").isNull()).isTrue();
            assertThat(e.get("status").asInt()).isEqualTo(400);
            assertThat(e.at("/error/message").asText()).contains("not valid JSON");

            c.send(request("t", "fake", ",\"temperature\":\"hot\""));
            e = c.next();
            assertThat(e.get("id").asText()).isEqualTo("t");
            assertThat(e.at("/error/param").asText()).isEqualTo("temperature");

            c.send(request("m", "nope", ""));
            e = c.next();
            assertThat(e.get("status").asInt()).isEqualTo(404);
            assertThat(e.at("/error/code").asText()).isEqualTo("model_not_found");

            c.send("{\"type\":\"request\",\"id\":\"p\",\"path\":\"/v1/embeddings\",\"body\":{}}");
            assertThat(c.next().at("/error/param").asText()).isEqualTo("path");

            c.send("{\"type\":\"request\",\"body\":{}}");
            assertThat(c.next().at("/error/param").asText()).isEqualTo("id");

            c.send(request("ok", "fake", ""));
            JsonNode m;
            do m = c.next(); while (!m.get("type").asText().equals("done"));
            assertThat(m.get("id").asText()).isEqualTo("ok");
        }
    }

    @Test
    void perSocketLimitAndDuplicateIds() throws Exception {
        try (WsClient c = new WsClient(server.port())) {
            c.send(request("1", "slow", ""));
            c.send(request("1", "slow", ""));
            JsonNode e;
            do e = c.next(); while (!e.get("type").asText().equals("error"));
            assertThat(e.at("/error/param").asText()).isEqualTo("id");
            c.send(request("2", "slow", ""));
            c.send(request("3", "slow", ""));
            c.send(request("4", "slow", ""));
            do e = c.next(); while (!e.get("type").asText().equals("error"));
            assertThat(e.get("id").asText()).isEqualTo("4");
            assertThat(e.get("status").asInt()).isEqualTo(429);
            assertThat(e.at("/error/code").asText()).isEqualTo("too_many_requests");
        }
        await().atMost(10, TimeUnit.SECONDS).until(() -> server.inFlight() == 0);
    }

    @Test
    void deadlineEndsTheStreamWithAnErrorMessage() throws Exception {
        try (WsClient c = new WsClient(server.port())) {
            c.send("{\"type\":\"request\",\"id\":\"d\",\"deadline_ms\":150,\"body\":{\"model\":\"slow\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}}");
            JsonNode m;
            int chunks = 0;
            do {
                m = c.next();
                if (m.get("type").asText().equals("chunk")) chunks++;
            } while (m.get("type").asText().equals("chunk"));
            assertThat(chunks).isGreaterThan(1);
            assertThat(m.get("type").asText()).isEqualTo("error");
            assertThat(m.get("status").asInt()).isEqualTo(504);
            assertThat(m.at("/error/code").asText()).isEqualTo("deadline_exceeded");
        }
    }
}
