package dev.sluice.server.gateway;

import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.server.ServiceRequestContext;

/**
 * One step of the gateway pipeline between parsing and dispatch (admission, cache). A stage either
 * answers itself (a 429, a cache hit) or calls {@code next} and may observe or transform the
 * response it returns (settle usage, fill the cache) with {@link ResponseTap}.
 * Stages run on the request's event loop and must not block.
 */
@FunctionalInterface
public interface GatewayStage {
    HttpResponse handle(ServiceRequestContext ctx, GatewayRequest req, Next next) throws Exception;

    /** The rest of the pipeline. */
    @FunctionalInterface
    interface Next {
        HttpResponse proceed(ServiceRequestContext ctx, GatewayRequest req) throws Exception;
    }
}
