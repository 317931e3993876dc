package dev.sluice.cli.hub;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HubClientTest {
    static final String REPO = "acme/tiny-model";

    @TempDir Path cache;
    FakeHub hub;
    byte[] weights;
    byte[] shard2;

    @BeforeEach
    void start() throws Exception {
        hub = new FakeHub();
        weights = new byte[300_000];
        new Random(1).nextBytes(weights);
        shard2 = new byte[1234];
        new Random(2).nextBytes(shard2);
        hub.put(REPO, "config.json", "{\"model_type\":\"llama\"}")
                .put(REPO, "tokenizer.json", "{}")
                .put(REPO, "tokenizer_config.json", "{}")
                .put(REPO, "model-00001-of-00002.safetensors", weights)
                .put(REPO, "model-00002-of-00002.safetensors", shard2)
                .put(REPO, "model.safetensors.index.json", "{\"weight_map\":{}}")
                .put(REPO, "README.md", "# readme")
                .put(REPO, "original/consolidated.pth", "not wanted")
                .put(REPO, "model-q8_0.gguf", weights);
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    HubClient client() {
        return client(null);
    }

    HubClient client(String token) {
        return new HubClient(HubConfig.of(hub.endpoint(), cache, token).withRetries(3, Duration.ofMillis(10)), DownloadProgress.NONE);
    }

    @Test
    void downloadsModelFolderFromListingWithVerifiedChecksums() throws Exception {
        Path dir;
        try (HubClient c = client()) {
            dir = c.fetch(HubReference.parse("hf:" + REPO));
        }
        assertThat(dir).isEqualTo(cache.resolve("acme/tiny-model"));
        assertThat(Files.readAllBytes(dir.resolve("model-00001-of-00002.safetensors"))).isEqualTo(weights);
        assertThat(Files.readAllBytes(dir.resolve("model-00002-of-00002.safetensors"))).isEqualTo(shard2);
        assertThat(Files.readString(dir.resolve("config.json"))).contains("llama");
        assertThat(dir.resolve("tokenizer.json")).exists();
        assertThat(dir.resolve("tokenizer_config.json")).exists();
        assertThat(dir.resolve("model.safetensors.index.json")).exists();
        assertThat(dir.resolve("README.md")).doesNotExist();
        assertThat(dir.resolve("model-q8_0.gguf")).doesNotExist();
        assertThat(dir.resolve("original")).doesNotExist();
        try (var s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".part") || n.endsWith(".lock"));
        }
        assertThat(hub.countRequests("/api/models/" + REPO)).isEqualTo(1);
    }

    @Test
    void secondResolutionUsesCacheWithoutNetwork() throws Exception {
        Path dir;
        Path gguf;
        try (HubClient c = client()) {
            dir = c.fetch(HubReference.parse("hf:" + REPO));
            gguf = c.fetch(HubReference.parse("hf:" + REPO + ":model-q8_0.gguf"));
        }
        hub.close(); // no network from here on
        try (HubClient c = client()) {
            assertThat(c.fetch(HubReference.parse("hf:" + REPO))).isEqualTo(dir);
            assertThat(c.fetch(HubReference.parse("hf:" + REPO + ":model-q8_0.gguf"))).isEqualTo(gguf);
        }
        assertThat(Files.readAllBytes(gguf)).isEqualTo(weights);
    }

    @Test
    void resumesFromPartFileWithRangeRequest() throws Exception {
        Path dest = cache.resolve(REPO).resolve("model-q8_0.gguf");
        Files.createDirectories(dest.getParent());
        Files.write(dest.resolveSibling("model-q8_0.gguf.part"), Arrays.copyOf(weights, 100_000));
        try (HubClient c = client()) {
            assertThat(c.downloadFile(REPO, "model-q8_0.gguf")).isEqualTo(dest);
        }
        assertThat(Files.readAllBytes(dest)).isEqualTo(weights);
        assertThat(dest.resolveSibling("model-q8_0.gguf.part")).doesNotExist();
        assertThat(hub.requests).filteredOn(r -> r.path().endsWith("model-q8_0.gguf"))
                .singleElement().extracting(FakeHub.Request::range).isEqualTo("bytes=100000-");
    }

    @Test
    void restartsWhenServerIgnoresRange() throws Exception {
        hub.honourRange = false;
        Path dest = cache.resolve(REPO).resolve("model-q8_0.gguf");
        Files.createDirectories(dest.getParent());
        byte[] stale = new byte[50_000]; // content that must be discarded on a 200
        Files.write(dest.resolveSibling("model-q8_0.gguf.part"), stale);
        try (HubClient c = client()) {
            c.downloadFile(REPO, "model-q8_0.gguf");
        }
        assertThat(Files.readAllBytes(dest)).isEqualTo(weights);
    }

    @Test
    void partLongerThanRemoteFileIsDiscarded() throws Exception {
        Path dest = cache.resolve(REPO).resolve("config.json");
        Files.createDirectories(dest.getParent());
        Files.write(dest.resolveSibling("config.json.part"), new byte[10_000]); // server answers 416
        try (HubClient c = client()) {
            c.downloadFile(REPO, "config.json");
        }
        assertThat(Files.readString(dest)).isEqualTo("{\"model_type\":\"llama\"}");
    }

    @Test
    void checksumMismatchDeletesFileAndNamesIt() {
        hub.etagOverride.put("model-q8_0.gguf", "a".repeat(64));
        try (HubClient c = client()) {
            assertThatThrownBy(() -> c.downloadFile(REPO, "model-q8_0.gguf"))
                    .isInstanceOf(HubException.class)
                    .hasMessageContaining("checksum mismatch")
                    .hasMessageContaining("model-q8_0.gguf")
                    .hasMessageContaining("a".repeat(64))
                    .hasMessageContaining(FakeHub.sha256(weights));
        }
        assertThat(cache.resolve(REPO).resolve("model-q8_0.gguf")).doesNotExist();
        assertThat(cache.resolve(REPO).resolve("model-q8_0.gguf.part")).doesNotExist();
    }

    @Test
    void checksumOfResumedFileCoversThePrefix() throws Exception {
        Path dest = cache.resolve(REPO).resolve("model-q8_0.gguf");
        Files.createDirectories(dest.getParent());
        byte[] corruptPrefix = Arrays.copyOf(weights, 100_000);
        corruptPrefix[5] ^= 1;
        Files.write(dest.resolveSibling("model-q8_0.gguf.part"), corruptPrefix);
        try (HubClient c = client()) {
            assertThatThrownBy(() -> c.downloadFile(REPO, "model-q8_0.gguf")).hasMessageContaining("checksum mismatch");
        }
        assertThat(dest.resolveSibling("model-q8_0.gguf.part")).doesNotExist();
    }

    @Test
    void missingFileIs404NamingIt() {
        try (HubClient c = client()) {
            assertThatThrownBy(() -> c.fetch(HubReference.parse("hf:" + REPO + ":nope.gguf")))
                    .isInstanceOfSatisfying(HubException.class, e -> assertThat(e.status()).isEqualTo(404))
                    .hasMessageContaining("hf:acme/tiny-model:nope.gguf")
                    .hasMessageContaining("HTTP 404");
        }
        assertThat(cache.resolve(REPO).resolve("nope.gguf")).doesNotExist();
        assertThat(cache.resolve(REPO).resolve("nope.gguf.part")).doesNotExist();
    }

    @Test
    void missingRepoIs404NamingIt() {
        try (HubClient c = client()) {
            assertThatThrownBy(() -> c.fetch(HubReference.parse("hf:acme/missing")))
                    .isInstanceOf(HubException.class)
                    .hasMessageContaining("hf:acme/missing")
                    .hasMessageContaining("not found")
                    .hasMessageContaining("Repository not found");
        }
    }

    @Test
    void unauthorizedExplainsHfTokenAndTokenIsSentOnlyToTheHub() throws Exception {
        hub.requiredToken = "hf_secret123";
        try (HubClient c = client()) {
            assertThatThrownBy(() -> c.downloadFile(REPO, "config.json"))
                    .isInstanceOfSatisfying(HubException.class, e -> assertThat(e.status()).isEqualTo(401))
                    .hasMessageContaining("HF_TOKEN")
                    .hasMessageNotContaining("hf_secret123");
        }
        hub.redirectToCdn = true;
        try (HubClient c = client("hf_secret123")) {
            assertThat(c.config().toString()).doesNotContain("hf_secret123");
            Path p = c.downloadFile(REPO, "model-q8_0.gguf");
            assertThat(Files.readAllBytes(p)).isEqualTo(weights);
        }
        assertThat(hub.requests).filteredOn(r -> r.path().startsWith("/cdn/")).singleElement()
                .satisfies(r -> assertThat(r.authorization()).isNull());
        assertThat(hub.requests).filteredOn(r -> r.path().startsWith("/acme/") && r.path().endsWith(".gguf"))
                .allSatisfy(r -> assertThat(r.authorization()).isEqualTo("Bearer hf_secret123"));
    }

    @Test
    void linkedEtagOnRedirectIsVerified() {
        hub.redirectToCdn = true;
        hub.etagOverride.put("model-q8_0.gguf", "b".repeat(64));
        try (HubClient c = client()) {
            assertThatThrownBy(() -> c.downloadFile(REPO, "model-q8_0.gguf")).hasMessageContaining("checksum mismatch");
        }
    }

    @Test
    void retriesServerErrors() throws Exception {
        hub.failuresLeft.set(2);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try (HubClient c = new HubClient(HubConfig.of(hub.endpoint(), cache, null).withRetries(3, Duration.ofMillis(1)),
                DownloadProgress.console(new PrintWriter(err, true, StandardCharsets.UTF_8), false))) {
            assertThat(Files.readString(c.downloadFile(REPO, "config.json"))).contains("llama");
        }
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("HTTP 503").contains("retrying").contains("downloaded config.json");
    }

    @Test
    void givesUpAfterMaxAttempts() {
        hub.failuresLeft.set(10);
        try (HubClient c = client()) {
            assertThatThrownBy(() -> c.downloadFile(REPO, "config.json"))
                    .isInstanceOf(HubException.class)
                    .hasMessageContaining("failed after 3 attempts")
                    .hasMessageContaining("HTTP 503");
        }
    }

    @Test
    void stalledTransferIsAbortedAndResumed() throws Exception {
        hub.stallAfterBytes.set(120_000);
        hub.stallMillis = 3_000;
        HubConfig cfg = HubConfig.of(hub.endpoint(), cache, null)
                .withTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofMillis(300))
                .withRetries(3, Duration.ofMillis(1));
        long t0 = System.nanoTime();
        try (HubClient c = new HubClient(cfg, DownloadProgress.NONE)) {
            assertThat(Files.readAllBytes(c.downloadFile(REPO, "model-q8_0.gguf"))).isEqualTo(weights);
        }
        assertThat((System.nanoTime() - t0) / 1e9).isLessThan(2.5);
        assertThat(hub.requests).filteredOn(r -> r.path().endsWith("model-q8_0.gguf"))
                .extracting(FakeHub.Request::range).containsExactly(null, "bytes=120000-");
    }

    @Test
    void connectionResetMidBodyIsResumed() throws Exception {
        hub.stallAfterBytes.set(70_000);
        hub.stallMillis = 0; // send 70 kB, then close the connection
        try (HubClient c = client()) {
            assertThat(Files.readAllBytes(c.downloadFile(REPO, "model-q8_0.gguf"))).isEqualTo(weights);
        }
        assertThat(hub.requests).filteredOn(r -> r.path().endsWith("model-q8_0.gguf"))
                .extracting(FakeHub.Request::range).containsExactly(null, "bytes=70000-");
    }

    @Test
    void tricklingTransferIsNotAStall() throws Exception {
        hub.trickleMillis = 100; // 10 slices, 100 ms apart: slower than the stall timeout in total, never stalled
        HubConfig cfg = HubConfig.of(hub.endpoint(), cache, null)
                .withTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofMillis(400))
                .withRetries(1, Duration.ZERO);
        try (HubClient c = new HubClient(cfg, DownloadProgress.NONE)) {
            assertThat(Files.readAllBytes(c.downloadFile(REPO, "model-q8_0.gguf"))).isEqualTo(weights);
        }
    }

    @Test
    void concurrentDownloadsOfOneFileFetchItOnce() throws Exception {
        hub.stallAfterBytes.set(-1);
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(4)) {
            List<java.util.concurrent.Future<Path>> results = new java.util.ArrayList<>();
            for (int i = 0; i < 4; i++) {
                results.add(pool.submit(() -> {
                    try (HubClient c = client()) {
                        return c.downloadFile(REPO, "model-q8_0.gguf");
                    }
                }));
            }
            for (var f : results) assertThat(Files.readAllBytes(f.get())).isEqualTo(weights);
        }
        assertThat(hub.countRequests("model-q8_0.gguf")).isEqualTo(1);
        assertThat(cache.resolve(".locks/acme/tiny-model/model-q8_0.gguf.lock")).exists();
    }

    @Test
    void unreachableHubFailsWithClearMessage() throws Exception {
        var endpoint = hub.endpoint();
        hub.close();
        try (HubClient c = new HubClient(HubConfig.of(endpoint, cache, null).withRetries(1, Duration.ZERO), DownloadProgress.NONE)) {
            assertThatThrownBy(() -> c.downloadFile(REPO, "config.json"))
                    .isInstanceOf(HubException.class)
                    .hasMessageContaining(endpoint.toString())
                    .hasMessageContaining("cannot connect");
        }
    }

    @Test
    void ggufOnlyRepoSuggestsPickingAFile() {
        hub.put("acme/gguf-only", "model-Q4_0.gguf", "x").put("acme/gguf-only", "README.md", "x");
        try (HubClient c = client()) {
            assertThatThrownBy(() -> c.fetch(HubReference.parse("hf:acme/gguf-only")))
                    .hasMessageContaining("hf:acme/gguf-only:model-Q4_0.gguf");
        }
    }

    @Test
    void selectsModelFiles() {
        assertThat(HubClient.selectModelFiles(List.of("config.json", "model.safetensors", "README.md", ".gitattributes",
                "tokenizer.json", "onnx/model.safetensors", "model.gguf", "generation_config.json")))
                .containsExactly("config.json", "model.safetensors", "tokenizer.json", "generation_config.json");
    }

    @Test
    void etagParsing() {
        String h = "ab".repeat(32);
        assertThat(HubClient.asSha256("\"" + h + "\"")).isEqualTo(h);
        assertThat(HubClient.asSha256("W/\"" + h.toUpperCase() + "\"")).isEqualTo(h);
        assertThat(HubClient.asSha256("\"0123456789abcdef0123456789abcdef01234567\"")).isNull(); // git sha1: not verified
        assertThat(HubClient.asSha256(null)).isNull();
        assertThat(HubClient.parseContentRange("bytes 100-199/200")).containsExactly(100, 200);
        assertThat(HubClient.parseContentRange("bytes 5-9/*")).containsExactly(5, -1);
        assertThat(HubClient.parseContentRange("garbage")).isNull();
    }

    @Test
    void referenceParsing() {
        assertThat(HubReference.parse("hf:Qwen/Qwen3-0.6B")).isEqualTo(new HubReference("Qwen/Qwen3-0.6B", null));
        assertThat(HubReference.parse("hf:org/repo:sub/dir/model.gguf")).isEqualTo(new HubReference("org/repo", "sub/dir/model.gguf"));
        assertThatThrownBy(() -> HubReference.parse("hf:org/repo:../../etc/passwd")).hasMessageContaining("relative path");
        assertThatThrownBy(() -> HubReference.parse("hf:a/b/c")).hasMessageContaining("ORG/REPO");
        assertThatThrownBy(() -> HubReference.parse("hf:")).hasMessageContaining("hf:ORG/REPO");
        assertThatThrownBy(() -> HubReference.parse("hf:org/../x")).hasMessageContaining("ORG/REPO");
    }

    @Test
    void configFromEnvironment() {
        HubConfig c = HubConfig.fromEnvironment(Map.of("HF_ENDPOINT", "http://mirror:8080/", "SLUICE_CACHE", "/tmp/x", "HF_TOKEN", "t"), null, null);
        assertThat(c.endpoint().toString()).isEqualTo("http://mirror:8080");
        assertThat(c.cacheDir()).isEqualTo(Path.of("/tmp/x"));
        assertThat(c.token()).isEqualTo("t");
        HubConfig d = HubConfig.fromEnvironment(Map.of("HF_ENDPOINT", "http://a", "SLUICE_HF_ENDPOINT", "http://b"), "http://c", Path.of("/c"));
        assertThat(d.endpoint().toString()).isEqualTo("http://c");
        assertThat(d.cacheDir()).isEqualTo(Path.of("/c"));
        assertThat(HubConfig.fromEnvironment(Map.of("HF_ENDPOINT", "http://a", "SLUICE_HF_ENDPOINT", "http://b"), null, null).endpoint().toString())
                .isEqualTo("http://b");
        HubConfig e = HubConfig.fromEnvironment(Map.of(), null, null);
        assertThat(e.endpoint().toString()).isEqualTo(HubDefaults.ENDPOINT);
        assertThat(e.cacheDir().toString()).endsWith(".cache/sluice/hub");
        assertThatThrownBy(() -> HubConfig.fromEnvironment(Map.of("HF_ENDPOINT", "ftp://x"), null, null)).hasMessageContaining("ftp://x");
    }
}
