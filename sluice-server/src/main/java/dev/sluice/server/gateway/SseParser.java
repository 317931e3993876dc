package dev.sluice.server.gateway;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits a server-sent-events byte stream into the {@code data} payloads of its events, as bytes
 * arrive in arbitrary pieces. An event ends at a blank line ({@code \n\n} or {@code \r\n\r\n});
 * its {@code data:} lines are joined with {@code \n}; events without data (comments, bare
 * {@code event:} lines) yield nothing.
 *
 * <p>Design note: the buffer is bytes, split only at line feeds (never inside a UTF-8 sequence),
 * so a multi-byte character cut across two network reads decodes whole. Not thread-safe: one
 * stream, one thread at a time.
 */
public final class SseParser {
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    /** Adds {@code bytes}; returns the data of each event they complete, in order. */
    public List<String> push(byte[] bytes) {
        pending.write(bytes, 0, bytes.length);
        return drain(false);
    }

    /** Ends the stream: an unterminated last event counts as ended. */
    public List<String> finish() {
        return drain(true);
    }

    private List<String> drain(boolean atEnd) {
        List<String> out = new ArrayList<>(1);
        byte[] b = pending.toByteArray();
        int start = 0;
        for (int i = 0; i < b.length; i++) {
            if (b[i] != '\n') continue;
            // a blank line: "\n\n" or "\n\r\n"
            int j = i + 1;
            if (j < b.length && b[j] == '\r') j++;
            if (j < b.length && b[j] == '\n') {
                event(new String(b, start, i - start, StandardCharsets.UTF_8), out);
                start = j + 1;
                i = j;
            }
        }
        if (atEnd && start < b.length) {
            event(new String(b, start, b.length - start, StandardCharsets.UTF_8), out);
            start = b.length;
        }
        if (start > 0) {
            pending.reset();
            pending.write(b, start, b.length - start);
        }
        return out;
    }

    private static void event(String event, List<String> out) {
        StringBuilder data = null;
        for (String line : event.split("\r?\n")) {
            if (!line.startsWith("data:")) continue;
            if (data == null) data = new StringBuilder();
            else data.append('\n');
            data.append(line, line.startsWith("data: ") ? 6 : 5, line.length());
        }
        if (data != null) out.add(data.toString().trim());
    }
}
