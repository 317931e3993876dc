package dev.sluice.server.gateway.auth;

import com.linecorp.armeria.common.HttpHeaderNames;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.RequestHeaders;
import com.linecorp.armeria.server.DecoratingHttpServiceFunction;
import com.linecorp.armeria.server.HttpService;
import com.linecorp.armeria.server.ServiceRequestContext;
import dev.sluice.server.gateway.Principal;
import dev.sluice.server.openai.OpenAiErrors;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletableFuture;

/**
 * Deny by default: the server-wide decorator ({@code ServerBuilder.decorator}) that authenticates
 * every request but {@code GET /health/live} and puts its {@link Principal} on the context
 * ({@link Principal#ATTR}) before any route runs. Paths under {@code /admin/} need an operator
 * admin ({@link AdminRoutes#operator}), except the tenant-scoped ones
 * ({@link AdminRoutes#TENANT_SCOPED}), which any admin may reach and whose handlers scope to the
 * caller's tenant; {@code /metrics} needs an operator admin. A credential that is valid but not
 * allowed gets 403, a missing or bad one 401.
 *
 * <p>Design note: a cached API key or the bootstrap admin token is decided on the event loop; a
 * store lookup or a JWT (which may fetch the JWKS) runs on the context's blocking executor and the
 * route is then served back on the event loop. The request body is not read until the caller is
 * known. Credentials never reach a log line or an error message: only a key's public prefix is
 * logged.
 */
public final class AuthDecorator implements DecoratingHttpServiceFunction {
    private static final Logger log = LoggerFactory.getLogger(AuthDecorator.class);
    /** The only route served without a credential. */
    public static final String OPEN_PATH = "/health/live";

    private final Authenticator auth;

    public AuthDecorator(Authenticator auth) {
        this.auth = auth;
    }

    @Override
    public HttpResponse serve(HttpService delegate, ServiceRequestContext ctx, HttpRequest req) throws Exception {
        String path = normalize(ctx.path());
        if (path.equals(OPEN_PATH)) return delegate.serve(ctx, req);
        if (!auth.enforcing()) {
            auth.recheckCredentials(ctx.blockingTaskExecutor());
            ctx.setAttr(Principal.ATTR, Principal.anonymous());
            return delegate.serve(ctx, req);
        }
        String token;
        Principal fast;
        try {
            token = bearer(req.headers());
            fast = auth.fast(token);
        } catch (OpenAiException e) {
            return refused(ctx, e);
        }
        if (fast != null) return admit(delegate, ctx, req, path, fast);
        CompletableFuture<HttpResponse> f = CompletableFuture.supplyAsync(() -> auth.authenticate(token), ctx.blockingTaskExecutor())
                .handleAsync((p, t) -> {
                    if (t != null) return refused(ctx, OpenAiErrors.fromThrowable(t));
                    try {
                        return admit(delegate, ctx, req, path, p);
                    } catch (Exception e) {
                        return refused(ctx, OpenAiErrors.fromThrowable(e));
                    }
                }, ctx.eventLoop());
        return HttpResponse.of(f);
    }

    private HttpResponse admit(HttpService delegate, ServiceRequestContext ctx, HttpRequest req, String path, Principal p) throws Exception {
        if (isAdminPath(path)) {
            if (!p.admin()) return refused(ctx, AuthException.forbidden("This route needs an admin credential"));
            if (!AdminRoutes.operator(p) && !AdminRoutes.tenantScoped(path)) {
                return refused(ctx, AuthException.forbidden("This route needs an admin credential of the operator's tenant ('" + Principal.DEFAULT_TENANT + "')"));
            }
        }
        if (path.equals("/metrics") && !AdminRoutes.operator(p)) {
            return refused(ctx, AuthException.forbidden("/metrics needs an admin credential of the operator's tenant"));
        }
        ctx.setAttr(Principal.ATTR, p);
        return delegate.serve(ctx, req);
    }

    private static HttpResponse refused(ServiceRequestContext ctx, OpenAiException e) {
        if (e.status().code() >= 500) log.warn("auth: {} {}: {}", ctx.method(), ctx.path(), e.getMessage());
        else log.debug("auth: refused {} {}: {} {}", ctx.method(), ctx.path(), e.status().code(), e.code());
        return OpenAiService.error(e);
    }

    /** True for the admin API's paths. */
    public static boolean isAdminPath(String path) {
        return path.equals("/admin") || path.startsWith("/admin/");
    }

    /** The bearer token of {@code headers}; throws 401 when there is none or it is not a bearer. */
    static String bearer(RequestHeaders headers) {
        String h = headers.get(HttpHeaderNames.AUTHORIZATION);
        if (h == null || h.isBlank()) throw AuthException.missing();
        h = h.strip();
        if (h.length() < 7 || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw AuthException.invalidKey("the Authorization header must be 'Bearer <key>'");
        }
        String token = h.substring(7).strip();
        if (token.isEmpty()) throw AuthException.missing();
        return token;
    }

    /** Collapses repeated slashes so that {@code //admin} is treated as {@code /admin}. */
    private static String normalize(String path) {
        return path.contains("//") ? path.replaceAll("/{2,}", "/") : path;
    }
}
