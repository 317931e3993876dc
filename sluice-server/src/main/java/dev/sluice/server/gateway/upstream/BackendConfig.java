package dev.sluice.server.gateway.upstream;

import java.util.List;

/**
 * One named backend pool of the {@code routing.backends} config section.
 *
 * @param type      {@code openai} (an OpenAI-compatible HTTP upstream), {@code local} (the in-process engine, role
 *                  {@code all}) or {@code grpc} (a remote Sluice worker); default {@value #DEFAULT_TYPE}
 * @param endpoints base URLs of the pool's endpoints (e.g. {@code http://127.0.0.1:8000/v1}); none for {@code local}
 * @param apiKey    the upstream's API key, held by the gateway (use {@code ${ENV}}); never logged
 * @param model     the model name the upstream serves, or null (then the version's or the alias's name is sent)
 */
public record BackendConfig(String type, List<String> endpoints, String apiKey, String model) {
    public static final String DEFAULT_TYPE = "openai";

    public BackendConfig {
        type = type == null ? DEFAULT_TYPE : type;
        endpoints = endpoints == null ? List.of() : List.copyOf(endpoints);
    }

    @Override
    public String toString() {
        return "BackendConfig[type=" + type + ", endpoints=" + endpoints + ", apiKey=" + (apiKey == null ? "none" : "***") + ", model=" + model + "]";
    }
}
