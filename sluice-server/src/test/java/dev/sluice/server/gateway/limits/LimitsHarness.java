package dev.sluice.server.gateway.limits;

import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import com.linecorp.armeria.server.ServerBuilder;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.gateway.Gateway;
import dev.sluice.server.gateway.GatewayAssembly;
import dev.sluice.server.gateway.LocalRouter;
import dev.sluice.server.gateway.Principal;
import dev.sluice.server.openai.FakeModel;
import dev.sluice.server.redis.Redis;
import dev.sluice.server.redis.RedisConfig;
import dev.sluice.server.store.PgTestSchema;
import dev.sluice.server.store.Store;
import dev.sluice.server.store.StoreConfig;


import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * A gateway with the limits stage in front of a {@link FakeModel}, for tests: its own store (an H2
 * file or a fresh PostgreSQL schema), optionally Redis, and a test decorator that sets the
 * caller's {@link Principal} from the {@code x-test-principal} header ({@code tenant,key,user,tier}).
 */
final class LimitsHarness implements AutoCloseable {
    static final String REDIS = "redis://127.0.0.1:6379";
    static final String PRINCIPAL_HEADER = "x-test-principal";

    final String run = UUID.randomUUID().toString().substring(0, 8);
    final ServerMetrics metrics = new ServerMetrics();
    final FakeModel model;
    PgTestSchema pgSchema;
    Store store;
    Redis redis;
    Limits limits;
    SluiceServer server;

    LimitsHarness(FakeModel model) {
        this.model = model;
    }

    /** A fresh PostgreSQL schema on this machine's database {@code test}; dropped by {@link #close}. */
    StoreConfig postgres() {
        pgSchema = new PgTestSchema("limits");
        return pgSchema.config(16);
    }

    static StoreConfig h2(Path dir) {
        return new StoreConfig(StoreConfig.defaultUrl(dir), null, null, 4, null);
    }

    /** A Redis key prefix of its own, so runs never collide. */
    String prefix() {
        return "sluice-test:" + run + ":";
    }

    LimitsHarness start(LimitsConfig config, StoreConfig storeConfig, RedisConfig redisConfig) {
        store = storeConfig == null ? null : Store.open(storeConfig);
        redis = redisConfig == null || !redisConfig.enabled() ? null : new Redis(redisConfig);
        limits = Limits.open(config, redis, store == null ? null : dev.sluice.server.store.LazyStore.of(store), metrics.registry());
        ServerConfig cfg = ServerConfig.defaults().withPort(0);
        List<Consumer<ServerBuilder>> customizers = new ArrayList<>();
        customizers.add(sb -> sb.decorator((delegate, ctx, req) -> {
            String p = req.headers().get(PRINCIPAL_HEADER);
            if (p != null) {
                String[] f = p.split(",", -1);
                ctx.setAttr(Principal.ATTR, new Principal(f[0], null, blank(f, 1), blank(f, 2), blank(f, 3), Set.of(), true));
            }
            return delegate.serve(ctx, req);
        }));
        customizers.add(limits::register);
        List<AutoCloseable> resources = new ArrayList<>();
        if (store != null) resources.add(store);
        if (redis != null) resources.add(redis);
        resources.add(limits);
        server = new SluiceServer(cfg, List.of(model), () -> true, metrics,
                worker -> GatewayAssembly.forTest(new Gateway(new LocalRouter(worker), List.of(limits.stage()), cfg), customizers, resources)).start();
        return this;
    }

    private static String blank(String[] f, int i) {
        return f.length > i && !f[i].isEmpty() ? f[i] : null;
    }

    String base() {
        return "http://127.0.0.1:" + server.port();
    }

    WebClient http() {
        return WebClient.builder(base()).responseTimeout(Duration.ofSeconds(30)).build();
    }

    static String chatBody(String model, String content, Integer maxTokens, boolean stream) {
        return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + content + "\"}]"
                + (maxTokens != null ? ",\"max_tokens\":" + maxTokens : "") + (stream ? ",\"stream\":true" : "") + "}";
    }

    static HttpRequest chatRequest(String principal, String body, String... headers) {
        com.linecorp.armeria.common.RequestHeadersBuilder h = RequestHeaders.builder(HttpMethod.POST, "/v1/chat/completions").contentType(MediaType.JSON_UTF_8);
        if (principal != null) h.add(PRINCIPAL_HEADER, principal);
        for (int i = 0; i + 1 < headers.length; i += 2) h.add(headers[i], headers[i + 1]);
        return HttpRequest.of(h.build(), com.linecorp.armeria.common.HttpData.ofUtf8(body));
    }

    AggregatedHttpResponse chat(String principal, String body, String... headers) {
        return http().execute(chatRequest(principal, body, headers)).aggregate().join();
    }

    AggregatedHttpResponse get(String path) {
        return http().get(path).aggregate().join();
    }

    @Override
    public void close() throws Exception {
        if (server != null) server.close();
        else {
            if (limits != null) limits.close();
            if (redis != null) redis.close();
            if (store != null) store.close();
        }
        if (pgSchema != null) pgSchema.close();
    }
}
