package dev.sluice.cli.hub;

/**
 * A hub download failed for a reason the user can act on: not found (404), access denied
 * (401/403), checksum mismatch, a malformed listing, or a network failure after all retries.
 * The message names the repo and file; it never contains the access token.
 */
public class HubException extends RuntimeException {
    private final int status;

    public HubException(String message) {
        this(message, 0, null);
    }

    public HubException(String message, int status, Throwable cause) {
        super(message, cause);
        this.status = status;
    }

    /** The HTTP status that caused this, or 0 when none applies (checksum, I/O, parse). */
    public int status() {
        return status;
    }
}
