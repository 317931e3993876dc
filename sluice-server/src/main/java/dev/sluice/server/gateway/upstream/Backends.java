package dev.sluice.server.gateway.upstream;

import dev.sluice.server.config.ConfigException;
import dev.sluice.server.gateway.Backend;
import dev.sluice.server.gateway.LocalBackend;
import dev.sluice.server.openai.OpenAiService;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * Builds a {@link Backend} from its {@code routing.backends.<name>} config: {@code openai} ->
 * {@link OpenAiUpstreamBackend}; {@code local} -> {@link LocalBackend} over the in-process worker;
 * {@code grpc} -> the remote-worker backend of the gRPC module, through {@link Context#grpc()}.
 * A backend that holds resources (clients, health checks) is {@link AutoCloseable}; whoever
 * creates it closes it.
 */
public final class Backends {
    private Backends() {}

    /** Makes backends of a type this package does not implement (the gRPC module provides {@code grpc}). */
    @FunctionalInterface
    public interface Factory {
        Backend create(String name, BackendConfig config);
    }

    /**
     * What backends are built with.
     *
     * @param worker  the in-process worker (role {@code all}), or null (role {@code gateway}: no {@code local} backends)
     * @param grpc    the factory of {@code type: grpc} backends, or null while the gRPC module is not wired in
     * @param metrics where backends register their meters ({@code sluice.upstream.*}), or null
     */
    public record Context(OpenAiService worker, Factory grpc, MeterRegistry metrics) {
        public Context(OpenAiService worker, Factory grpc) {
            this(worker, grpc, null);
        }

        public static Context of(OpenAiService worker) {
            return new Context(worker, null, null);
        }

        public Context withGrpc(Factory grpc) {
            return new Context(worker, grpc, metrics);
        }

        public Context withMetrics(MeterRegistry metrics) {
            return new Context(worker, grpc, metrics);
        }
    }

    /** The backend {@code name} as {@code config} describes it; a config error names the key. */
    public static Backend create(String name, BackendConfig config, Context context) {
        return switch (config.type()) {
            case BackendConfig.OPENAI -> new OpenAiUpstreamBackend(name, config, context.metrics());
            case BackendConfig.LOCAL -> {
                if (context.worker() == null) {
                    throw new ConfigException("routing.backends." + name + ".type: local needs the in-process worker (role all), not role gateway");
                }
                yield new LocalBackend(name, context.worker());
            }
            case BackendConfig.GRPC -> {
                if (context.grpc() == null) throw new ConfigException("routing.backends." + name + ".type: type grpc needs the grpc module");
                yield context.grpc().create(name, config);
            }
            default -> throw new ConfigException("routing.backends." + name + ".type: unknown type '" + config.type() + "'");
        };
    }
}
