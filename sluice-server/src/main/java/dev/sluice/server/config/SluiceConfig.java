package dev.sluice.server.config;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.sluice.server.gateway.auth.AuthConfig;
import dev.sluice.server.gateway.cache.CacheConfig;
import dev.sluice.server.gateway.limits.LimitsConfig;
import dev.sluice.server.gateway.route.RoutingConfig;
import dev.sluice.server.grpc.GrpcConfig;
import dev.sluice.server.redis.RedisConfig;
import dev.sluice.server.store.StoreConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The config file ({@code sluice serve --config sluice.yaml}): typed, immutable, validated when
 * loaded. Every section is optional; a missing one takes its embedded defaults, so no file at
 * all means {@code sluice serve} on embedded defaults. Unknown keys are errors (a typo must not
 * silently fall back to a default). {@code ${NAME}} in a value is replaced by the environment
 * variable {@code NAME} (secrets such as upstream API keys stay out of the file); an unset
 * variable is an error naming it.
 */
public record SluiceConfig(StoreConfig store, RedisConfig redis, AuthConfig auth, LimitsConfig limits, CacheConfig cache,
                           RoutingConfig routing, GrpcConfig grpc) {
    private static final Pattern ENV = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)}");

    public SluiceConfig {
        store = store == null ? StoreConfig.defaults() : store;
        redis = redis == null ? RedisConfig.none() : redis;
        auth = auth == null ? AuthConfig.defaults() : auth;
        limits = limits == null ? LimitsConfig.defaults() : limits;
        cache = cache == null ? CacheConfig.defaults() : cache;
        routing = routing == null ? RoutingConfig.defaults() : routing;
        grpc = grpc == null ? GrpcConfig.defaults() : grpc;
    }

    public static SluiceConfig defaults() {
        return new SluiceConfig(null, null, null, null, null, null, null);
    }

    /** The YAML mapper configs are read with: unknown keys fail, durations as ISO-8601 ({@code PT5S}) or seconds. */
    public static ObjectMapper yaml() {
        return JsonMapper.builder(new YAMLFactory())
                .addModule(new JavaTimeModule())
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .build();
    }

    public static SluiceConfig load(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new ConfigException("cannot read config file " + file + ": " + e.getMessage(), e);
        }
        return parse(text, System.getenv(), file.toString());
    }

    /** Parses YAML text; {@code source} names it in error messages. */
    public static SluiceConfig parse(String yaml, Map<String, String> env, String source) {
        String expanded = expand(yaml, env, source);
        if (expanded.lines().allMatch(l -> l.isBlank() || l.stripLeading().startsWith("#"))) return defaults();
        try {
            SluiceConfig c = yaml().readValue(expanded, SluiceConfig.class);
            return c == null ? defaults() : c;
        } catch (JsonMappingException e) {
            String path = e.getPath().stream()
                    .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                    .reduce((a, b) -> b.startsWith("[") ? a + b : a + "." + b).orElse("(root)");
            Throwable cause = e.getCause() instanceof IllegalArgumentException iae ? iae : null;
            String why = cause != null ? cause.getMessage() : e.getOriginalMessage();
            throw new ConfigException(source + ": invalid value at '" + path + "': " + why, e);
        } catch (IOException e) {
            throw new ConfigException(source + ": not valid YAML: " + e.getMessage(), e);
        }
    }

    private static String expand(String text, Map<String, String> env, String source) {
        Matcher m = ENV.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String v = env.get(m.group(1));
            if (v == null) throw new ConfigException(source + ": environment variable ${" + m.group(1) + "} is not set");
            m.appendReplacement(out, Matcher.quoteReplacement(v));
        }
        m.appendTail(out);
        return out.toString();
    }
}
