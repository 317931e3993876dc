package dev.sluice.server.inference;

/**
 * A snapshot of an engine's load, for {@code /health/ready} and the {@code sluice_} gauges.
 * Unknown values are -1 (e.g. a remote model, or KV use before a scheduler reports it).
 *
 * @param waiting          requests admitted but not yet running
 * @param running          sequences being generated now
 * @param kvUsedTokens     KV cache positions in use (for a paged cache: used blocks x block size)
 * @param kvCapacityTokens KV cache positions available in all
 * @param preemptions      sequences preempted (to be recomputed) since start
 */
public record EngineStats(int waiting, int running, long kvUsedTokens, long kvCapacityTokens, long preemptions) {
    /** Nothing known. */
    public static final EngineStats UNKNOWN = new EngineStats(-1, -1, -1, -1, -1);

    /** Fraction of the KV cache in use, in [0, 1], or -1 when unknown. */
    public double kvUsage() {
        return kvUsedTokens < 0 || kvCapacityTokens <= 0 ? -1 : (double) kvUsedTokens / kvCapacityTokens;
    }
}
