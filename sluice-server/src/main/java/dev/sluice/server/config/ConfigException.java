package dev.sluice.server.config;

/** The config file cannot be read, or a value in it is invalid; the message names the key and the value. */
public class ConfigException extends RuntimeException {
    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }

    public ConfigException(String message) {
        super(message);
    }
}
