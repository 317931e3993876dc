package dev.sluice.cli.hub;

import java.nio.file.Path;
import java.time.Duration;

/**
 * Every default of the Hugging Face hub client, in one place, with its unit and reason.
 * {@link HubConfig} starts from these; environment variables and CLI options override them.
 */
public final class HubDefaults {
    private HubDefaults() {}

    /** Hub base URL. Overrides, strongest first: {@code --hf-endpoint}, {@code SLUICE_HF_ENDPOINT}, {@code HF_ENDPOINT}. */
    public static final String ENDPOINT = "https://huggingface.co";

    /** Cache folder below the user's home. Overrides, strongest first: {@code --cache-dir}, {@code SLUICE_CACHE}. */
    public static final Path CACHE_DIR_UNDER_HOME = Path.of(".cache", "sluice", "hub");

    /** Revision downloaded from ({@code resolve/main}); the cache layout is per repo, one revision. */
    public static final String REVISION = "main";

    /** TCP connect timeout: 10 s. A hub that does not accept a connection by then is down or unreachable. */
    public static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    /**
     * Time from sending a request to its response headers: 60 s. The hub answers quickly;
     * the CDN may take a while to start a large file. When hit, the attempt fails and is retried.
     */
    public static final Duration RESPONSE_TIMEOUT = Duration.ofSeconds(60);

    /**
     * Longest pause with no body bytes: 60 s. Large files legitimately take hours, so there is no
     * total timeout; a stalled transfer is aborted and retried, resuming from the {@code .part} file.
     */
    public static final Duration STALL_TIMEOUT = Duration.ofSeconds(60);

    /** Attempts per file (first try plus retries) for transient failures: 3. Each retry resumes. */
    public static final int MAX_ATTEMPTS = 3;

    /** Pause before a retry: 1 s, doubled per attempt. */
    public static final Duration RETRY_BACKOFF = Duration.ofSeconds(1);

    /** Redirects followed per request: 10 (the hub redirects LFS files to its CDN once or twice). */
    public static final int MAX_REDIRECTS = 10;

    /** Largest repo listing accepted from {@code /api/models/{repo}}: 16 MiB; bigger is an error. */
    public static final int MAX_LISTING_BYTES = 16 << 20;

    /** Copy buffer: 256 KiB, large enough that syscall overhead is negligible on fast links. */
    public static final int BUFFER_BYTES = 256 << 10;

    /** Progress bar redraw interval on a terminal: 100 ms (smooth without flooding). */
    public static final Duration PROGRESS_REDRAW = Duration.ofMillis(100);

    /** Progress line interval when stderr is not a terminal (logs, CI): 5 s. */
    public static final Duration PROGRESS_LINE_INTERVAL = Duration.ofSeconds(5);
}
