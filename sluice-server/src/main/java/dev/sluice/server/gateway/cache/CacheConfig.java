package dev.sluice.server.gateway.cache;

/**
 * The {@code cache:} section of the config file: the response cache and stored completions (issue 7).
 * Validated when built; every field has a safe default.
 */
public record CacheConfig() {
    public static CacheConfig defaults() {
        return new CacheConfig();
    }
}
