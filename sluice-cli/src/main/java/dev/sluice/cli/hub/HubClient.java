package dev.sluice.cli.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Downloads models from a Hugging Face-compatible hub into a local cache.
 *
 * <p>Design note. Files come from {@code {endpoint}/{repo}/resolve/main/{file}} and land in
 * {@code cacheDir/ORG/REPO/FILE}. A file present in the cache is used as is, with no network
 * access; a whole-repo download writes a {@value #SNAPSHOT_MARKER} file listing its files once
 * every file is complete, so a later resolution needs no listing either.
 * <ul>
 * <li><b>Resumable.</b> Bytes go to {@code FILE.part}; a later attempt (a retry, or the next run)
 *     sends {@code Range: bytes=N-}. A 206 appends; a 200 (server ignores ranges) starts over.</li>
 * <li><b>Verified.</b> The hub sends an LFS file's SHA-256 as the (quoted) {@code X-Linked-Etag}
 *     header, or as the {@code ETag}. When a 64-hex etag is present the whole file is hashed
 *     (resumed prefix included); a mismatch deletes the file and fails naming it.</li>
 * <li><b>Bounded.</b> Connect, response-header and body-stall timeouts (see {@link HubDefaults});
 *     transient failures (I/O, timeouts, 5xx, 429, truncation) are retried, resuming.</li>
 * <li><b>Private.</b> {@code HF_TOKEN} is sent as a bearer header only to the endpoint's own host
 *     (not to the CDN it redirects to), and never logged or put in messages.</li>
 * <li><b>Concurrency.</b> A client is used by one thread at a time. Processes downloading the
 *     same file serialise on a file lock, {@code cacheDir/.locks/ORG/REPO/FILE.lock}.</li>
 * </ul>
 */
public final class HubClient implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HubClient.class);

    /** Written into a repo's cache folder once all its model files are downloaded; lists them, one per line. */
    public static final String SNAPSHOT_MARKER = ".sluice-snapshot";

    /** Folder of the cache that holds the per-file lock files ({@code cacheDir/.locks/ORG/REPO/FILE.lock}). */
    static final String LOCKS_DIR = ".locks";

    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final ObjectMapper JSON = new ObjectMapper();
    /** One monitor per lock file, for threads of this process (a {@link FileLock} is per process). */
    private static final ConcurrentHashMap<Path, Object> IN_PROCESS_LOCKS = new ConcurrentHashMap<>();

    private final HubConfig config;
    private final DownloadProgress progress;
    private final HttpClient http;
    private final ScheduledExecutorService watchdog;

    public HubClient(HubConfig config, DownloadProgress progress) {
        this.config = config;
        this.progress = progress == null ? DownloadProgress.NONE : progress;
        this.http = HttpClient.newBuilder()
                .connectTimeout(config.connectTimeout())
                .followRedirects(HttpClient.Redirect.NEVER) // followed by hand: the token must not reach other hosts
                .build();
        this.watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "sluice-hub-watchdog");
            t.setDaemon(true);
            return t;
        });
    }

    public HubConfig config() {
        return config;
    }

    /**
     * Resolves a reference to a local path, downloading what is missing: the file itself for
     * {@code hf:ORG/REPO:FILE}, or the repo's folder (config, tokenizer, safetensors) for {@code hf:ORG/REPO}.
     */
    public Path fetch(HubReference ref) {
        return ref.file() != null ? downloadFile(ref.repo(), ref.file()) : downloadModelFolder(ref.repo());
    }

    /** The cache folder of a repo: {@code cacheDir/ORG/REPO} (legacy repos without an org: {@code cacheDir/_/REPO}). */
    public Path repoDir(String repo) {
        return repo.contains("/") ? config.cacheDir().resolve(repo) : config.cacheDir().resolve("_").resolve(repo);
    }

    /** Files a model folder needs, from a repo listing: config, tokenizer files, safetensors shards and their index. */
    public static List<String> selectModelFiles(List<String> siblings) {
        List<String> out = new ArrayList<>();
        for (String f : siblings) {
            if (f.contains("/")) continue; // top-level only: subfolders hold alternative formats
            if (f.equals("config.json") || f.equals("tokenizer.json") || f.equals("tokenizer_config.json")
                    || f.equals("generation_config.json")
                    || f.endsWith(".safetensors") || f.endsWith(".safetensors.index.json")) {
                out.add(f);
            }
        }
        return out;
    }

    /** Downloads the files of a Hugging Face model folder (see {@link #selectModelFiles}) and returns the folder. */
    public Path downloadModelFolder(String repo) {
        Path dir = repoDir(repo);
        Optional<List<String>> cached = readSnapshot(dir);
        if (cached.isPresent()) {
            log.debug("hf:{}: using cached snapshot in {}", repo, dir);
            return dir;
        }
        List<String> all = listFiles(repo);
        List<String> wanted = selectModelFiles(all);
        if (!wanted.contains("config.json") || wanted.stream().noneMatch(f -> f.endsWith(".safetensors"))) {
            List<String> ggufs = all.stream().filter(f -> f.toLowerCase(Locale.ROOT).endsWith(".gguf")).toList();
            String hint = ggufs.isEmpty() ? ""
                    : "; it has GGUF files, pick one with hf:" + repo + ":FILE, e.g. hf:" + repo + ":" + ggufs.getFirst()
                    + " (available: " + String.join(", ", ggufs.subList(0, Math.min(8, ggufs.size())))
                    + (ggufs.size() > 8 ? ", ..." : "") + ")";
            throw new HubException("hf:" + repo + " is not a Hugging Face model folder (needs config.json and *.safetensors)" + hint);
        }
        for (String f : wanted) downloadFile(repo, f);
        writeSnapshot(dir, wanted);
        return dir;
    }

    /** The repo's file names, from {@code GET {endpoint}/api/models/{repo}} ({@code siblings[].rfilename}). */
    public List<String> listFiles(String repo) {
        URI uri = URI.create(config.endpoint() + "/api/models/" + repo);
        String what = "listing of hf:" + repo;
        for (int attempt = 1; ; attempt++) {
            try {
                Exchange ex = send(uri, null);
                try (InputStream in = ex.response.body()) {
                    int status = ex.response.statusCode();
                    if (status != 200) throw statusError(status, ex, what, "hf:" + repo);
                    byte[] body = in.readNBytes(HubDefaults.MAX_LISTING_BYTES + 1);
                    if (body.length > HubDefaults.MAX_LISTING_BYTES) {
                        throw new HubException(what + " is larger than " + (HubDefaults.MAX_LISTING_BYTES >> 20) + " MiB");
                    }
                    return parseListing(repo, body);
                }
            } catch (IOException e) {
                retryOrFail(attempt, what, e);
            }
        }
    }

    static List<String> parseListing(String repo, byte[] body) {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (IOException e) {
            throw new HubException("listing of hf:" + repo + " is not valid JSON: " + (e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()));
        }
        JsonNode siblings = root == null ? null : root.get("siblings");
        if (siblings == null || !siblings.isArray()) {
            throw new HubException("listing of hf:" + repo + " has no \"siblings\" array");
        }
        List<String> files = new ArrayList<>();
        for (JsonNode s : siblings) {
            JsonNode name = s.get("rfilename");
            if (name != null && name.isTextual()) files.add(name.asText());
        }
        return files;
    }

    /**
     * Downloads one file of a repo into the cache (or returns the cached copy) and returns its path.
     *
     * @throws HubException not found, access denied, checksum mismatch, or failure after all attempts
     */
    public Path downloadFile(String repo, String file) {
        new HubReference(repo, file); // validates both: no absolute paths, no '..'
        Path dest = repoDir(repo).resolve(file);
        if (Files.isRegularFile(dest)) {
            log.debug("hf:{}:{}: cached at {}", repo, file, dest);
            return dest;
        }
        try {
            Files.createDirectories(dest.getParent());
            // locks live apart and are never deleted: deleting one would let a third process lock a new inode
            Path lockFile = config.cacheDir().resolve(LOCKS_DIR).resolve(config.cacheDir().relativize(dest) + ".lock");
            Files.createDirectories(lockFile.getParent());
            // a FileLock excludes other processes only; threads of this one queue on a monitor first
            synchronized (IN_PROCESS_LOCKS.computeIfAbsent(lockFile.toAbsolutePath().normalize(), k -> new Object())) {
                try (FileChannel lockChannel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                     FileLock ignored = lockChannel.lock()) {
                    if (Files.isRegularFile(dest)) return dest; // another thread or process finished it while we waited
                    String what = "hf:" + repo + ":" + file;
                    for (int attempt = 1; ; attempt++) {
                        try {
                            downloadOnce(repo, file, dest);
                            break;
                        } catch (IOException e) {
                            retryOrFail(attempt, "download of " + what, e);
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new HubException("cannot write " + dest + ": " + describe(e), 0, e);
        }
        return dest;
    }

    private void downloadOnce(String repo, String file, Path dest) throws IOException {
        Path part = dest.resolveSibling(dest.getFileName() + ".part");
        long have = Files.isRegularFile(part) ? Files.size(part) : 0;
        URI uri = URI.create(config.endpoint() + "/" + repo + "/resolve/" + HubDefaults.REVISION + "/" + encodePath(file));
        String what = "hf:" + repo + ":" + file;
        Exchange ex = send(uri, have > 0 ? "bytes=" + have + "-" : null);
        HttpResponse<InputStream> resp = ex.response;
        try (InputStream body = resp.body()) {
            int status = resp.statusCode();
            long total;
            if (status == 206 && have > 0) {
                long[] range = parseContentRange(resp.headers().firstValue("Content-Range").orElse(null));
                if (range == null || range[0] != have) {
                    Files.deleteIfExists(part); // server resumed at the wrong offset: start over
                    throw new TransientException("server answered a resume of " + file + " with range "
                            + resp.headers().firstValue("Content-Range").orElse("(none)") + "; restarting");
                }
                total = range[1];
            } else if (status == 200) {
                if (have > 0) log.debug("{}: server ignored Range, restarting from 0", what);
                have = 0;
                total = resp.headers().firstValueAsLong("Content-Length").orElse(-1);
            } else if (status == 416) {
                Files.deleteIfExists(part); // partial file is longer than the remote one: it is stale
                throw new TransientException("stale partial download of " + file + " (HTTP 416); restarting");
            } else {
                throw statusError(status, ex, what, what);
            }

            String sha256 = ex.sha256Etag();
            MessageDigest digest = sha256 != null ? sha256() : null;
            if (digest != null && have > 0) hashPrefix(part, have, digest);

            progress.start(file, total, have);
            long done = have;
            try (OutputStream out = new FileOutputStream(part.toFile(), have > 0)) {
                done = copyWithStallGuard(body, out, digest, done, file);
            }
            if (total >= 0 && done != total) {
                throw new TransientException(file + " was truncated at " + done + " of " + total + " bytes");
            }
            if (digest != null) {
                String actual = HexFormat.of().formatHex(digest.digest());
                if (!actual.equals(sha256)) {
                    Files.deleteIfExists(part);
                    throw new HubException("checksum mismatch for " + what + ": expected sha256 " + sha256 + ", got "
                            + actual + "; the partial file was deleted, run again to re-download");
                }
            }
            try {
                Files.move(part, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(part, dest, StandardCopyOption.REPLACE_EXISTING);
            }
            progress.finish(done);
            log.debug("{}: saved to {} ({} bytes{})", what, dest, done, digest != null ? ", sha256 verified" : "");
        }
    }

    /** Copies body to out, aborting (as a transient failure) when no byte arrives for the stall timeout. */
    private long copyWithStallGuard(InputStream in, OutputStream out, MessageDigest digest, long done, String file) throws IOException {
        Thread self = Thread.currentThread();
        long stallNanos = config.stallTimeout().toNanos();
        long[] lastProgress = {System.nanoTime()};
        boolean[] stalled = {false};
        long period = Math.max(10, config.stallTimeout().toMillis() / 4);
        ScheduledFuture<?> guard = watchdog.scheduleAtFixedRate(() -> {
            synchronized (stalled) {
                if (!stalled[0] && System.nanoTime() - lastProgress[0] > stallNanos) {
                    stalled[0] = true;
                    self.interrupt();
                }
            }
        }, period, period, TimeUnit.MILLISECONDS);
        byte[] buf = new byte[HubDefaults.BUFFER_BYTES];
        try {
            int n;
            while ((n = in.read(buf)) >= 0) {
                synchronized (stalled) {
                    lastProgress[0] = System.nanoTime();
                }
                out.write(buf, 0, n);
                if (digest != null) digest.update(buf, 0, n);
                done += n;
                progress.update(done);
            }
            return done;
        } catch (IOException e) {
            synchronized (stalled) {
                if (stalled[0]) {
                    throw new TransientException("no data for " + config.stallTimeout().toSeconds() + " s while downloading " + file);
                }
            }
            throw e;
        } finally {
            guard.cancel(false);
            synchronized (stalled) {
                stalled[0] = true;    // a guard run still in flight must not interrupt us later
                Thread.interrupted(); // clear an interrupt the guard may have sent
            }
        }
    }

    private static void hashPrefix(Path part, long length, MessageDigest digest) throws IOException {
        try (InputStream in = Files.newInputStream(part)) {
            byte[] buf = new byte[HubDefaults.BUFFER_BYTES];
            long left = length;
            while (left > 0) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                if (n < 0) throw new IOException(part + " shrank while being read");
                digest.update(buf, 0, n);
                left -= n;
            }
        }
    }

    /** One request with its redirects followed; {@code chain} holds every response, the last one with its body open. */
    private record Exchange(List<HttpResponse<InputStream>> chain, HttpResponse<InputStream> response) {
        /** The sha256 the hub announced: {@code X-Linked-Etag} anywhere in the chain, else the first {@code ETag}. */
        String sha256Etag() {
            for (HttpResponse<InputStream> r : chain) {
                Optional<String> linked = r.headers().firstValue("X-Linked-Etag");
                if (linked.isPresent()) return asSha256(linked.get());
            }
            return asSha256(chain.getFirst().headers().firstValue("ETag").orElse(null));
        }

        String errorMessage() {
            return response.headers().firstValue("X-Error-Message").orElse(null);
        }
    }

    static String asSha256(String etag) {
        if (etag == null) return null;
        String s = etag.trim();
        if (s.startsWith("W/")) s = s.substring(2);
        if (s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"")) s = s.substring(1, s.length() - 1);
        s = s.toLowerCase(Locale.ROOT);
        return SHA256.matcher(s).matches() ? s : null;
    }

    private Exchange send(URI uri, String range) throws IOException {
        List<HttpResponse<InputStream>> chain = new ArrayList<>();
        URI current = uri;
        for (int hop = 0; ; hop++) {
            HttpRequest.Builder req = HttpRequest.newBuilder(current).GET()
                    .timeout(config.responseTimeout())
                    .header("User-Agent", "sluice/0.1");
            if (range != null) req.header("Range", range);
            if (config.token() != null && sameOrigin(current, config.endpoint())) {
                req.header("Authorization", "Bearer " + config.token());
            }
            HttpResponse<InputStream> resp;
            try {
                resp = http.send(req.build(), HttpResponse.BodyHandlers.ofInputStream());
            } catch (HttpTimeoutException e) {
                throw new TransientException("no response from " + hostOf(current) + " within " + config.responseTimeout().toSeconds() + " s");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
            chain.add(resp);
            int status = resp.statusCode();
            if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
                resp.body().close();
                Optional<String> location = resp.headers().firstValue("Location");
                if (location.isEmpty()) throw new HubException("HTTP " + status + " from " + hostOf(current) + " without a Location header");
                if (hop + 1 >= HubDefaults.MAX_REDIRECTS) throw new HubException("too many redirects fetching " + uri.getPath());
                current = current.resolve(location.get());
                continue;
            }
            return new Exchange(chain, resp);
        }
    }

    /** Throws a {@link HubException} for a final failure, or returns a {@link TransientException} to throw and retry. */
    private TransientException statusError(int status, Exchange ex, String what, String ref) {
        String server = ex.errorMessage();
        String suffix = server != null ? " (hub says: " + server + ")" : "";
        if (status == 429) return new TransientException("rate limited by " + config.endpoint() + " (HTTP 429)");
        if (status >= 500) return new TransientException("HTTP " + status + " from " + config.endpoint() + " for " + what + suffix);
        throw switch (status) {
            case 404 -> new HubException(ref + " not found on " + config.endpoint() + " (HTTP 404)" + suffix
                    + "; check the repo id and file name", 404, null);
            case 401, 403 -> new HubException("access to " + ref + " denied by " + config.endpoint() + " (HTTP " + status + ")" + suffix
                    + (config.token() == null
                        ? "; the repo is private, gated or does not exist: set HF_TOKEN to an access token"
                        : "; the HF_TOKEN given has no access (for a gated model, accept its license on the hub)"), status, null);
            default -> new HubException("unexpected HTTP " + status + " from " + config.endpoint() + " for " + what + suffix, status, null);
        };
    }

    private void retryOrFail(int attempt, String what, Exception e) {
        if (attempt >= config.maxAttempts()) {
            throw new HubException(what + " from " + config.endpoint() + " failed after " + attempt
                    + (attempt == 1 ? " attempt: " : " attempts: ") + describe(e), 0, e);
        }
        long backoff = config.retryBackoff().toMillis() << (attempt - 1);
        progress.note(what + " failed (" + describe(e) + "); retrying in " + backoff + " ms (attempt " + (attempt + 1)
                + " of " + config.maxAttempts() + ")");
        try {
            Thread.sleep(backoff);
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw new HubException(what + " interrupted", 0, ie);
        }
    }

    static String describe(Throwable e) {
        if (e instanceof TransientException) return e.getMessage();
        String msg = e.getMessage();
        if (e instanceof java.net.ConnectException) return "cannot connect" + (msg != null ? " (" + msg + ")" : "");
        return e.getClass().getSimpleName() + (msg != null ? ": " + msg : "");
    }

    private static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost().equalsIgnoreCase(b.getHost())
                && effectivePort(a) == effectivePort(b);
    }

    private static int effectivePort(URI u) {
        return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    private static String hostOf(URI u) {
        return u.getHost() + (u.getPort() >= 0 ? ":" + u.getPort() : "");
    }

    /** {@code bytes START-END/TOTAL} as {start, total}; total -1 when {@code *}; null when malformed. */
    static long[] parseContentRange(String header) {
        if (header == null || !header.startsWith("bytes ")) return null;
        try {
            String spec = header.substring(6).trim();
            int dash = spec.indexOf('-');
            int slash = spec.indexOf('/');
            if (dash < 0 || slash < dash) return null;
            long start = Long.parseLong(spec.substring(0, dash));
            String totalStr = spec.substring(slash + 1);
            return new long[] {start, totalStr.equals("*") ? -1 : Long.parseLong(totalStr)};
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static String encodePath(String file) {
        StringBuilder sb = new StringBuilder();
        for (String seg : file.split("/")) {
            if (!sb.isEmpty()) sb.append('/');
            sb.append(URLEncoder.encode(seg, StandardCharsets.UTF_8).replace("+", "%20"));
        }
        return sb.toString();
    }

    private static Optional<List<String>> readSnapshot(Path dir) {
        Path marker = dir.resolve(SNAPSHOT_MARKER);
        if (!Files.isRegularFile(marker)) return Optional.empty();
        try {
            List<String> files = Files.readAllLines(marker).stream().filter(s -> !s.isBlank()).toList();
            for (String f : files) if (!Files.isRegularFile(dir.resolve(f))) return Optional.empty();
            return Optional.of(files);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static void writeSnapshot(Path dir, List<String> files) {
        try {
            Path tmp = dir.resolve(SNAPSHOT_MARKER + ".tmp");
            Files.write(tmp, files);
            Files.move(tmp, dir.resolve(SNAPSHOT_MARKER), StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new HubException("cannot write " + dir.resolve(SNAPSHOT_MARKER) + ": " + describe(e), 0, e);
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        watchdog.shutdownNow();
        http.close();
    }

    /** A failure worth retrying (I/O, timeout, 5xx, 429, truncation, stall). */
    static final class TransientException extends IOException {
        TransientException(String message) {
            super(message);
        }
    }
}
