package dev.sluice.server.gateway;

import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.inference.InferenceModel;
import dev.sluice.server.openai.ChatRequest;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.Map;

/**
 * The router of {@code sluice serve} with no routing config: each in-process model under its own
 * id, one version ({@value #VERSION}), served by a {@link LocalBackend}. Prompt tokens are counted
 * with the model's own chat template and tokenizer.
 */
public final class LocalRouter implements Router {
    /** The version name of a model that has no versions configured. */
    public static final String VERSION = "default";

    private final Map<String, InferenceModel> models = new LinkedHashMap<>();
    private final LocalBackend backend;

    public LocalRouter(OpenAiService worker) {
        for (InferenceModel m : worker.models()) models.put(m.id(), m);
        this.backend = new LocalBackend("local", worker);
    }

    @Override
    public void resolve(ServiceRequestContext ctx, GatewayRequest req) {
        if (!models.containsKey(req.model())) throw OpenAiException.modelNotFound(req.model());
        req.version(VERSION);
    }

    @Override
    public CompletableFuture<Integer> countPromptTokens(GatewayRequest req) {
        return CompletableFuture.completedFuture(countPromptTokens(models.get(req.model()), req));
    }

    /** Prompt tokens of {@code req} as {@code model} will see them (its chat template, its tokenizer). */
    public static int countPromptTokens(InferenceModel model, GatewayRequest req) {
        ChatRequest r = ChatRequest.parse(req.body(), req.chat());
        if (req.chat()) return model.encodeChat(r.messages(), r.tools(), r.templateVars()).ids().length;
        return model.tokenize(r.prompt(), true, false).length;
    }

    @Override
    public HttpResponse dispatch(ServiceRequestContext ctx, GatewayRequest req) {
        return backend.execute(ctx, req);
    }

    @Override
    public List<ModelCard> models() {
        List<ModelCard> out = new ArrayList<>();
        for (InferenceModel m : models.values()) out.add(new ModelCard(m.id(), m.created(), "sluice", m.contextLength()));
        return out;
    }
}
