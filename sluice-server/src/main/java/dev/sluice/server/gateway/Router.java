package dev.sluice.server.gateway;

import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.server.ServiceRequestContext;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Maps public model names to backends. The gateway calls {@link #resolve} before admission (so
 * limits, prices and the cache key see the resolved version) and {@link #dispatch} last.
 */
public interface Router {
    /** A public model, as {@code GET /v1/models} lists it. */
    record ModelCard(String id, long created, String ownedBy, int contextLength) {}

    /**
     * Resolves {@code req.model()} for this caller and sets {@link GatewayRequest#version}.
     * Throws {@code OpenAiException}: 404 for an unknown model, 400 for an unknown pinned version.
     */
    void resolve(ServiceRequestContext ctx, GatewayRequest req);

    /**
     * Prompt tokens of {@code req} for admission: the model's own tokenizer where known (a remote worker is asked), else
     * an estimate. Never blocks; completes exceptionally only with an {@code OpenAiException} for a bad request.
     */
    CompletableFuture<Integer> countPromptTokens(GatewayRequest req);

    /** Sends {@code req} to an endpoint of its resolved version; never blocks. */
    HttpResponse dispatch(ServiceRequestContext ctx, GatewayRequest req) throws Exception;

    /** The public models, in a stable order. */
    List<ModelCard> models();
}
