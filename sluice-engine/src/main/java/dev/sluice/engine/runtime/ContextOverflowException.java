package dev.sluice.engine.runtime;

/**
 * A forward pass would write past the end of the KV cache: the prompt plus generated tokens
 * exceed the context length the cache was sized for.
 */
public class ContextOverflowException extends RuntimeException {
    private final int requested, capacity;

    public ContextOverflowException(int requested, int capacity) {
        super("context length exceeded: " + requested + " positions requested, the KV cache holds " + capacity);
        this.requested = requested;
        this.capacity = capacity;
    }

    public int requested() {
        return requested;
    }

    public int capacity() {
        return capacity;
    }
}
