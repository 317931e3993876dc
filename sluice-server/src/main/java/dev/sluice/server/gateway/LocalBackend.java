package dev.sluice.server.gateway;

import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.inference.InferenceModel;
import dev.sluice.server.openai.OpenAiService;

import java.util.concurrent.CompletableFuture;

/**
 * The in-process engine as a gateway backend: the worker's OpenAI routes called directly, on the
 * same request context (so deadlines, cancellation and the drain apply unchanged), no socket.
 * Prompt tokens are counted with the served model's own chat template and tokenizer.
 */
public final class LocalBackend implements Backend {
    private final String name;
    private final OpenAiService worker;

    public LocalBackend(String name, OpenAiService worker) {
        this.name = name;
        this.worker = worker;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public HttpResponse execute(ServiceRequestContext ctx, GatewayRequest req) {
        return worker.serve(ctx, req.toHttpRequest(), req.chat());
    }

    /** The in-process model named {@code id}, or null. */
    public InferenceModel model(String id) {
        for (InferenceModel m : worker.models()) if (m.id().equals(id)) return m;
        return null;
    }

    @Override
    public CompletableFuture<Integer> countPromptTokens(GatewayRequest req) {
        InferenceModel m = model(req.body().path("model").asText());
        return CompletableFuture.completedFuture(m != null ? LocalRouter.countPromptTokens(m, req) : Backend.estimatePromptTokens(req));
    }
}
