package dev.sluice.server.gateway.auth;

/**
 * The {@code auth:} section of the config file: API keys, JWT and the deny-by-default policy (issue 6).
 * Validated when built; every field has a safe default.
 */
public record AuthConfig() {
    public static AuthConfig defaults() {
        return new AuthConfig();
    }
}
