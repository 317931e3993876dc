package dev.sluice.server.gateway;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Splits a server-sent-events byte stream into the {@code data} payloads of its events, as bytes
 * arrive in arbitrary pieces. An event ends at a blank line ({@code \n\n} or {@code \r\n\r\n});
 * its {@code data:} lines are joined with {@code \n}; events without data (comments, bare
 * {@code event:} lines) yield nothing.
 *
 * <p>Design note: the buffer is bytes, split only at line feeds (never inside a UTF-8 sequence),
 * so a multi-byte character cut across two network reads decodes whole. Each byte is scanned
 * once: a push looks only at what it added (plus the two bytes before, for a blank line cut in
 * two), and completed events are cut off the front of the buffer without copying the rest into
 * a new array; lines are split by hand, no regular expression. This runs on the event loop for
 * every streamed chunk of every tapped response, so it must stay linear. Not thread-safe: one
 * stream, one thread at a time.
 *
 * <p>A parser made with {@code markedOnly} (the taps' status mode) passes on only the events whose
 * bytes hold {@code "usage"}, {@code "error"} or {@code [DONE]}; the other events with data (the
 * ordinary chunks) are only counted ({@link #takeOrdinary}), without a string made for them.
 */
public final class SseParser {
    private final boolean markedOnly;
    private int ordinary;
    private byte[] buf = new byte[256];
    private int len;
    /** Bytes before this index hold no event end, except that its last two may begin one (the "\n\r" of a "\n\r\n"). */
    private int scanned;

    public SseParser() {
        this(false);
    }

    public SseParser(boolean markedOnly) {
        this.markedOnly = markedOnly;
    }

    /** Ordinary events (see the class note) completed since the last call; always 0 unless {@code markedOnly}. */
    public int takeOrdinary() {
        int n = ordinary;
        ordinary = 0;
        return n;
    }

    /** Adds {@code bytes}; returns the data of each event they complete, in order. */
    public List<String> push(byte[] bytes) {
        if (len == 0) {
            // nothing pending (the usual case: whole events per frame): parse the frame where it is, keep only its rest
            List<String> out = new ArrayList<>(0);
            int rest = scan(bytes, bytes.length, 0, false, out);
            if (rest < bytes.length) append(bytes, rest, bytes.length - rest);
            scanned = len;
            return out;
        }
        append(bytes, 0, bytes.length);
        return drain(false);
    }

    private void append(byte[] bytes, int from, int n) {
        if (len + n > buf.length) buf = Arrays.copyOf(buf, Math.max(len + n, buf.length * 2));
        System.arraycopy(bytes, from, buf, len, n);
        len += n;
    }

    /** Ends the stream: an unterminated last event counts as ended. */
    public List<String> finish() {
        return drain(true);
    }

    private List<String> drain(boolean atEnd) {
        List<String> out = new ArrayList<>(0);
        int start = scan(buf, len, Math.max(0, scanned - 2), atEnd, out);
        if (start > 0) {
            System.arraycopy(buf, start, buf, 0, len - start);
            len -= start;
        }
        scanned = len;
        return out;
    }

    /** Passes the events that end in {@code b[0, n)} (looking for ends from {@code from}) to {@link #event}; returns where the rest starts. */
    private int scan(byte[] b, int n, int from, boolean atEnd, List<String> out) {
        int start = 0;
        for (int i = from; i < n; i++) {
            if (b[i] != '\n') continue;
            // a blank line: "\n\n" or "\n\r\n"
            int j = i + 1;
            if (j < n && b[j] == '\r') j++;
            if (j < n && b[j] == '\n') {
                event(b, start, i, out);
                start = j + 1;
                i = j;
            }
        }
        if (atEnd && start < n) {
            event(b, start, n, out);
            start = n;
        }
        return start;
    }

    /** The data of the event in {@code b[from, to)}, if it has any, added to {@code out} (or counted: see the class note). */
    private void event(byte[] b, int from, int to, List<String> out) {
        if (markedOnly && !marked(b, from, to)) {
            if (hasData(b, from, to)) ordinary++;
            return;
        }
        data(b, from, to, out);
    }

    /**
     * Whether the event in {@code b[from, to)} is an ordinary chunk: it has a {@code data:} line and its bytes
     * hold none of {@code "usage"}, {@code "error"} and {@code [DONE]}, so a relay can pass it on undecoded.
     */
    public static boolean ordinary(byte[] b, int from, int to) {
        return !marked(b, from, to) && hasData(b, from, to);
    }

    private static boolean marked(byte[] b, int from, int to) {
        return Bytes.contains(b, Bytes.USAGE, from, to) || Bytes.contains(b, Bytes.ERROR, from, to) || Bytes.contains(b, Bytes.DONE, from, to);
    }

    private static boolean hasData(byte[] b, int from, int to) {
        for (int line = from; line < to; ) {
            int end = line;
            while (end < to && b[end] != '\n') end++;
            int stop = end > line && b[end - 1] == '\r' ? end - 1 : end;
            if (startsWithData(b, line, stop)) return true;
            line = end + 1;
        }
        return false;
    }

    private static void data(byte[] b, int from, int to, List<String> out) {
        StringBuilder data = null;
        int line = from;
        while (line < to) {
            int end = line;
            while (end < to && b[end] != '\n') end++;
            int stop = end > line && b[end - 1] == '\r' ? end - 1 : end;
            if (startsWithData(b, line, stop)) {
                int v = line + 5;
                if (v < stop && b[v] == ' ') v++;
                if (data == null) data = new StringBuilder(stop - v);
                else data.append('\n');
                data.append(new String(b, v, stop - v, StandardCharsets.UTF_8));
            }
            line = end + 1;
        }
        if (data != null) out.add(data.toString().trim());
    }

    private static boolean startsWithData(byte[] b, int from, int to) {
        return to - from >= 5 && b[from] == 'd' && b[from + 1] == 'a' && b[from + 2] == 't' && b[from + 3] == 'a' && b[from + 4] == ':';
    }
}
