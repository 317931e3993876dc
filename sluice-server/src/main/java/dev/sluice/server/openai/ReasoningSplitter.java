package dev.sluice.server.openai;

/**
 * Splits DeepSeek-R1-style output into {@code reasoning_content} (inside
 * {@code <think>...</think>}) and {@code content}, as DeepSeek's API returns it, incrementally
 * so that it works on streams: text that could be the start of a tag is held back until it is
 * decided.
 *
 * <p>R1 templates end the generation prompt with {@code <think>\n}, so the output starts inside
 * the reasoning; construct with {@code startsInReasoning = true} then. Otherwise a leading
 * {@code <think>} in the output opens it. Not thread-safe: one per choice.
 */
public final class ReasoningSplitter {
    static final String OPEN = "<think>";
    static final String CLOSE = "</think>";

    /** Text to append to each field; either may be empty. */
    public record Delta(String reasoning, String content) {
        public boolean isEmpty() { return reasoning.isEmpty() && content.isEmpty(); }
    }

    private enum State { START, REASONING, CONTENT }

    /** Where the output starts, judged from the end of the rendered prompt. */
    public enum Start {
        /** the prompt ends with {@code <think>}: the output is reasoning until {@code </think>} */
        IN_REASONING,
        /** the prompt ends with {@code </think>} (reasoning skipped): the output is content, leading newlines dropped */
        AFTER_REASONING,
        /** the output may open with {@code <think>} */
        DETECT
    }

    private State state;
    private boolean atSegmentStart = true;
    private final StringBuilder pending = new StringBuilder();

    public ReasoningSplitter(boolean startsInReasoning) {
        this(startsInReasoning ? Start.IN_REASONING : Start.DETECT);
    }

    public ReasoningSplitter(Start start) {
        this.state = switch (start) {
            case IN_REASONING -> State.REASONING;
            case AFTER_REASONING -> State.CONTENT;
            case DETECT -> State.START;
        };
    }

    public Delta push(String text) {
        pending.append(text);
        return drain(false);
    }

    /** Releases everything held back, at the end of the output. */
    public Delta flush() {
        return drain(true);
    }

    private Delta drain(boolean end) {
        StringBuilder reasoning = new StringBuilder(), content = new StringBuilder();
        while (true) {
            if (state == State.START) {
                int i = 0;
                while (i < pending.length() && Character.isWhitespace(pending.charAt(i))) i++;
                String rest = pending.substring(i);
                if (rest.startsWith(OPEN)) {
                    pending.delete(0, i + OPEN.length());
                    state = State.REASONING;
                    atSegmentStart = true;
                    continue;
                }
                if (!end && OPEN.startsWith(rest)) break; // undecided
                state = State.CONTENT;
                atSegmentStart = false; // no reasoning: the content is passed through untouched
                continue;
            }
            if (atSegmentStart) {
                // drop the newlines that the template and the model put around the tags
                int i = 0;
                while (i < pending.length() && (pending.charAt(i) == '\n' || pending.charAt(i) == '\r' || (state == State.CONTENT && pending.charAt(i) == ' '))) i++;
                pending.delete(0, i);
                if (pending.isEmpty() && !end) break;
                atSegmentStart = false;
            }
            if (state == State.REASONING) {
                int close = pending.indexOf(CLOSE);
                if (close >= 0) {
                    reasoning.append(pending, 0, close);
                    pending.delete(0, close + CLOSE.length());
                    state = State.CONTENT;
                    atSegmentStart = true;
                    trimTrailingNewlines(reasoning);
                    continue;
                }
                int keep = end ? 0 : heldPrefix(pending, CLOSE);
                // newlines just before the closing tag are dropped, so hold them until decided
                while (!end && keep < pending.length() && pending.charAt(pending.length() - keep - 1) == '\n') keep++;
                reasoning.append(pending, 0, pending.length() - keep);
                pending.delete(0, pending.length() - keep);
                if (end) trimTrailingNewlines(reasoning);
                break;
            }
            content.append(pending);
            pending.setLength(0);
            break;
        }
        return new Delta(reasoning.toString(), content.toString());
    }

    private static void trimTrailingNewlines(StringBuilder sb) {
        while (!sb.isEmpty() && sb.charAt(sb.length() - 1) == '\n') sb.setLength(sb.length() - 1);
    }

    /** Length of the longest suffix of {@code s} that is a proper prefix of {@code tag}. */
    static int heldPrefix(CharSequence s, String tag) {
        for (int k = Math.min(tag.length() - 1, s.length()); k > 0; k--) {
            boolean match = true;
            for (int j = 0; j < k; j++) {
                if (s.charAt(s.length() - k + j) != tag.charAt(j)) {
                    match = false;
                    break;
                }
            }
            if (match) return k;
        }
        return 0;
    }
}
