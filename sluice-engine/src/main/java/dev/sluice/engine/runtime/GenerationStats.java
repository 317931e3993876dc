package dev.sluice.engine.runtime;

import java.util.Locale;

/**
 * Token counts and timings of one generation. Prefill covers the forward pass over the prompt;
 * decode covers every later step (forward of one token plus sampling).
 */
public record GenerationStats(int prefillTokens, long prefillNanos, int decodeTokens, long decodeNanos) {

    public double prefillTokensPerSecond() {
        return rate(prefillTokens, prefillNanos);
    }

    public double decodeTokensPerSecond() {
        return rate(decodeTokens, decodeNanos);
    }

    private static double rate(int tokens, long nanos) {
        return nanos <= 0 ? 0 : tokens * 1e9 / nanos;
    }

    /** {@code prefill: N tok, X tok/s; decode: N tok, Y tok/s}, as the CLI prints it. */
    public String summary() {
        return String.format(Locale.ROOT, "prefill: %d tok, %.1f tok/s; decode: %d tok, %.1f tok/s",
                prefillTokens, prefillTokensPerSecond(), decodeTokens, decodeTokensPerSecond());
    }
}
