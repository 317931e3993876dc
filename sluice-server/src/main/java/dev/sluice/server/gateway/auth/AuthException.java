package dev.sluice.server.gateway.auth;

import com.linecorp.armeria.common.HttpStatus;
import dev.sluice.server.openai.OpenAiException;

/**
 * An authentication or authorization failure, rendered as OpenAI renders them: 401 with
 * {@code code: invalid_api_key} (API keys, and requests without a credential) or
 * {@code invalid_token} (JWTs), type {@code invalid_request_error} and a
 * {@code www-authenticate: Bearer} header; 403 {@code permission_denied} for a valid credential
 * that may not use the route. Messages never contain the presented credential.
 */
public final class AuthException extends OpenAiException {
    private AuthException(HttpStatus status, String code, String message) {
        super(status, "invalid_request_error", null, code, message);
        if (status == HttpStatus.UNAUTHORIZED) header("www-authenticate", "Bearer realm=\"sluice\"");
    }

    /** 401: no credential at all. */
    public static AuthException missing() {
        return new AuthException(HttpStatus.UNAUTHORIZED, "invalid_api_key",
                "You didn't provide an API key. Send it in the Authorization header as 'Bearer sk-sluice-...' (or a JWT).");
    }

    /** 401: a bad, unknown, revoked or expired API key (or an unrecognised credential). */
    public static AuthException invalidKey(String why) {
        return new AuthException(HttpStatus.UNAUTHORIZED, "invalid_api_key", "Incorrect API key provided: " + why + ".");
    }

    /** 401: a JWT that fails verification. */
    public static AuthException invalidToken(String why) {
        return new AuthException(HttpStatus.UNAUTHORIZED, "invalid_token", "Invalid bearer token: " + why + ".");
    }

    /** 403: authenticated, but not allowed here. */
    public static AuthException forbidden(String why) {
        return new AuthException(HttpStatus.FORBIDDEN, "permission_denied", why);
    }
}
