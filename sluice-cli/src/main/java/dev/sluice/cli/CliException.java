package dev.sluice.cli;

/**
 * A command failed for a reason the user can fix (a missing file, a bad combination of
 * options). {@link Main} prints the message alone, with no stack trace, and exits with 1.
 */
public class CliException extends RuntimeException {
    public CliException(String message) {
        super(message);
    }

    public CliException(String message, Throwable cause) {
        super(message, cause);
    }
}
