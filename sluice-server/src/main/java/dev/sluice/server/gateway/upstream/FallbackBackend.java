package dev.sluice.server.gateway.upstream;

import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.ResponseHeaders;
import com.linecorp.armeria.common.SplitHttpResponse;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.gateway.Backend;
import dev.sluice.server.gateway.GatewayRequest;
import dev.sluice.server.openai.OpenAiErrors;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Backends tried in order ({@code fallbacks:} in the routing config): the next one serves the
 * request when the previous one fails before its first byte, that is when its response headers
 * say 429 or 5xx (a backend of this package sends its headers only with its first event, so a
 * failing stream still shows as a 5xx here), or it fails without any headers.
 * Once a backend's headers pass, that answer is the client's, whatever follows.
 *
 * <p>The body a backend sees is the request's; each backend sets its own upstream model name on
 * its own copy, so the order does not leak one backend's model into the next. Prompt tokens are
 * counted by the first backend.
 */
public final class FallbackBackend implements Backend {
    private static final Logger log = LoggerFactory.getLogger(FallbackBackend.class);

    private final String name;
    private final List<Backend> backends;

    public FallbackBackend(String name, List<Backend> backends) {
        if (backends.isEmpty()) throw new IllegalArgumentException("fallback " + name + " needs at least one backend");
        this.name = name;
        this.backends = List.copyOf(backends);
    }

    @Override
    public String name() {
        return name;
    }

    public List<Backend> backends() {
        return backends;
    }

    @Override
    public CompletableFuture<Integer> countPromptTokens(GatewayRequest req) {
        return backends.getFirst().countPromptTokens(req);
    }

    @Override
    public HttpResponse execute(ServiceRequestContext ctx, GatewayRequest req) {
        CompletableFuture<HttpResponse> out = new CompletableFuture<>();
        attempt(ctx, req, 0, out);
        return HttpResponse.of(out);
    }

    /** True for an answer the next backend should get a chance to replace. */
    static boolean fallBack(int status) {
        return status == 429 || status >= 500;
    }

    private void attempt(ServiceRequestContext ctx, GatewayRequest req, int i, CompletableFuture<HttpResponse> out) {
        Backend b = backends.get(i);
        boolean last = i == backends.size() - 1;
        HttpResponse res;
        try {
            res = b.execute(ctx, req);
        } catch (OpenAiException e) {
            if (last || !fallBack(e.status().code())) out.complete(OpenAiService.error(e));
            else next(ctx, req, i, out, e.getMessage());
            return;
        } catch (Exception e) {
            if (last) out.complete(OpenAiService.error(OpenAiErrors.fromThrowable(e)));
            else next(ctx, req, i, out, e.toString());
            return;
        }
        if (last) {
            out.complete(res);
            return;
        }
        SplitHttpResponse split = res.split();
        split.headers().handle((ResponseHeaders h, Throwable t) -> {
            if (t == null && !fallBack(h.status().code())) {
                out.complete(HttpResponse.of(h, split.body(), split.trailers()));
            } else {
                split.body().abort();
                next(ctx, req, i, out, t != null ? t.toString() : "HTTP " + h.status().code());
            }
            return null;
        });
    }

    private void next(ServiceRequestContext ctx, GatewayRequest req, int i, CompletableFuture<HttpResponse> out, String why) {
        log.info("fallback {}: backend {} failed before the first byte ({}); trying {}", name, backends.get(i).name(), why, backends.get(i + 1).name());
        ctx.eventLoop().execute(() -> attempt(ctx, req, i + 1, out));
    }
}
