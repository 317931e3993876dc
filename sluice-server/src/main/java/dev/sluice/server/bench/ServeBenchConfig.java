package dev.sluice.server.bench;

import java.net.URI;
import java.time.Duration;
import java.util.List;

/**
 * Settings of a {@link ServeBenchmark} run, validated when built.
 *
 * @param url          server base URL, e.g. {@code http://127.0.0.1:8080} (a trailing {@code /v1} is accepted)
 * @param model        model id to request; null asks {@code GET /v1/models} and takes the first
 * @param concurrency  concurrency levels to run, one after another (requests in flight at once)
 * @param promptTokens target prompt length in tokens; prompts are synthetic, calibrated with the
 *                     server's {@code /tokenize} when it has one (else about one token per word)
 * @param maxTokens    {@code max_tokens} of every request
 * @param requests     requests per level; 0 means {@link #DEFAULT_REQUESTS_PER_SLOT} per concurrent slot, at least {@link #MIN_REQUESTS}
 * @param chat         true for {@code /v1/chat/completions}, false for {@code /v1/completions}
 * @param timeout      longest one request may take; a slower one counts as failed
 * @param seed         seed of the synthetic prompts (the same seed gives the same prompts)
 * @param ignoreEos    send vLLM's {@code ignore_eos: true} (Sluice and vLLM honour it) so that every request generates
 *                     exactly {@code maxTokens} tokens and levels compare the same work; default true
 */
public record ServeBenchConfig(URI url, String model, List<Integer> concurrency, int promptTokens, int maxTokens, int requests,
                               boolean chat, Duration timeout, long seed, boolean ignoreEos) {
    /** Default concurrency levels: 1, 4 and 16, as the serving goal compares 16 with 1. */
    public static final List<Integer> DEFAULT_CONCURRENCY = List.of(1, 4, 16);
    /** Default prompt length: 128 tokens. */
    public static final int DEFAULT_PROMPT_TOKENS = 128;
    /** Default output length: 64 tokens. */
    public static final int DEFAULT_MAX_TOKENS = 64;
    /** Requests per concurrent slot when {@code requests} is 0: 4, so each level reaches a steady state. */
    public static final int DEFAULT_REQUESTS_PER_SLOT = 4;
    /** Fewest requests per level when {@code requests} is 0: 8, so percentiles mean something. */
    public static final int MIN_REQUESTS = 8;
    /** Default per-request timeout: 10 minutes (a CPU under load is slow; a hung request still ends). */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(10);
    /** Most concurrent requests in one level: 4096 (a client-side bound, far beyond any one worker). */
    public static final int MAX_CONCURRENCY = 4096;

    public ServeBenchConfig {
        if (url == null || url.getScheme() == null || !(url.getScheme().equals("http") || url.getScheme().equals("https"))) {
            throw new IllegalArgumentException("--url must be an http:// or https:// URL, got " + url);
        }
        if (concurrency == null || concurrency.isEmpty()) throw new IllegalArgumentException("--concurrency must list at least one level");
        for (int c : concurrency) {
            if (c < 1 || c > MAX_CONCURRENCY) throw new IllegalArgumentException("--concurrency levels must be in [1, " + MAX_CONCURRENCY + "], got " + c);
        }
        concurrency = List.copyOf(concurrency);
        if (promptTokens < 1) throw new IllegalArgumentException("--prompt-tokens must be >= 1, got " + promptTokens);
        if (maxTokens < 1) throw new IllegalArgumentException("--max-tokens must be >= 1, got " + maxTokens);
        if (requests < 0) throw new IllegalArgumentException("--requests must be >= 0, got " + requests);
        if (timeout == null || timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("timeout must be > 0, got " + timeout);
    }

    /** With {@code ignore_eos} sent (the default). */
    public ServeBenchConfig(URI url, String model, List<Integer> concurrency, int promptTokens, int maxTokens, int requests,
                            boolean chat, Duration timeout, long seed) {
        this(url, model, concurrency, promptTokens, maxTokens, requests, chat, timeout, seed, true);
    }

    public static ServeBenchConfig of(URI url) {
        return new ServeBenchConfig(url, null, DEFAULT_CONCURRENCY, DEFAULT_PROMPT_TOKENS, DEFAULT_MAX_TOKENS, 0, true, DEFAULT_TIMEOUT, 0, true);
    }

    /** Requests to send at concurrency {@code c}. */
    public int requestsAt(int c) {
        return requests > 0 ? requests : Math.max(MIN_REQUESTS, DEFAULT_REQUESTS_PER_SLOT * c);
    }

    /** The URL without a trailing slash or {@code /v1}. */
    public String baseUrl() {
        String s = url.toString();
        while (s.endsWith("/")) s = s.substring(0, s.length() - 1);
        if (s.endsWith("/v1")) s = s.substring(0, s.length() - 3);
        return s;
    }
}
