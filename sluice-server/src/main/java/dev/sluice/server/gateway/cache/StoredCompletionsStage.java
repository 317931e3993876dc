package dev.sluice.server.gateway.cache;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.gateway.GatewayRequest;
import dev.sluice.server.gateway.GatewayStage;
import dev.sluice.server.gateway.ResponseTap;

import java.util.Map;

/**
 * Keeps chat completions asked with {@code store: true}: the client's request and the response it
 * got (a streamed one folded into a {@code chat.completion} by {@link Answers.Aggregator}), under
 * the caller's tenant. It sits before the response cache, so a cached answer is stored as the
 * client received it (with its own id). Only complete, successful responses are kept
 * ({@link ResponseTap.Outcome#ok()}); bad {@code metadata} is a 400 before anything runs.
 */
public final class StoredCompletionsStage implements GatewayStage {
    private final StoredCompletions stored;

    public StoredCompletionsStage(StoredCompletions stored) {
        this.stored = stored;
    }

    @Override
    public HttpResponse handle(ServiceRequestContext ctx, GatewayRequest req, Next next) throws Exception {
        if (!req.chat() || !req.originalBody().path("store").asBoolean(false)) return next.proceed(ctx, req);
        Map<String, String> metadata = StoredCompletions.metadata(req.originalBody().get("metadata"));
        String tenant = req.principal().tenant();
        String model = req.model();
        ObjectNode request = req.originalBody();
        return ResponseTap.tap(next.proceed(ctx, req), o -> {
            if (!o.ok()) return;
            ObjectNode response = o.body();
            if (o.stream()) {
                Answers.Aggregator a = new Answers.Aggregator(true);
                o.chunks().forEach(a::add);
                response = a.result();
            }
            if (response == null || !response.path("id").isTextual()) return;
            stored.offer(new StoredCompletions.Record(response.get("id").asText(), tenant, model,
                    response.path("created").asLong(System.currentTimeMillis() / 1000), metadata, request, response));
        });
    }
}
