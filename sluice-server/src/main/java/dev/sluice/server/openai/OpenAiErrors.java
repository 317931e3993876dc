package dev.sluice.server.openai;

import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.ContentTooLargeException;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpHeaderNames;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import com.linecorp.armeria.common.ResponseHeaders;
import com.linecorp.armeria.server.RequestTimeoutException;
import com.linecorp.armeria.server.ServerErrorHandler;
import com.linecorp.armeria.server.ServiceConfig;
import com.linecorp.armeria.server.ServiceRequestContext;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * The server-wide error mapping: every failure Armeria itself produces (a body over the size
 * limit, oversized headers, an unknown route, a request timeout, a protocol violation) gets the
 * same OpenAI error body as the routes' own failures ({@code {"error":{"message","type","param","code"}}}).
 * Install with {@code ServerBuilder.errorHandler(new OpenAiErrors())}.
 */
public final class OpenAiErrors implements ServerErrorHandler {
    /** 503: the server is shutting down and takes no new generations; in-flight ones may be cut short. */
    public static OpenAiException shuttingDown() {
        return new OpenAiException(HttpStatus.SERVICE_UNAVAILABLE, "server_error", null, "server_shutdown",
                "The server is shutting down; retry on another replica or later");
    }

    /** 504: the request's deadline (its own, or the server's request timeout) passed before it finished. */
    public static OpenAiException deadlineExceeded() {
        return new OpenAiException(HttpStatus.GATEWAY_TIMEOUT, "timeout_error", null, "deadline_exceeded",
                "The request's deadline passed before the generation finished; the generation was cancelled");
    }

    /** 413: the body is over the server's limit. */
    public static OpenAiException tooLarge(long limit) {
        return new OpenAiException(HttpStatus.REQUEST_ENTITY_TOO_LARGE, "invalid_request_error", null, "request_too_large",
                "The request body is larger than this server's limit" + (limit > 0 ? " of " + limit + " bytes" : ""));
    }

    /** Maps an exception thrown while reading or serving a request to its OpenAI error. */
    public static OpenAiException fromThrowable(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) t = t.getCause();
        return switch (t) {
            case OpenAiException e -> e;
            case ContentTooLargeException e -> tooLarge(e.maxContentLength());
            case RequestTimeoutException e -> deadlineExceeded();
            default -> OpenAiException.internal(t);
        };
    }

    /** The OpenAI error for a bare HTTP status rendered by the server (no exception of ours behind it). */
    static OpenAiException forStatus(HttpStatus status, String description) {
        int c = status.code();
        String type = c >= 500 ? "server_error" : "invalid_request_error";
        String code = switch (c) {
            case 404 -> "not_found";
            case 405 -> "method_not_allowed";
            case 408, 504 -> "timeout";
            case 413 -> "request_too_large";
            case 431 -> "headers_too_large";
            case 503 -> "overloaded";
            default -> null;
        };
        String message = switch (c) {
            case 404 -> "Unknown route";
            case 413 -> "The request body is larger than this server's limit";
            case 431 -> "The request headers are larger than this server's limit";
            default -> status.reasonPhrase();
        };
        if (description != null && !description.isBlank()) message += ": " + description;
        return new OpenAiException(status, type, null, code, message);
    }

    @Override
    public HttpResponse onServiceException(ServiceRequestContext ctx, Throwable cause) {
        OpenAiException e = fromThrowable(cause);
        if (e.status() == HttpStatus.INTERNAL_SERVER_ERROR && !(cause instanceof OpenAiException)) return null; // Armeria's default (e.g. HttpStatusException)
        return OpenAiService.error(e);
    }

    @Override
    public AggregatedHttpResponse renderStatus(ServiceRequestContext ctx, ServiceConfig config, RequestHeaders headers,
                                               HttpStatus status, String description, Throwable cause) {
        return render(cause instanceof ContentTooLargeException c ? tooLarge(c.maxContentLength()) : forStatus(status, description));
    }

    @Override
    public AggregatedHttpResponse onProtocolViolation(ServiceConfig config, RequestHeaders headers, HttpStatus status,
                                                      String description, Throwable cause) {
        return render(forStatus(status, description));
    }

    private static AggregatedHttpResponse render(OpenAiException e) {
        var h = ResponseHeaders.builder(e.status()).contentType(MediaType.JSON_UTF_8);
        if (e.status() == HttpStatus.SERVICE_UNAVAILABLE || e.status() == HttpStatus.TOO_MANY_REQUESTS) h.add(HttpHeaderNames.RETRY_AFTER, "1");
        return AggregatedHttpResponse.of(h.build(), HttpData.ofUtf8(OpenAiService.errorJson(e)));
    }
}
