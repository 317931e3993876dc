package dev.sluice.engine.sampling;

/** A sampling parameter is out of range; {@link #field()} names it (as the OpenAI API spells it, e.g. {@code top_p}). */
public class InvalidSamplingParamsException extends IllegalArgumentException {
    private final String field;

    public InvalidSamplingParamsException(String field, String message) {
        super(field + ": " + message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
