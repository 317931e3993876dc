package dev.sluice.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.server.ServiceRequestContext;

import java.util.concurrent.CompletableFuture;

/**
 * Where a routed request is served: the in-process engine ({@link LocalBackend}), a remote Sluice
 * worker over gRPC, or an OpenAI-compatible HTTP upstream. A backend answers in OpenAI's shapes:
 * a JSON body, or an SSE stream of chunks ending in {@code data: [DONE]}; a failure after the
 * first byte ends the stream with an error event, never a silent truncation.
 */
public interface Backend {
    /** Characters per token of the default estimate: 4 (OpenAI's rule of thumb for English text). */
    int CHARS_PER_TOKEN = 4;

    /** Name used in logs, metrics and config. */
    String name();

    /** Serves {@code req} (its body already names this backend's model). Must not block. */
    HttpResponse execute(ServiceRequestContext ctx, GatewayRequest req) throws Exception;

    /**
     * Prompt tokens of {@code req} (its body already names this backend's model) for admission. The default is an
     * estimate, {@link #estimatePromptTokens}; a backend that knows the model's tokenizer overrides it (a remote worker
     * is asked, so the count may complete later). Must not block; completes exceptionally only with an
     * {@code OpenAiException} for a bad request.
     */
    default CompletableFuture<Integer> countPromptTokens(GatewayRequest req) {
        return CompletableFuture.completedFuture(estimatePromptTokens(req));
    }

    /**
     * An estimate without a tokenizer: the characters of the prompt (or of every message's text content, plus the
     * tool definitions) divided by {@link #CHARS_PER_TOKEN}, rounded up, plus 4 per message for the chat template.
     */
    static int estimatePromptTokens(GatewayRequest req) {
        long chars = 0;
        int messages = 0;
        if (req.chat()) {
            for (JsonNode m : req.body().path("messages")) {
                messages++;
                chars += textChars(m.get("content"));
            }
            JsonNode tools = req.body().get("tools");
            if (tools != null) chars += tools.toString().length();
        } else {
            chars = textChars(req.body().get("prompt"));
        }
        long tokens = (chars + CHARS_PER_TOKEN - 1) / CHARS_PER_TOKEN + 4L * messages;
        return (int) Math.min(Integer.MAX_VALUE, tokens);
    }

    private static long textChars(JsonNode n) {
        if (n == null || n.isNull()) return 0;
        if (n.isTextual()) return n.asText().length();
        long c = 0;
        if (n.isArray()) {
            for (JsonNode x : n) c += textChars(x.isObject() ? x.get("text") : x);
        } else if (n.isObject()) {
            c += textChars(n.get("text"));
        }
        return c;
    }
}
