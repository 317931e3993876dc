package dev.sluice.server.gateway.route;

/**
 * The {@code routing:} section of the config file: models, versions, backends, canaries and resilience (issue 5).
 * Validated when built; every field has a safe default.
 */
public record RoutingConfig() {
    public static RoutingConfig defaults() {
        return new RoutingConfig();
    }
}
