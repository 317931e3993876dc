package dev.sluice.cli.hub;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A Hugging Face hub on loopback, for tests: {@code GET /api/models/{repo}} lists files as
 * {@code siblings[].rfilename}; {@code GET /{repo}/resolve/main/{file}} serves them with their
 * sha256 as a quoted {@code X-Linked-Etag}/{@code ETag} and honours {@code Range}. Faults are
 * switched on per test: wrong etags, ignored ranges, 5xx, stalls, tokens, CDN redirects.
 */
public final class FakeHub implements AutoCloseable {
    public record Request(String method, String path, String range, String authorization, String host) {}

    final Map<String, Map<String, byte[]>> repos = new ConcurrentHashMap<>();
    public final List<Request> requests = Collections.synchronizedList(new ArrayList<>());
    final Map<String, String> etagOverride = new ConcurrentHashMap<>();
    volatile boolean honourRange = true;
    volatile boolean redirectToCdn = false;
    volatile String requiredToken = null;
    final AtomicInteger failuresLeft = new AtomicInteger();
    /** When > 0: the next file response sends this many bytes, then stalls for {@link #stallMillis}. */
    final AtomicInteger stallAfterBytes = new AtomicInteger(-1);
    volatile long stallMillis = 0;
    /** When > 0: file bodies are sent in 10 slices with this pause between them. */
    volatile long trickleMillis = 0;

    private final HttpServer server;

    public FakeHub() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(Executors.newCachedThreadPool());
        server.start();
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    public FakeHub put(String repo, String file, byte[] content) {
        repos.computeIfAbsent(repo, r -> Collections.synchronizedMap(new LinkedHashMap<>())).put(file, content);
        return this;
    }

    public FakeHub put(String repo, String file, String content) {
        return put(repo, file, content.getBytes(StandardCharsets.UTF_8));
    }

    public long countRequests(String pathPart) {
        synchronized (requests) {
            return requests.stream().filter(r -> r.path().contains(pathPart)).count();
        }
    }

    public static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            requests.add(new Request(ex.getRequestMethod(), path, ex.getRequestHeaders().getFirst("Range"),
                    ex.getRequestHeaders().getFirst("Authorization"), ex.getRequestHeaders().getFirst("Host")));
            boolean cdn = path.startsWith("/cdn/");
            if (!cdn && requiredToken != null && !("Bearer " + requiredToken).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                ex.getResponseHeaders().add("X-Error-Message", "Invalid username or password.");
                ex.sendResponseHeaders(401, -1);
                return;
            }
            if (failuresLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                ex.sendResponseHeaders(503, -1);
                return;
            }
            if (path.startsWith("/api/models/")) {
                Map<String, byte[]> files = repos.get(path.substring("/api/models/".length()));
                if (files == null) {
                    ex.getResponseHeaders().add("X-Error-Message", "Repository not found");
                    ex.sendResponseHeaders(404, -1);
                    return;
                }
                StringBuilder json = new StringBuilder("{\"id\":\"x\",\"siblings\":[");
                synchronized (files) {
                    int i = 0;
                    for (String f : files.keySet()) json.append(i++ > 0 ? "," : "").append("{\"rfilename\":\"").append(f).append("\"}");
                }
                json.append("]}");
                byte[] body = json.toString().getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().add("Content-Type", "application/json");
                ex.sendResponseHeaders(200, body.length);
                ex.getResponseBody().write(body);
                return;
            }
            String p = cdn ? path.substring(4) : path;
            int resolve = p.indexOf("/resolve/main/");
            if (resolve < 0) {
                ex.sendResponseHeaders(404, -1);
                return;
            }
            String repo = p.substring(1, resolve);
            String file = p.substring(resolve + "/resolve/main/".length());
            Map<String, byte[]> files = repos.get(repo);
            byte[] data = files == null ? null : files.get(file);
            if (data == null) {
                ex.getResponseHeaders().add("X-Error-Message", "Entry not found");
                ex.sendResponseHeaders(404, -1);
                return;
            }
            String etag = "\"" + etagOverride.getOrDefault(file, sha256(data)) + "\"";
            if (redirectToCdn && !cdn) {
                ex.getResponseHeaders().add("X-Linked-Etag", etag);
                ex.getResponseHeaders().add("ETag", "\"0123456789abcdef0123456789abcdef01234567\"");
                ex.getResponseHeaders().add("Location", "http://localhost:" + server.getAddress().getPort() + "/cdn" + p);
                ex.sendResponseHeaders(302, -1);
                return;
            }
            if (!cdn) ex.getResponseHeaders().add("ETag", etag);
            int start = 0;
            String range = ex.getRequestHeaders().getFirst("Range");
            int status = 200;
            if (range != null && honourRange && range.startsWith("bytes=") && range.endsWith("-")) {
                start = Integer.parseInt(range.substring(6, range.length() - 1));
                if (start >= data.length) {
                    ex.getResponseHeaders().add("Content-Range", "bytes */" + data.length);
                    ex.sendResponseHeaders(416, -1);
                    return;
                }
                status = 206;
                ex.getResponseHeaders().add("Content-Range", "bytes " + start + "-" + (data.length - 1) + "/" + data.length);
            }
            ex.sendResponseHeaders(status, data.length - start);
            OutputStream out = ex.getResponseBody();
            int stallAt = stallAfterBytes.getAndSet(-1);
            if (stallAt >= 0) {
                out.write(data, start, stallAt);
                out.flush();
                try {
                    Thread.sleep(stallMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return; // connection closed mid-body
            }
            if (trickleMillis > 0) {
                int n = data.length - start;
                for (int i = 0; i < 10; i++) {
                    int from = start + (int) ((long) n * i / 10), to = start + (int) ((long) n * (i + 1) / 10);
                    out.write(data, from, to - from);
                    out.flush();
                    try {
                        Thread.sleep(trickleMillis);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return;
            }
            out.write(data, start, data.length - start);
        } catch (IOException e) {
            // client went away (e.g. aborted a stalled transfer)
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
