package dev.sluice.server.grpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.linecorp.armeria.common.HttpStatus;
import dev.sluice.server.grpc.proto.Error;
import dev.sluice.server.openai.OpenAiErrors;
import dev.sluice.server.openai.OpenAiException;
import dev.sluice.server.openai.OpenAiService;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

import java.nio.charset.StandardCharsets;

/**
 * The one mapping between OpenAI errors and gRPC statuses. The worker sends the OpenAI error body
 * in the {@value #TRAILER} trailer as well, so the gateway can give its client exactly the error
 * the HTTP API would have (status, type, param, code, message); a status without it (a transport
 * failure, a refused handshake) is mapped by its code.
 */
public final class GrpcErrors {
    /** Binary trailer holding {@code {"status": <http status>, "error": {...}}} as UTF-8 JSON. */
    public static final String TRAILER = "sluice-error-bin";
    static final Metadata.Key<byte[]> KEY = Metadata.Key.of(TRAILER, Metadata.BINARY_BYTE_MARSHALLER);

    private GrpcErrors() {}

    /** The gRPC code for an HTTP status of the OpenAI API. */
    public static Status.Code code(HttpStatus s) {
        return switch (s.code()) {
            case 400, 413, 422 -> Status.Code.INVALID_ARGUMENT;
            case 401 -> Status.Code.UNAUTHENTICATED;
            case 403 -> Status.Code.PERMISSION_DENIED;
            case 404 -> Status.Code.NOT_FOUND;
            case 408, 504 -> Status.Code.DEADLINE_EXCEEDED;
            case 409 -> Status.Code.ALREADY_EXISTS;
            case 429 -> Status.Code.RESOURCE_EXHAUSTED;
            case 499 -> Status.Code.CANCELLED;
            case 501 -> Status.Code.UNIMPLEMENTED;
            case 503 -> Status.Code.UNAVAILABLE;
            default -> Status.Code.INTERNAL;
        };
    }

    /** {@code e} as a status exception carrying the OpenAI error in its trailers. */
    public static StatusRuntimeException toStatus(OpenAiException e) {
        Metadata trailers = new Metadata();
        String body = "{\"status\":" + e.status().code() + "," + OpenAiService.errorJson(e).substring(1);
        trailers.put(KEY, body.getBytes(StandardCharsets.UTF_8));
        return Status.fromCode(code(e.status())).withDescription(e.getMessage()).asRuntimeException(trailers);
    }

    /** {@code e} as a {@code sluice.v1.Error} (one request's failure on a multiplexed stream). */
    public static Error toProto(OpenAiException e) {
        Error.Builder b = Error.newBuilder().setStatus(code(e.status()).name()).setHttpStatus(e.status().code())
                .setType(e.type()).setMessage(e.getMessage() == null ? "" : e.getMessage());
        if (e.param() != null) b.setParam(e.param());
        if (e.code() != null) b.setCode(e.code());
        return b.build();
    }

    /** The OpenAI error a gateway client gets for a failed call to worker {@code backend}. */
    public static OpenAiException fromStatus(Throwable t, String backend) {
        Status s = Status.fromThrowable(t);
        Metadata trailers = Status.trailersFromThrowable(t);
        byte[] raw = trailers == null ? null : trailers.get(KEY);
        if (raw != null) {
            try {
                JsonNode n = GrpcMessages.JSON.readTree(raw);
                JsonNode err = n.path("error");
                return new OpenAiException(HttpStatus.valueOf(n.path("status").asInt(500)), err.path("type").asText("server_error"),
                        text(err.get("param")), text(err.get("code")), err.path("message").asText(""));
            } catch (java.io.IOException | RuntimeException ignored) {
                // fall through to the code mapping
            }
        }
        String why = s.getDescription() != null ? s.getDescription() : s.getCause() != null ? s.getCause().toString() : s.getCode().name();
        return switch (s.getCode()) {
            case DEADLINE_EXCEEDED -> OpenAiErrors.deadlineExceeded();
            case UNAVAILABLE -> new OpenAiException(HttpStatus.SERVICE_UNAVAILABLE, "server_error", null, "backend_unavailable",
                    "Backend '" + backend + "' is unavailable: " + why);
            case RESOURCE_EXHAUSTED -> OpenAiException.overloaded("Backend '" + backend + "' is overloaded: " + why);
            case INVALID_ARGUMENT -> OpenAiException.invalid(null, why);
            case NOT_FOUND -> new OpenAiException(HttpStatus.NOT_FOUND, "invalid_request_error", "model", "model_not_found", why);
            case UNAUTHENTICATED, PERMISSION_DENIED -> new OpenAiException(HttpStatus.BAD_GATEWAY, "server_error", null, "backend_refused",
                    "Backend '" + backend + "' refused the gateway (" + s.getCode() + "): " + why);
            default -> new OpenAiException(HttpStatus.BAD_GATEWAY, "server_error", null, "backend_error",
                    "Backend '" + backend + "' failed (" + s.getCode() + "): " + why);
        };
    }

    /** A {@code sluice.v1.Error} back as the OpenAI error it came from. */
    public static OpenAiException fromProto(Error e) {
        return new OpenAiException(HttpStatus.valueOf(e.getHttpStatus() == 0 ? 500 : e.getHttpStatus()), e.getType().isEmpty() ? "server_error" : e.getType(),
                e.getParam().isEmpty() ? null : e.getParam(), e.getCode().isEmpty() ? null : e.getCode(), e.getMessage());
    }

    private static String text(JsonNode n) {
        return n == null || n.isNull() ? null : n.asText();
    }
}
