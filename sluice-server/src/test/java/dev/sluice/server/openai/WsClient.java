package dev.sluice.server.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A test client on the JDK's own WebSocket implementation: sends JSON, queues the JSON it receives. */
public final class WsClient implements WebSocket.Listener, AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    final BlockingQueue<JsonNode> received = new LinkedBlockingQueue<>();
    final CompletableFuture<Integer> closed = new CompletableFuture<>();
    private final StringBuilder partial = new StringBuilder();
    final WebSocket ws;

    public WsClient(int port) {
        this(port, java.util.Map.of());
    }

    /** Connects with {@code headers} on the upgrade request (e.g. {@code Authorization}); the upgrade's failure is thrown. */
    public WsClient(int port, java.util.Map<String, String> headers) {
        WebSocket.Builder b = HttpClient.newHttpClient().newWebSocketBuilder();
        headers.forEach(b::header);
        ws = b.buildAsync(URI.create("ws://127.0.0.1:" + port + "/v1/ws"), this).join();
    }

    public void send(String json) {
        ws.sendText(json, true).join();
    }

    /** The next message, failing after 10 s. */
    public JsonNode next() throws InterruptedException {
        JsonNode n = received.poll(10, TimeUnit.SECONDS);
        if (n == null) throw new AssertionError("no WebSocket message within 10 s");
        return n;
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
        partial.append(data);
        if (last) {
            try {
                received.add(JSON.readTree(partial.toString()));
            } catch (Exception e) {
                throw new AssertionError("not JSON: " + partial, e);
            }
            partial.setLength(0);
        }
        webSocket.request(1);
        return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
        closed.complete(statusCode);
        return webSocket.sendClose(WebSocket.NORMAL_CLOSURE, ""); // complete the closing handshake
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
        closed.completeExceptionally(error);
    }

    @Override
    public void close() {
        ws.abort();
    }
}
