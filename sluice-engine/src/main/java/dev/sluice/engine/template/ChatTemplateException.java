package dev.sluice.engine.template;

/**
 * A chat template could not be compiled or rendered: bad template syntax, a
 * {@code raise_exception(...)} call from the template itself (for example "Conversation roles must
 * alternate user/assistant/..."), or an expression that fails (an unknown filter, a method called on
 * a value that lacks it). {@link #raisedByTemplate()} tells a request error that the template
 * rejected (the caller's messages are at fault: map to HTTP 400) from a broken template.
 */
public class ChatTemplateException extends RuntimeException {
    private final boolean raisedByTemplate;

    public ChatTemplateException(String message, boolean raisedByTemplate, Throwable cause) {
        super(message, cause);
        this.raisedByTemplate = raisedByTemplate;
    }

    public ChatTemplateException(String message) {
        this(message, false, null);
    }

    /** True when the template itself called {@code raise_exception}; the message is then the template's, verbatim. */
    public boolean raisedByTemplate() {
        return raisedByTemplate;
    }
}
