package dev.sluice.server.grpc;

/**
 * The {@code grpc:} section of the config file: the gRPC service and mTLS (issue 5).
 * Validated when built; every field has a safe default.
 */
public record GrpcConfig() {
    public static GrpcConfig defaults() {
        return new GrpcConfig();
    }
}
