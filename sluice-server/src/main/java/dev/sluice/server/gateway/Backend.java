package dev.sluice.server.gateway;

import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.server.ServiceRequestContext;

/**
 * Where a routed request is served: the in-process engine ({@link LocalBackend}), a remote Sluice
 * worker over gRPC, or an OpenAI-compatible HTTP upstream. A backend answers in OpenAI's shapes:
 * a JSON body, or an SSE stream of chunks ending in {@code data: [DONE]}; a failure after the
 * first byte ends the stream with an error event, never a silent truncation.
 */
public interface Backend {
    /** Name used in logs, metrics and config. */
    String name();

    /** Serves {@code req} (its body already names this backend's model). Must not block. */
    HttpResponse execute(ServiceRequestContext ctx, GatewayRequest req) throws Exception;
}
