package dev.sluice.cli.hub;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * Immutable, validated settings of the hub client. Build it with {@link #fromEnvironment} (the
 * CLI) or directly (tests). Defaults are in {@link HubDefaults}.
 *
 * @param endpoint        hub base URL, e.g. {@code https://huggingface.co} (no trailing slash)
 * @param cacheDir        where downloads are kept: {@code cacheDir/ORG/REPO/FILE}
 * @param token           bearer token ({@code HF_TOKEN}) or null; sent only to the endpoint's host, never logged
 * @param connectTimeout  TCP connect timeout
 * @param responseTimeout time to response headers, per request
 * @param stallTimeout    longest pause with no body bytes before an attempt is aborted
 * @param maxAttempts     attempts per file for transient failures (network, 5xx, 429, stalls)
 * @param retryBackoff    pause before the first retry, doubled per attempt
 */
public record HubConfig(URI endpoint, Path cacheDir, String token, Duration connectTimeout,
                        Duration responseTimeout, Duration stallTimeout, int maxAttempts, Duration retryBackoff) {

    public HubConfig {
        Objects.requireNonNull(endpoint, "endpoint");
        Objects.requireNonNull(cacheDir, "cacheDir");
        String scheme = endpoint.getScheme();
        if (!"http".equals(scheme) && !"https".equals(scheme) || endpoint.getHost() == null) {
            throw new IllegalArgumentException("hub endpoint '" + endpoint + "' must be an http(s) URL");
        }
        String s = endpoint.toString();
        if (s.endsWith("/")) endpoint = URI.create(s.substring(0, s.length() - 1));
        if (token != null && token.isBlank()) token = null;
        positive("connectTimeout", connectTimeout);
        positive("responseTimeout", responseTimeout);
        positive("stallTimeout", stallTimeout);
        if (maxAttempts < 1) throw new IllegalArgumentException("hub maxAttempts must be >= 1, got " + maxAttempts);
        if (retryBackoff == null || retryBackoff.isNegative()) {
            throw new IllegalArgumentException("hub retryBackoff must be >= 0, got " + retryBackoff);
        }
    }

    private static void positive(String key, Duration d) {
        if (d == null || d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException("hub " + key + " must be > 0, got " + d);
        }
    }

    /** The defaults, for an endpoint and cache folder. */
    public static HubConfig of(URI endpoint, Path cacheDir, String token) {
        return new HubConfig(endpoint, cacheDir, token, HubDefaults.CONNECT_TIMEOUT, HubDefaults.RESPONSE_TIMEOUT,
                HubDefaults.STALL_TIMEOUT, HubDefaults.MAX_ATTEMPTS, HubDefaults.RETRY_BACKOFF);
    }

    /**
     * Settings from the environment, with optional overrides (null = not given):
     * endpoint: {@code endpointOverride}, {@code SLUICE_HF_ENDPOINT}, {@code HF_ENDPOINT}, {@link HubDefaults#ENDPOINT};
     * cache: {@code cacheOverride}, {@code SLUICE_CACHE}, {@code ~/.cache/sluice/hub};
     * token: {@code HF_TOKEN}, then {@code HUGGING_FACE_HUB_TOKEN}.
     */
    public static HubConfig fromEnvironment(Map<String, String> env, String endpointOverride, Path cacheOverride) {
        String endpoint = firstNonBlank(endpointOverride, env.get("SLUICE_HF_ENDPOINT"), env.get("HF_ENDPOINT"), HubDefaults.ENDPOINT);
        Path cache = cacheOverride != null ? cacheOverride
                : env.get("SLUICE_CACHE") != null && !env.get("SLUICE_CACHE").isBlank() ? Path.of(env.get("SLUICE_CACHE"))
                : Path.of(System.getProperty("user.home")).resolve(HubDefaults.CACHE_DIR_UNDER_HOME);
        String token = firstNonBlank(env.get("HF_TOKEN"), env.get("HUGGING_FACE_HUB_TOKEN"), null);
        URI uri;
        try {
            uri = URI.create(endpoint);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("hub endpoint '" + endpoint + "' is not a valid URL");
        }
        return of(uri, cache, token);
    }

    private static String firstNonBlank(String... values) {
        for (String v : values) if (v != null && !v.isBlank()) return v.trim();
        return null;
    }

    public HubConfig withTimeouts(Duration connect, Duration response, Duration stall) {
        return new HubConfig(endpoint, cacheDir, token, connect, response, stall, maxAttempts, retryBackoff);
    }

    public HubConfig withRetries(int attempts, Duration backoff) {
        return new HubConfig(endpoint, cacheDir, token, connectTimeout, responseTimeout, stallTimeout, attempts, backoff);
    }

    /** Never prints the token. */
    @Override
    public String toString() {
        return "HubConfig[endpoint=" + endpoint + ", cacheDir=" + cacheDir + ", token=" + (token == null ? "none" : "***")
                + ", connectTimeout=" + connectTimeout + ", responseTimeout=" + responseTimeout
                + ", stallTimeout=" + stallTimeout + ", maxAttempts=" + maxAttempts + "]";
    }
}
