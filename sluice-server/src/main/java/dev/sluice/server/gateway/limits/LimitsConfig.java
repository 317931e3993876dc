package dev.sluice.server.gateway.limits;

/**
 * The {@code limits:} section of the config file: rate limits, quotas, prices and usage records (issue 6).
 * Validated when built; every field has a safe default.
 */
public record LimitsConfig() {
    public static LimitsConfig defaults() {
        return new LimitsConfig();
    }
}
