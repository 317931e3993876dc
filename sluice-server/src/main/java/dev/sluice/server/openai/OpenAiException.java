package dev.sluice.server.openai;

import com.linecorp.armeria.common.HttpStatus;

/**
 * A request failure that maps to an OpenAI error body
 * ({@code {"error":{"message","type","param","code"}}}) and an HTTP status, in one place.
 */
public class OpenAiException extends RuntimeException {
    private final HttpStatus status;
    private final String type;
    private final String param;
    private final String code;
    private final java.util.Map<String, String> headers = new java.util.LinkedHashMap<>();

    public OpenAiException(HttpStatus status, String type, String param, String code, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 400: a field has a bad value; {@code param} names it. */
    public static OpenAiException invalid(String param, String message) {
        return new OpenAiException(HttpStatus.BAD_REQUEST, "invalid_request_error", param, null, message);
    }

    /** 404: no such model. */
    public static OpenAiException modelNotFound(String model) {
        return new OpenAiException(HttpStatus.NOT_FOUND, "invalid_request_error", "model", "model_not_found",
                "The model '" + model + "' does not exist");
    }

    /** 500: an unexpected failure; the message names only the exception's class, never its details. */
    public static OpenAiException internal(Throwable cause) {
        return new OpenAiException(HttpStatus.INTERNAL_SERVER_ERROR, "server_error", null, null, "Internal error: " + cause.getClass().getSimpleName());
    }

    /** 503: the server cannot take the request now; the client should retry later. */
    public static OpenAiException overloaded(String message) {
        return new OpenAiException(HttpStatus.SERVICE_UNAVAILABLE, "server_error", null, "overloaded", message);
    }

    /**
     * Adds a response header (lower-case name), e.g. {@code retry-after} or OpenAI's
     * {@code x-ratelimit-*}; a given {@code retry-after} replaces the default of 1 s. Returns this.
     */
    public OpenAiException header(String name, String value) {
        headers.put(name.toLowerCase(java.util.Locale.ROOT), value);
        return this;
    }

    /** Extra response headers, lower-case names. */
    public java.util.Map<String, String> headers() { return java.util.Collections.unmodifiableMap(headers); }

    public HttpStatus status() { return status; }
    public String type() { return type; }
    public String param() { return param; }
    public String code() { return code; }
}
