package dev.sluice.server.redis;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.RedisCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The shared Lettuce client. Every command times out after {@link RedisConfig#commandTimeout()},
 * the connection reconnects by itself, and while disconnected commands fail at once instead of
 * queueing, so a Redis outage costs a request at most one timeout, never a hang. Thread-safe;
 * connections are multiplexed and may be shared.
 */
public final class Redis implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Redis.class);

    private final RedisConfig config;
    private final RedisClient client;
    private final List<StatefulRedisConnection<?, ?>> connections = new CopyOnWriteArrayList<>();

    public Redis(RedisConfig config) {
        if (!config.enabled()) throw new IllegalArgumentException("redis.uri is not set");
        this.config = config;
        RedisURI uri = RedisURI.create(config.uri());
        uri.setTimeout(config.commandTimeout());
        this.client = RedisClient.create(uri);
        client.setOptions(ClientOptions.builder()
                .autoReconnect(true)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .timeoutOptions(TimeoutOptions.enabled(config.commandTimeout()))
                .socketOptions(SocketOptions.builder().connectTimeout(connectTimeout(config.commandTimeout())).build())
                .build());
    }

    private static Duration connectTimeout(Duration commandTimeout) {
        return commandTimeout.multipliedBy(4);
    }

    public RedisConfig config() {
        return config;
    }

    public RedisClient client() {
        return client;
    }

    /** A new connection with {@code codec}; throws {@code RedisConnectionException} when Redis cannot be reached now. */
    public <K, V> StatefulRedisConnection<K, V> connect(RedisCodec<K, V> codec) {
        StatefulRedisConnection<K, V> c = client.connect(codec);
        connections.add(c);
        return c;
    }

    @Override
    public void close() {
        for (StatefulRedisConnection<?, ?> c : connections) {
            try {
                c.close();
            } catch (RuntimeException e) {
                log.debug("closing a redis connection", e);
            }
        }
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
}
