package dev.sluice.server.store;

/** The store cannot be opened, migrated, read or written. */
public class StoreException extends RuntimeException {
    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
